// The packed weights of Conv2D and Dense layers and their generation (layers/layer_base.hpp,
// kernels/packed_kernel_cache.hpp): packed when the weights are set; a write through the mutable
// accessors is seen by the next call; a write through a pointer kept from before is detected
// (packed_weights_current) and used after weights_changed(), which the optimizers call; copies and
// concurrent const callers get the current weights.

#include <doctest/doctest.h>

#include <prunedef/prunedef.hpp>

#include <algorithm>
#include <random>
#include <thread>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_packed_kernel_cache {

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

Dense<Linear> random_dense(std::mt19937& rng, std::size_t in, std::size_t out) {
    std::normal_distribution<float> normal;
    WeightArray k{"kernel:0", {in, out}, {}}, b{"bias:0", {out}, {}};
    k.values.resize(k.element_count());
    b.values.resize(out);
    for (auto& v : k.values) v = normal(rng);
    for (auto& v : b.values) v = normal(rng);
    Dense<Linear> d("dense");
    d.set_weights({k, b});
    return d;
}

Tensor random_input(std::mt19937& rng, std::size_t batch, ImageShape shape) {
    std::normal_distribution<float> normal;
    Tensor t(batch, shape);
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = normal(rng);
    return t;
}

bool same(const Tensor& a, const Tensor& b) {
    return a.size() == b.size() && std::equal(a.data(), a.data() + a.size(), b.data());
}

// The layer's output against the free kernel, which packs afresh on every call.
void check_layer_uses_current_weights(const Conv2D<Relu>& layer, const Tensor& in) {
    Tensor by_layer, by_kernel, pooled_by_layer, pooled_by_kernel;
    layer.forward(in, by_layer);
    conv2d<Relu>(in, layer.geometry(), layer.kernel().data(), layer.bias().data(), by_kernel);
    CHECK(same(by_layer, by_kernel));
    layer.forward_pooled(in, 2, 2, pooled_by_layer);
    conv2d_maxpool<Relu>(in, layer.geometry(), layer.kernel().data(), layer.bias().data(), 2, 2, pooled_by_kernel);
    CHECK(same(pooled_by_layer, pooled_by_kernel));
    CHECK(layer.packed_weights_current());
}

void check_layer_uses_current_weights(const Dense<Linear>& layer, const Tensor& in) {
    Tensor by_layer, by_kernel;
    layer.forward(in, by_layer);
    dense<Linear>(in, layer.kernel().data(), layer.bias().data(), layer.out_features(), by_kernel);
    CHECK(same(by_layer, by_kernel));
    CHECK(layer.packed_weights_current());
}

}  // namespace

TEST_CASE("packed kernel cache: set_weights packs at once, a mutable access is seen by the next call") {
    std::mt19937 rng(4);
    Conv2D<Relu> layer = random_conv(rng, 4, 20);
    CHECK(layer.packed_weights_current());  // packed by set_weights, before any call
    const Tensor in = random_input(rng, 2, {11, 9, 4});
    check_layer_uses_current_weights(layer, in);
    const std::uint64_t generation = layer.generation();
    Tensor before, after;
    layer.forward(in, before);
    layer.kernel()[7] += 1.0f;  // through the accessor: a new generation
    CHECK(layer.generation() > generation);
    CHECK_FALSE(layer.packed_weights_current());
    check_layer_uses_current_weights(layer, in);  // repacked by the call
    layer.forward(in, after);
    CHECK_FALSE(same(before, after));
    layer.bias()[19] = -100.0f;  // channel 19 now always 0 after the ReLU
    layer.forward(in, after);
    for (std::size_t p = 0; p < after.size() / 20; ++p) CHECK(after.data()[p * 20 + 19] == 0.0f);
}

TEST_CASE("packed kernel cache: a write through a kept pointer is detected, and used after weights_changed()") {
    std::mt19937 rng(5);
    Conv2D<Relu> layer = random_conv(rng, 4, 20);
    const Tensor in = random_input(rng, 2, {11, 9, 4});
    float* kernel = layer.kernel().data();  // kept, as an optimizer keeps its parameter pointers
    float* bias = layer.bias().data();
    Tensor before;
    layer.forward(in, before);  // packs this generation
    CHECK(layer.packed_weights_current());
    kernel[7] += 1.0f;  // no accessor call in between: the generation cannot see it
    CHECK_FALSE(layer.packed_weights_current());
    layer.weights_changed();
    CHECK(layer.packed_weights_current());
    check_layer_uses_current_weights(layer, in);
    Tensor after;
    layer.forward(in, after);
    CHECK_FALSE(same(before, after));

    bias[19] = -100.0f;
    CHECK_FALSE(layer.packed_weights_current());
    layer.weights_changed();
    check_layer_uses_current_weights(layer, in);
    layer.forward(in, after);
    for (std::size_t p = 0; p < after.size() / 20; ++p) CHECK(after.data()[p * 20 + 19] == 0.0f);
}

TEST_CASE("packed kernel cache: Dense keeps its padded last columns current the same way") {
    std::mt19937 rng(8);
    Dense<Linear> layer = random_dense(rng, 13, std::size_t(detail::packet_size) + 3);  // a padded tail
    const Tensor in = random_input(rng, 3, {1, 1, 13});
    check_layer_uses_current_weights(layer, in);
    const std::size_t last = layer.out_features() - 1;
    layer.kernel()[5 * layer.out_features() + last] += 2.0f;  // a tail column, through the accessor
    check_layer_uses_current_weights(layer, in);
    float* bias = layer.bias().data();
    Tensor before, after;
    layer.forward(in, before);
    bias[last] += 1.0f;  // through the kept pointer
    CHECK_FALSE(layer.packed_weights_current());
    layer.weights_changed();
    check_layer_uses_current_weights(layer, in);
    layer.forward(in, after);
    for (std::size_t n = 0; n < 3; ++n)
        CHECK(after.at(n, 0, 0, last) == doctest::Approx(before.at(n, 0, 0, last) + 1.0f).epsilon(1e-5));
}

TEST_CASE("packed kernel cache: the optimizers tell the layers they wrote") {
    std::mt19937 rng(9);
    Conv2D<Relu> conv = random_conv(rng, 3, 20);
    Dense<Linear> fc = random_dense(rng, 7, std::size_t(detail::packet_size) + 5);
    const Tensor conv_in = random_input(rng, 2, {8, 7, 3}), fc_in = random_input(rng, 2, {1, 1, 7});
    std::vector<ParameterRef> params = parameters(conv);
    const std::vector<ParameterRef> fc_params = parameters(fc);
    params.insert(params.end(), fc_params.begin(), fc_params.end());
    Tensor conv_before, fc_before;
    conv.forward(conv_in, conv_before);
    fc.forward(fc_in, fc_before);
    for (const ParameterRef& p : params) std::fill(p.gradient->begin(), p.gradient->end(), 1.0f);
    SUBCASE("SGD") {
        Sgd sgd(0.5f);
        sgd.step(params);
    }
    SUBCASE("Adam") {
        Adam adam(0.5f);
        adam.step(params);
    }
    check_layer_uses_current_weights(conv, conv_in);
    check_layer_uses_current_weights(fc, fc_in);
    Tensor conv_after, fc_after;
    conv.forward(conv_in, conv_after);
    fc.forward(fc_in, fc_after);
    CHECK_FALSE(same(conv_before, conv_after));
    CHECK_FALSE(same(fc_before, fc_after));
}

TEST_CASE("packed kernel cache: pruning a channel and copying a layer") {
    std::mt19937 rng(6);
    Conv2D<Relu> layer = random_conv(rng, 3, 36);
    const Tensor in = random_input(rng, 1, {8, 12, 3});
    check_layer_uses_current_weights(layer, in);
    Conv2D<Relu> copy = layer;  // the copy takes the packed kernel along
    CHECK(copy.packed_weights_current());
    ChannelMask mask(36);
    mask.prune(4);
    zero_channels(copy, mask);
    check_layer_uses_current_weights(copy, in);
    check_layer_uses_current_weights(layer, in);  // the original keeps its weights
    Tensor pruned;
    copy.forward(in, pruned);
    for (std::size_t p = 0; p < pruned.size() / 36; ++p) CHECK(pruned.data()[p * 36 + 4] == 0.0f);
    layer = copy;  // assignment takes the pruned weights and their packed form
    CHECK(layer.packed_weights_current());
    check_layer_uses_current_weights(layer, in);
}

TEST_CASE("packed kernel cache: one packed kernel serves every input width") {
    std::mt19937 rng(7);
    Conv2D<Relu> layer = random_conv(rng, 40, 60);  // over L1: the channel grouping depends on the row width
    const std::uint64_t generation = layer.generation();
    check_layer_uses_current_weights(layer, random_input(rng, 1, {12, 10, 40}));
    check_layer_uses_current_weights(layer, random_input(rng, 1, {12, 30, 40}));
    check_layer_uses_current_weights(layer, random_input(rng, 1, {12, 10, 40}));
    CHECK(layer.generation() == generation);
}

TEST_CASE("packed kernel cache: concurrent const calls on a stale layer all get the current weights") {
    std::mt19937 rng(10);
    Conv2D<Relu> layer = random_conv(rng, 5, 24);
    const Tensor in = random_input(rng, 2, {9, 10, 5});
    for (int round = 0; round < 20; ++round) {
        layer.kernel()[std::size_t(round) * 3] += 0.5f;  // stale until the next call
        Tensor expected;
        conv2d<Relu>(in, layer.geometry(), layer.kernel().data(), layer.bias().data(), expected);
        const Conv2D<Relu>& shared = layer;
        std::vector<Tensor> outs(4);
        std::vector<std::thread> threads;
        for (std::size_t t = 0; t < outs.size(); ++t)
            threads.emplace_back([&, t] { shared.forward_pooled(in, 1, 1, outs[t]); });
        for (auto& th : threads) th.join();
        for (const Tensor& out : outs) CHECK(same(out, expected));
    }
}

}  // namespace test_packed_kernel_cache
