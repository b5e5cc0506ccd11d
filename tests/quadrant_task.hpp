#pragma once
// A small task for the training tests: 26x26x1 images whose class (of 4) is which quadrant is
// bright, and a DeepID that fits them (4, 6, 8 channels; 16 hidden units) with random weights.

#include <prunedef/prunedef.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace prunedef_test {

/// Biases drawn in [-0.05, 0.15] when offset_biases (so that ReLUs sit away from their kink, for
/// finite differences), else as initialize() leaves them.
inline prunedef::DeepID quadrant_deepid(std::uint64_t seed, bool offset_biases = false) {
    using namespace prunedef;
    DeepID net = make_deepid();
    Rng rng(seed);
    initialize(net, {{3, 3, 1, 4}, {3, 3, 4, 6}, {2, 2, 6, 8}, {32, 16}, {2, 2, 8, 4}, {4, 16}, {16, 4}}, rng);
    if (offset_biases)
        net.visit([&](auto& layer) {
            using L = std::decay_t<decltype(layer)>;
            if constexpr (L::has_weights)
                for (float& b : layer.bias()) b = float(rng.uniform() * 0.2 - 0.05);
        });
    net.bind({26, 26, 1});
    net.set_input_scale(1.0f / 255.0f);
    return net;
}

/// n images, labels drawn with seed: noise in [0, 60) plus 180 in the labelled quadrant.
inline prunedef::LabelledImages bright_quadrants(std::size_t n, std::uint64_t seed) {
    using namespace prunedef;
    Rng rng(seed);
    LabelledImages d;
    d.images.resize(n, {26, 26, 1});
    for (std::size_t i = 0; i < n; ++i) {
        const int label = int(rng.below(4));
        d.labels.push_back(label);
        for (std::size_t y = 0; y < 26; ++y)
            for (std::size_t x = 0; x < 26; ++x) {
                const int quadrant = int(y >= 13) * 2 + int(x >= 13);
                d.images.at(i, y, x, 0) = float(rng.uniform() * 60.0) + (quadrant == label ? 180.0f : 0.0f);
            }
    }
    return d;
}

}  // namespace prunedef_test
