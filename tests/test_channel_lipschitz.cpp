// CLP (channel_lipschitz.hpp): the channel Lipschitz upper bound against a power iteration in
// double and closed forms, the decreasing order on hand-made layers, the BatchNormalization
// factor read from a configuration, and the same bounds for a DeepID and its GraphNetwork.

#include "shared_data.hpp"
#include "tiny_deepid.hpp"

#include <doctest/doctest.h>

#include <prunedef/prunedef.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_channel_lipschitz {

using namespace prunedef;

namespace {

/// A layer of a hand-written ModelSpec.
LayerSpec spec_layer(std::string name, std::string cls, std::vector<std::string> in, std::string activation = "linear") {
    LayerSpec l;
    l.name = std::move(name);
    l.class_name = std::move(cls);
    l.inputs = std::move(in);
    l.activation = std::move(activation);
    return l;
}

/// sigma_max of channel k of a (positions, cin, cout) kernel by power iteration on M^T M, in
/// double, M the positions x cin slice; written out without Eigen.
double power_iteration_sigma(const std::vector<float>& kernel, std::size_t positions, std::size_t cin,
                             std::size_t cout, std::size_t k) {
    auto m = [&](std::size_t p, std::size_t c) { return double(kernel[(p * cin + c) * cout + k]); };
    std::vector<double> v(cin), mv(positions), next(cin);
    std::mt19937 rng(123);
    std::normal_distribution<double> normal;
    for (auto& x : v) x = normal(rng);
    double sigma = 0;
    for (int it = 0; it < 20000; ++it) {
        for (std::size_t p = 0; p < positions; ++p) {
            mv[p] = 0;
            for (std::size_t c = 0; c < cin; ++c) mv[p] += m(p, c) * v[c];
        }
        double norm = 0;
        for (std::size_t c = 0; c < cin; ++c) {
            next[c] = 0;
            for (std::size_t p = 0; p < positions; ++p) next[c] += m(p, c) * mv[p];
            norm += next[c] * next[c];
        }
        norm = std::sqrt(norm);
        if (norm == 0) return 0;
        for (std::size_t c = 0; c < cin; ++c) v[c] = next[c] / norm;
        double mv_norm = 0;
        for (std::size_t p = 0; p < positions; ++p) {
            double s = 0;
            for (std::size_t c = 0; c < cin; ++c) s += m(p, c) * v[c];
            mv_norm += s * s;
        }
        sigma = std::sqrt(mv_norm);
    }
    return sigma;
}

/// The pruned Conv2D of a DeepID with a kernel (kh, kw, cin, cout) and zero bias.
DeepID::pruned_type conv_layer(std::size_t kh, std::size_t kw, std::size_t cin, std::size_t cout,
                               std::vector<float> values) {
    DeepID::pruned_type conv("conv_3");
    conv.set_weights({{"kernel:0", {kh, kw, cin, cout}, std::move(values)}, {"bias:0", {cout}, std::vector<float>(cout, 0.0f)}});
    return conv;
}

}  // namespace

TEST_CASE("CLP: the channel Lipschitz bound is each channel's largest singular value (power iteration in double)") {
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    struct Shape {
        std::size_t positions, cin, cout;
    };
    for (const Shape s : {Shape{9, 5, 4}, Shape{4, 6, 3}, Shape{9, 2, 3}, Shape{1, 7, 2}, Shape{4, 4, 5}}) {
        CAPTURE(s.positions);
        CAPTURE(s.cin);
        std::vector<float> kernel(s.positions * s.cin * s.cout);
        for (auto& v : kernel) v = normal(rng);
        const std::vector<double> bounds = channel_lipschitz_bounds(kernel.data(), kernel.size(), s.cin, s.cout);
        REQUIRE(bounds.size() == s.cout);
        for (std::size_t k = 0; k < s.cout; ++k) {
            CAPTURE(k);
            CHECK(bounds[k] == doctest::Approx(power_iteration_sigma(kernel, s.positions, s.cin, s.cout, k)).epsilon(1e-9));
            if (s.positions == 1) {  // one position: the L2 norm of the channel's weights
                double l2 = 0;
                for (std::size_t c = 0; c < s.cin; ++c) l2 += double(kernel[c * s.cout + k]) * kernel[c * s.cout + k];
                CHECK(bounds[k] == doctest::Approx(std::sqrt(l2)).epsilon(1e-12));
            }
        }
    }
    // closed forms: a rank-one slice u v^T has sigma = |u| |v|; an orthogonal-rows slice its
    // largest row norm, not the Frobenius norm
    {
        const float u[2] = {1.0f, 2.0f}, v[3] = {2.0f, -1.0f, 2.0f};  // |u| = sqrt 5, |v| = 3
        std::vector<float> kernel(2 * 3 * 2, 0.0f);  // positions 2, cin 3, cout 2
        for (std::size_t p = 0; p < 2; ++p)
            for (std::size_t c = 0; c < 3; ++c) kernel[(p * 3 + c) * 2 + 0] = u[p] * v[c];
        kernel[(0 * 3 + 0) * 2 + 1] = 3.0f;  // channel 1: rows (3, 0, 0) and (0, 4, 0)
        kernel[(1 * 3 + 1) * 2 + 1] = 4.0f;
        const auto b = channel_lipschitz_bounds(kernel.data(), kernel.size(), 3, 2);
        CHECK(b[0] == doctest::Approx(3.0 * std::sqrt(5.0)).epsilon(1e-12));
        CHECK(b[1] == doctest::Approx(4.0).epsilon(1e-12));
        const auto scaled = channel_lipschitz_bounds(kernel.data(), kernel.size(), 3, 2, {-0.5, 2.0});
        CHECK(scaled[0] == doctest::Approx(1.5 * std::sqrt(5.0)).epsilon(1e-12));  // |gamma| / sigma
        CHECK(scaled[1] == doctest::Approx(8.0).epsilon(1e-12));
    }
    const std::vector<float> bad(10, 1.0f);
    CHECK_THROWS_AS(channel_lipschitz_bounds(bad.data(), bad.size(), 3, 2), argument_error);
    const std::vector<float> ok(12, 1.0f);
    CHECK_THROWS_AS(channel_lipschitz_bounds(ok.data(), ok.size(), 3, 2, {1.0}), argument_error);
}

TEST_CASE("CLP: channels with the largest bound first, ties by channel index, data-free") {
    DeepID net = make_deepid();
    // 1x1 kernel, 2 input channels: channel k's bound is |(w0, w1)|: 5, 1, 5, 10, 0
    const std::vector<float> w0{3, 1, 0, 6, 0}, w1{4, 0, 5, -8, 0};
    std::vector<float> kernel;
    for (const auto* row : {&w0, &w1}) kernel.insert(kernel.end(), row->begin(), row->end());
    net.pruned_layer() = conv_layer(1, 1, 2, 5, kernel);
    const ChannelActivations none;
    CHECK_FALSE(ChannelLipschitz::needs_activations);
    CHECK(ChannelLipschitz::name == "clp");
    CHECK(ChannelLipschitz{}.order(net, none) == std::vector<std::size_t>{3, 0, 2, 1, 4});
    // the L1 policy orders these differently (increasing |w0| + |w1|: 4, 1, 2, 0, 3)
    CHECK(KernelL1Norm{}.order(net, none) == std::vector<std::size_t>{4, 1, 2, 0, 3});
    // a following BatchNormalization's scale enters: channel 1 times 20 comes first
    CHECK(ChannelLipschitz{{1.0, 20.0, 1.0, 1.0, 1.0}}.order(net, none) == std::vector<std::size_t>{1, 3, 0, 2, 4});

    // spectral, not Frobenius: two positions, channel 0 the identity (sigma 1, Frobenius sqrt 2),
    // channel 1 one row (1, 1) (sigma sqrt 2, Frobenius sqrt 2), channel 2 rows (1.2, 0), (0, 0)
    const std::vector<float> k2{/*p0 c0*/ 1, 1, 1.2f, /*p0 c1*/ 0, 1, 0, /*p1 c0*/ 0, 0, 0, /*p1 c1*/ 1, 0, 0};
    net.pruned_layer() = conv_layer(1, 2, 2, 3, k2);
    CHECK(ChannelLipschitz{}.bounds(net)[0] == doctest::Approx(1.0));
    CHECK(ChannelLipschitz{}.order(net, none) == std::vector<std::size_t>{1, 2, 0});
}

TEST_CASE("CLP: the BatchNormalization that alone reads the layer gives gamma / sqrt(var + eps)") {
    ModelSpec spec;
    spec.layers = {spec_layer("input", "InputLayer", {}), spec_layer("conv", "Conv2D", {"input"}), spec_layer("bn", "BatchNormalization", {"conv"}),
                   spec_layer("relu", "Activation", {"bn"}), spec_layer("conv2", "Conv2D", {"relu"})};
    spec.layers[2].epsilon = 0.5f;
    ModelWeights weights;
    weights["bn"] = {{"gamma", {2}, {2.0f, -3.0f}},
                     {"beta", {2}, {0.0f, 0.0f}},
                     {"moving_mean", {2}, {1.0f, 1.0f}},
                     {"moving_variance", {2}, {3.5f, 8.5f}}};
    const auto scale = following_batch_norm_scale(spec, weights, "conv");
    REQUIRE(scale.has_value());
    REQUIRE(scale->size() == 2);
    CHECK((*scale)[0] == doctest::Approx(1.0));   // 2 / sqrt(4)
    CHECK((*scale)[1] == doctest::Approx(-1.0));  // -3 / sqrt(9)
    spec.layers[2].scale = false;                 // no gamma: 1 / sqrt(var + eps)
    weights["bn"].erase(weights["bn"].begin());
    CHECK((*following_batch_norm_scale(spec, weights, "conv"))[0] == doctest::Approx(0.5));
    CHECK_FALSE(following_batch_norm_scale(spec, weights, "relu").has_value());  // read by a Conv2D
    spec.layers.push_back(spec_layer("side", "Flatten", {"conv"}));                   // two readers
    CHECK_FALSE(following_batch_norm_scale(spec, weights, "conv").has_value());
}

TEST_CASE("CLP: the BatchNormalization is found through ReLU and Dropout, not through other layers") {
    ModelSpec spec;
    spec.layers = {spec_layer("input", "InputLayer", {}), spec_layer("conv", "Conv2D", {"input"}), spec_layer("act", "Activation", {"conv"}),
                   spec_layer("drop", "Dropout", {"act"}), spec_layer("bn", "BatchNormalization", {"drop"})};
    spec.layers[2].activation = "relu";
    spec.layers[4].epsilon = 0.0f;
    ModelWeights weights;
    weights["bn"] = {{"gamma", {1}, {3.0f}}, {"beta", {1}, {0.0f}}, {"moving_mean", {1}, {0.0f}},
                     {"moving_variance", {1}, {4.0f}}};
    const auto scale = following_batch_norm_scale(spec, weights, "conv");
    REQUIRE(scale.has_value());
    CHECK((*scale)[0] == doctest::Approx(1.5));  // 3 / sqrt(4)
    spec.layers[2].activation = "sigmoid";        // not walked through: no factor
    CHECK_FALSE(following_batch_norm_scale(spec, weights, "conv").has_value());
    spec.layers[2].activation = "relu";
    spec.layers[2].class_name = "MaxPooling2D";   // mixes positions: not walked through
    CHECK_FALSE(following_batch_norm_scale(spec, weights, "conv").has_value());
}

TEST_CASE("CLP: a GraphNetwork's bounds equal the compile-time DeepID's (input channels from the stem)") {
    DeepID deepid = prunedef_test::tiny_deepid(17, 5);
    deepid.bind({55, 47, 3});
    ModelSpec spec;
    auto conv = [&](std::string name, std::string in, std::size_t filters, std::size_t k) {
        LayerSpec l = spec_layer(std::move(name), "Conv2D", {std::move(in)}, "relu");
        l.units = filters;
        l.kernel_size = {k, k};
        return l;
    };
    auto pool = [&](std::string name, std::string in) {
        LayerSpec l = spec_layer(std::move(name), "MaxPooling2D", {std::move(in)});
        l.pool_size = l.strides = {2, 2};
        return l;
    };
    auto dense = [&](std::string name, std::string in, std::size_t units, std::string activation) {
        LayerSpec l = spec_layer(std::move(name), "Dense", {std::move(in)}, std::move(activation));
        l.units = units;
        return l;
    };
    LayerSpec input = spec_layer("input", "InputLayer", {});
    input.input_shape = ImageShape{55, 47, 3};
    spec.input = "input";
    spec.output = "output";
    spec.layers = {input,
                   conv("conv_1", "input", 2, 4),
                   pool("pool_1", "conv_1"),
                   conv("conv_2", "pool_1", 2, 3),
                   pool("pool_2", "conv_2"),
                   conv("conv_3", "pool_2", 2, 3),
                   pool("pool_3", "conv_3"),
                   conv("conv_4", "pool_3", 2, 2),
                   spec_layer("flatten_1", "Flatten", {"pool_3"}),
                   spec_layer("flatten_2", "Flatten", {"conv_4"}),
                   dense("fc_1", "flatten_1", 4, "linear"),
                   dense("fc_2", "flatten_2", 4, "linear"),
                   spec_layer("add_1", "Add", {"fc_1", "fc_2"}),
                   spec_layer("activation_1", "Activation", {"add_1"}, "relu"),
                   dense("output", "activation_1", 5, "softmax")};
    const GraphNetwork graph = build_graph_network(spec, collect_weights(deepid));
    REQUIRE(graph.pruned_layer().name() == "conv_3");
    const std::vector<double> a = ChannelLipschitz{}.bounds(deepid), b = ChannelLipschitz{}.bounds(graph);
    REQUIRE(a.size() == 2);
    CHECK(a == b);
    CHECK(a[0] > 0.0);
    CHECK_FALSE(following_batch_norm_scale(spec, graph_weights(graph), "conv_3").has_value());
}

TEST_CASE("CLP: on the shared Fashion-MNIST BadNet, the order is the power iterations' decreasing order" *
          doctest::test_suite("shared") * doctest::skip(!prunedef_test::shared_available("fmnist_badnet"))) {
    DeepID net = make_deepid();
    load_keras_weights(prunedef_test::shared_path("fmnist_badnet") + "/bd_weights.h5", net);
    net.bind({28, 28, 1});
    const auto& layer = net.pruned_layer();  // conv_3: 2x2x32x64
    REQUIRE(layer.in_channels() == 32);
    REQUIRE(layer.out_channels() == 64);
    const std::vector<float> kernel(layer.kernel().begin(), layer.kernel().end());
    std::vector<double> sigma(64);
    for (std::size_t k = 0; k < 64; ++k) sigma[k] = power_iteration_sigma(kernel, 4, 32, 64, k);
    const std::vector<double> bounds = ChannelLipschitz{}.bounds(net);
    for (std::size_t k = 0; k < 64; ++k) CHECK(bounds[k] == doctest::Approx(sigma[k]).epsilon(1e-9));
    std::vector<std::size_t> expected(64);
    std::iota(expected.begin(), expected.end(), std::size_t(0));
    std::stable_sort(expected.begin(), expected.end(), [&](std::size_t a, std::size_t b) { return sigma[a] > sigma[b]; });
    CHECK(ChannelLipschitz{}.order(net, ChannelActivations{}) == expected);
}

}  // namespace test_channel_lipschitz
