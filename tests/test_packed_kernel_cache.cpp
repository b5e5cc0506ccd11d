// The packed-kernel cache of Conv2D layers: a kernel or bias changed by any means between calls
// (through a pointer kept from before, as the optimizers do, or a copied layer) is repacked
// before use, so a layer always computes with its current weights.

#include <doctest/doctest.h>

#include <prunedef/prunedef.hpp>

#include <random>
#include <vector>

using namespace prunedef;

namespace {

Conv2D<Relu> random_conv(std::mt19937& rng, std::size_t cin, std::size_t cout) {
    std::normal_distribution<float> normal;
    WeightArray k{"kernel:0", {3, 3, cin, cout}, {}}, b{"bias:0", {cout}, {}};
    k.values.resize(k.element_count());
    b.values.resize(cout);
    for (auto& v : k.values) v = normal(rng);
    for (auto& v : b.values) v = normal(rng);
    Conv2D<Relu> c("conv");
    c.set_weights({k, b});
    return c;
}

Tensor random_input(std::mt19937& rng, std::size_t batch, ImageShape shape) {
    std::normal_distribution<float> normal;
    Tensor t(batch, shape);
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = normal(rng);
    return t;
}

// The layer's output against the free kernel, which packs afresh on every call.
void check_layer_uses_current_weights(const Conv2D<Relu>& layer, const Tensor& in) {
    Tensor by_layer, by_kernel, pooled_by_layer, pooled_by_kernel;
    layer.forward(in, by_layer);
    conv2d<Relu>(in, layer.geometry(), layer.kernel().data(), layer.bias().data(), by_kernel);
    REQUIRE(by_layer.size() == by_kernel.size());
    CHECK(std::equal(by_layer.data(), by_layer.data() + by_layer.size(), by_kernel.data()));
    layer.forward_pooled(in, 2, 2, pooled_by_layer);
    conv2d_maxpool<Relu>(in, layer.geometry(), layer.kernel().data(), layer.bias().data(), 2, 2, pooled_by_kernel);
    REQUIRE(pooled_by_layer.size() == pooled_by_kernel.size());
    CHECK(std::equal(pooled_by_layer.data(), pooled_by_layer.data() + pooled_by_layer.size(),
                     pooled_by_kernel.data()));
}

}  // namespace

TEST_CASE("packed kernel cache: weights written through a kept pointer are used on the next call") {
    std::mt19937 rng(5);
    Conv2D<Relu> layer = random_conv(rng, 4, 20);
    const Tensor in = random_input(rng, 2, {11, 9, 4});
    check_layer_uses_current_weights(layer, in);  // packs and caches

    float* kernel = layer.kernel().data();  // kept, as an optimizer keeps its parameter pointers
    float* bias = layer.bias().data();
    Tensor before;
    layer.forward(in, before);
    kernel[7] += 1.0f;  // one weight, no accessor call in between
    check_layer_uses_current_weights(layer, in);
    Tensor after;
    layer.forward(in, after);
    CHECK_FALSE(std::equal(before.data(), before.data() + before.size(), after.data()));

    bias[19] = -100.0f;  // channel 19 now always 0 after the ReLU
    check_layer_uses_current_weights(layer, in);
    layer.forward(in, after);
    for (std::size_t p = 0; p < after.size() / 20; ++p) CHECK(after.data()[p * 20 + 19] == 0.0f);
}

TEST_CASE("packed kernel cache: pruning a channel and copying a layer") {
    std::mt19937 rng(6);
    Conv2D<Relu> layer = random_conv(rng, 3, 36);
    const Tensor in = random_input(rng, 1, {8, 12, 3});
    check_layer_uses_current_weights(layer, in);
    Conv2D<Relu> copy = layer;  // a copy packs on its own first call
    ChannelMask mask(36);
    mask.prune(4);
    zero_channels(copy, mask);
    check_layer_uses_current_weights(copy, in);
    check_layer_uses_current_weights(layer, in);  // the original keeps its weights
    Tensor pruned;
    copy.forward(in, pruned);
    for (std::size_t p = 0; p < pruned.size() / 36; ++p) CHECK(pruned.data()[p * 36 + 4] == 0.0f);
}

TEST_CASE("packed kernel cache: the same layer at another input width is packed for that width") {
    std::mt19937 rng(7);
    Conv2D<Relu> layer = random_conv(rng, 40, 60);  // over L1: packing depends on the row width
    check_layer_uses_current_weights(layer, random_input(rng, 1, {12, 10, 40}));
    check_layer_uses_current_weights(layer, random_input(rng, 1, {12, 30, 40}));
    check_layer_uses_current_weights(layer, random_input(rng, 1, {12, 10, 40}));
}
