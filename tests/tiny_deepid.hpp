#pragma once
// A DeepID with 2 channels per convolution that fits 55x47x3 inputs (pool_3 is 5x4x2, conv_4
// gives 4x3x2, 4 hidden units), random weights and biases: small files for the seed corpora
// and the bad-input corpus.

#include <prunedef/prunedef.hpp>

#include <random>
#include <string>
#include <utility>
#include <vector>

namespace prunedef_test {

inline prunedef::DeepID tiny_deepid(unsigned seed, std::size_t classes = 5) {
    using namespace prunedef;
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 0.3f);
    const std::vector<std::pair<std::string, std::vector<std::size_t>>> kernels = {
        {"conv_1", {4, 4, 3, 2}}, {"conv_2", {3, 3, 2, 2}}, {"conv_3", {3, 3, 2, 2}}, {"conv_4", {2, 2, 2, 2}},
        {"fc_1", {40, 4}},        {"fc_2", {24, 4}},        {"output", {4, classes}}};
    DeepID net = make_deepid();
    net.visit([&](auto& layer) {
        if constexpr (std::decay_t<decltype(layer)>::has_weights) {
            for (const auto& [name, dims] : kernels) {
                if (name != layer.name()) continue;
                WeightArray k{"kernel:0", dims, {}}, b{"bias:0", {dims.back()}, {}};
                k.values.resize(k.element_count());
                b.values.resize(b.element_count());
                for (auto& v : k.values) v = dist(rng);
                for (auto& v : b.values) v = dist(rng);
                layer.set_weights({k, b});
            }
        }
    });
    return net;
}

}  // namespace prunedef_test
