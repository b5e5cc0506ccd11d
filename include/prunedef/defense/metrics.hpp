#pragma once
// Metrics of a classifier and of a GoodNet, computed from per-image predictions.
//
// Clean accuracy: images classified as their true label (GoodNet's "backdoor detected" counts as
// wrong). Attack success rate (ASR): poisoned images classified as their label, which in the
// challenge layout is the attacker's target. GoodNet detection rate: poisoned images given the
// extra class N; false-positive rate: clean images given N. All in percent.

#include <prunedef/core/percent.hpp>

#include <cstddef>
#include <vector>

namespace prunedef {

/// What a GoodNet does with a set of inputs, in counts.
struct GoodNetCounts {
    std::size_t images = 0;
    std::size_t matched = 0;   // output equals the label (clean: correct; poisoned: attack succeeded)
    std::size_t flagged = 0;   // output is N (backdoor detected)
    std::size_t other = 0;     // any other class

    double matched_percent() const { return percent(matched); }
    double flagged_percent() const { return percent(flagged); }
    double percent(std::size_t n) const { return percent_of(n, images); }
};

/// GoodNet's output for one input from the predictions of B and B'.
inline int goodnet_output(int b, int bprime, int classes) { return b == bprime ? b : classes; }

/// Counts a GoodNet's outputs against labels.
inline GoodNetCounts count_goodnet(const std::vector<int>& outputs, const std::vector<int>& labels, int classes) {
    GoodNetCounts c;
    c.images = outputs.size();
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        if (outputs[i] == classes) ++c.flagged;
        else if (outputs[i] == labels[i]) ++c.matched;
        else ++c.other;
    }
    return c;
}

}  // namespace prunedef
