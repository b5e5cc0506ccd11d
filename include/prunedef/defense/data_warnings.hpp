#pragma once
// data_warnings(): signs that the data sets given to a repair are not what they claim to be.
// Each is a warning, not an error (the run goes on): a person decides.
//
//  - low accuracy: B's validation accuracy is below T = min(3 c, c + (100 - c) / 4), where
//    c = 100 / classes is chance (10 classes: 30 %; 1283 classes: 0.23 %; 2 classes: 62.5 %):
//    a wrong input scale, wrong labels, or data that is not B's;
//  - single label: every image of the validation (or test) set, two or more, has one label: a
//    poisoned set passed as a clean one (today the sweep then prunes every channel);
//  - varying poisoned labels: a poisoned set's most common label is on fewer than half of its
//    images (two or more): a poisoned set's labels are the attacker's target, so this looks like
//    a clean set passed as --poisoned (an all-to-all attack's set would also do this);
//  - clean far below ASR: B's validation accuracy is below half of its attack success on a
//    poisoned set (and that ASR is at least 50 %): the clean and poisoned sets look swapped.
// None of them fires on the real CSAW networks with their samples or on the Fashion-MNIST BadNet
// (tests/cli_test.sh checks both).

#include <prunedef/core/percent.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace prunedef {

/// What data_warnings() looks at: B's figures at k = 0 and the labels of every set.
struct DataFacts {
    std::size_t classes = 0;
    double valid_accuracy = 0;                 // B's, percent
    const std::vector<int>* valid_labels = nullptr;
    const std::vector<int>* test_labels = nullptr;  // null: no test set
    struct Poisoned {
        std::string name;
        const std::vector<int>* labels = nullptr;
        double attack_success = 0;             // B's, percent
    };
    std::vector<Poisoned> poisoned;
};

namespace detail {

inline std::string warn_percent(double value) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed, 2);
    return std::string(buf, r.ptr);
}

/// The most common label and how many images have it (the smallest label on a tie).
inline std::pair<int, std::size_t> most_common_label(const std::vector<int>& labels) {
    std::map<int, std::size_t> counts;
    for (const int l : labels) ++counts[l];
    std::pair<int, std::size_t> best{0, 0};
    for (const auto& [label, n] : counts)
        if (n > best.second) best = {label, n};
    return best;
}

}  // namespace detail

/// The accuracy below which B's validation accuracy is implausibly low for `classes` classes.
inline double implausible_accuracy_below(std::size_t classes) {
    if (classes == 0) return 0;
    const double chance = 100.0 / double(classes);
    return std::min(3 * chance, chance + (100 - chance) / 4);
}

/// The warnings for a repair's data, one sentence each (no "warning:" prefix); empty when none.
inline std::vector<std::string> data_warnings(const DataFacts& f) {
    using detail::warn_percent;
    std::vector<std::string> out;
    const double low = implausible_accuracy_below(f.classes);
    if (f.classes > 0 && f.valid_accuracy < low)
        out.push_back("B's accuracy on the validation set is " + warn_percent(f.valid_accuracy) +
                      " %, implausibly low for " + std::to_string(f.classes) + " classes (chance " +
                      warn_percent(100.0 / double(f.classes)) + " %, warned below " + warn_percent(low) +
                      " %): a wrong --scale, wrong labels, or data that is not B's?");
    const auto single_label = [&](const std::vector<int>* labels, const char* set, const char* option,
                                  const char* note) {
        if (!labels || labels->size() < 2) return;
        if (std::all_of(labels->begin(), labels->end(), [&](int l) { return l == labels->front(); }))
            out.push_back(std::string("every image of the ") + set + " set has label " +
                          std::to_string(labels->front()) + ": a poisoned set passed as " + option + "?" + note);
    };
    single_label(f.valid_labels, "validation", "--valid", " (it decides how many channels are pruned)");
    single_label(f.test_labels, "test", "--test", "");
    for (const DataFacts::Poisoned& p : f.poisoned) {
        if (p.labels && p.labels->size() >= 2) {
            const auto [label, n] = detail::most_common_label(*p.labels);
            if (2 * n < p.labels->size())
                out.push_back("poisoned set '" + p.name + "': its most common label (" + std::to_string(label) +
                              ") is on only " + warn_percent(percent_of(n, p.labels->size())) +
                              " % of its images, while a poisoned set's labels are the attacker's target: a clean "
                              "set passed as --poisoned? (an all-to-all attack's set would also look like this)");
        }
        if (p.attack_success >= 50 && f.valid_accuracy < p.attack_success / 2)
            out.push_back("B's validation accuracy (" + warn_percent(f.valid_accuracy) +
                          " %) is far below its attack success on poisoned set '" + p.name + "' (" +
                          warn_percent(p.attack_success) + " %): are the clean and poisoned sets swapped?");
    }
    return out;
}

}  // namespace prunedef
