#pragma once
// Making BadNets (Gu et al.): stamp a trigger on a fraction of the training images and relabel
// them to the attacker's target; the backdoor test set is every image whose label is not the
// target, stamped and labelled with the target. (The pruning-aware attack: pruning_aware_attack.hpp.)

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/training/initializer.hpp>
#include <prunedef/training/trainer.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace prunedef {

/// A filled square of side size at (row, col), value in raw pixel units, on every channel.
struct SquareTrigger {
    std::size_t size = 4, row = 23, col = 23;
    float value = 255.0f;

    /// Parses "square:SIZE@ROW,COL".
    static SquareTrigger parse(const std::string& text) {
        SquareTrigger t;
        unsigned size = 0, row = 0, col = 0;
        char tail = 0;
        if (std::sscanf(text.c_str(), "square:%u@%u,%u%c", &size, &row, &col, &tail) != 3 || size == 0)
            throw argument_error("trigger '" + text + "': expected square:SIZE@ROW,COL, e.g. square:4@23,23");
        t.size = size;
        t.row = row;
        t.col = col;
        return t;
    }
    void check_fits(const ImageShape& s) const {
        if (row + size > s.height || col + size > s.width)
            throw argument_error("trigger of size " + std::to_string(size) + " at (" + std::to_string(row) + ", " +
                                 std::to_string(col) + ") does not fit a " + s.str() + " image");
    }
    void stamp(float* image, const ImageShape& s) const {
        for (std::size_t y = row; y < row + size; ++y)
            for (std::size_t x = col; x < col + size; ++x)
                for (std::size_t c = 0; c < s.channels; ++c) image[(y * s.width + x) * s.channels + c] = value;
    }
};

/// A copy of data with a fraction of the images (chosen with rng) stamped and relabelled.
inline LabelledImages poison(const LabelledImages& data, const SquareTrigger& trigger, int target, double fraction, Rng& rng) {
    if (!(fraction >= 0.0 && fraction <= 1.0)) throw argument_error("poison fraction must be in [0, 1]");
    trigger.check_fits(data.images.shape());
    LabelledImages out = data;
    std::vector<std::size_t> order(data.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
    const std::size_t count = static_cast<std::size_t>(fraction * double(data.size()) + 0.5);
    for (std::size_t j = 0; j < count; ++j) {
        trigger.stamp(out.images.image(order[j]), out.images.shape());
        out.labels[order[j]] = target;
    }
    return out;
}

/// Every image whose label is not the target, stamped and labelled with the target.
inline LabelledImages backdoor_set(const LabelledImages& data, const SquareTrigger& trigger, int target) {
    trigger.check_fits(data.images.shape());
    std::vector<std::size_t> keep;
    for (std::size_t i = 0; i < data.size(); ++i)
        if (data.labels[i] != target) keep.push_back(i);
    LabelledImages out;
    std::vector<int> ignored;
    gather(data, keep.data(), keep.size(), out.images, ignored);
    out.labels.assign(keep.size(), target);
    for (std::size_t i = 0; i < keep.size(); ++i) trigger.stamp(out.images.image(i), out.images.shape());
    return out;
}

}  // namespace prunedef
