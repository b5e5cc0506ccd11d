// Layers: weight validation with exact messages, shape checks, composition (Sequential, Sum)
// against manual composition, and a user-defined topology built in a few lines.

#include <doctest/doctest.h>

#include <prunedef/prunedef.hpp>

#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_layers {

using namespace prunedef;

namespace {

WeightArray random_array(std::string name, std::vector<std::size_t> dims, std::mt19937& rng) {
    WeightArray w{std::move(name), std::move(dims), {}};
    std::normal_distribution<float> dist(0.0f, 0.4f);
    w.values.resize(w.element_count());
    for (auto& v : w.values) v = dist(rng);
    return w;
}

template <class Act>
Conv2D<Act> make_conv(std::string name, std::size_t kh, std::size_t kw, std::size_t cin, std::size_t cout,
                      std::mt19937& rng) {
    Conv2D<Act> c(std::move(name));
    c.set_weights({random_array("kernel:0", {kh, kw, cin, cout}, rng), random_array("bias:0", {cout}, rng)});
    return c;
}

template <class Act>
Dense<Act> make_dense(std::string name, std::size_t in, std::size_t out, std::mt19937& rng) {
    Dense<Act> d(std::move(name));
    d.set_weights({random_array("kernel:0", {in, out}, rng), random_array("bias:0", {out}, rng)});
    return d;
}

Tensor random_tensor(std::size_t batch, ImageShape shape, std::mt19937& rng) {
    Tensor t(batch, shape);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = dist(rng);
    return t;
}

bool same_bits(const Tensor& a, const Tensor& b) {
    return a.batch() == b.batch() && a.shape() == b.shape() &&
           std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("layers: Conv2D::set_weights validates count, rank, sizes and values") {
    std::mt19937 rng(1);
    Conv2D<Relu> conv("c");
    auto kernel = [&] { return random_array("kernel:0", {3, 2, 5, 7}, rng); };
    auto bias = [&] { return random_array("bias:0", {7}, rng); };

    CHECK_THROWS_WITH_AS(conv.set_weights({kernel()}),
                         "layer c: expected 2 weight arrays (kernel (kh, kw, cin, cout) and bias (cout)), found 1",
                         format_error);
    CHECK_THROWS_WITH_AS(conv.set_weights({random_array("kernel:0", {3, 2, 5}, rng), bias()}),
                         "layer c: weight kernel:0 should have rank 4, found shape (3, 2, 5)", shape_error);
    CHECK_THROWS_WITH_AS(conv.set_weights({kernel(), random_array("bias:0", {7, 1}, rng)}),
                         "layer c: weight bias:0 should have rank 1, found shape (7, 1)", shape_error);
    CHECK_THROWS_WITH_AS(conv.set_weights({kernel(), random_array("bias:0", {6}, rng)}),
                         "layer c: bias has shape (6,), expected (7,) to match kernel (3, 2, 5, 7)", shape_error);
    CHECK_THROWS_WITH_AS(conv.set_weights({random_array("kernel:0", {3, 0, 5, 7}, rng), bias()}),
                         "layer c: kernel shape (3, 0, 5, 7) has a zero dimension", shape_error);
    {
        auto k = kernel();
        k.values.resize(5);
        CHECK_THROWS_WITH_AS(conv.set_weights({k, bias()}), "layer c: weight kernel:0 holds 5 values for shape (3, 2, 5, 7)",
                             format_error);
    }
    {
        auto k = kernel();
        k.values[4] = std::numeric_limits<float>::quiet_NaN();
        CHECK_THROWS_WITH_AS(conv.set_weights({k, bias()}),
                             "layer c: weight kernel:0 has a non-finite value (nan) at flat index 4", format_error);
    }
    {
        auto b = bias();
        b.values[6] = -std::numeric_limits<float>::infinity();
        CHECK_THROWS_WITH_AS(conv.set_weights({kernel(), b}),
                             "layer c: weight bias:0 has a non-finite value (-inf) at flat index 6", format_error);
    }
    CHECK(conv.kernel().empty());  // nothing was taken from the rejected arrays

    auto k = kernel();
    const auto kv = k.values;
    conv.set_weights({k, bias()});
    CHECK(conv.kernel_h() == 3);
    CHECK(conv.kernel_w() == 2);
    CHECK(conv.in_channels() == 5);
    CHECK(conv.out_channels() == 7);
    CHECK(std::vector<float>(conv.kernel().begin(), conv.kernel().end()) == kv);
    const auto back = conv.weights();
    REQUIRE(back.size() == 2);
    CHECK(back[0].name == "kernel:0");
    CHECK(back[0].dims == std::vector<std::size_t>{3, 2, 5, 7});
    CHECK(back[1].dims == std::vector<std::size_t>{7});
}

TEST_CASE("layers: Dense::set_weights validates count, rank, sizes and values") {
    std::mt19937 rng(2);
    Dense<Linear> d("d");
    auto kernel = [&] { return random_array("kernel:0", {5, 3}, rng); };
    auto bias = [&] { return random_array("bias:0", {3}, rng); };

    CHECK_THROWS_WITH_AS(d.set_weights({kernel(), bias(), bias()}),
                         "layer d: expected 2 weight arrays (kernel (in, out) and bias (out)), found 3", format_error);
    CHECK_THROWS_WITH_AS(d.set_weights({random_array("kernel:0", {1, 5, 3}, rng), bias()}),
                         "layer d: weight kernel:0 should have rank 2, found shape (1, 5, 3)", shape_error);
    CHECK_THROWS_WITH_AS(d.set_weights({kernel(), random_array("bias:0", {4}, rng)}),
                         "layer d: bias has shape (4,), expected (3,) to match kernel (5, 3)", shape_error);
    CHECK_THROWS_WITH_AS(d.set_weights({random_array("kernel:0", {0, 3}, rng), bias()}),
                         "layer d: kernel shape (0, 3) has a zero dimension", shape_error);
    {
        auto k = kernel();
        k.values[14] = std::numeric_limits<float>::infinity();
        CHECK_THROWS_WITH_AS(d.set_weights({k, bias()}),
                             "layer d: weight kernel:0 has a non-finite value (inf) at flat index 14", format_error);
    }
    d.set_weights({kernel(), bias()});
    CHECK(d.in_features() == 5);
    CHECK(d.out_features() == 3);
    CHECK(d.weights()[0].dims == std::vector<std::size_t>{5, 3});
}

TEST_CASE("layers: output_shape reports inputs that do not fit") {
    std::mt19937 rng(3);
    CHECK_THROWS_WITH_AS(Conv2D<Relu>("empty").output_shape({8, 8, 3}), "layer empty: no weights loaded", shape_error);
    CHECK_THROWS_WITH_AS(Dense<Linear>("empty").output_shape({1, 1, 3}), "layer empty: no weights loaded", shape_error);

    const auto conv = make_conv<Relu>("c", 3, 2, 5, 7, rng);
    CHECK(conv.output_shape({13, 11, 5}) == ImageShape{11, 10, 7});
    CHECK(conv.output_shape({3, 2, 5}) == ImageShape{1, 1, 7});
    CHECK_THROWS_WITH_AS(conv.output_shape({13, 11, 4}), "layer c: input has 4 channels, kernel expects 5", shape_error);
    CHECK_THROWS_WITH_AS(conv.output_shape({2, 11, 5}), "layer c: input 2x11x5 is smaller than the 3x2 kernel",
                         shape_error);
    CHECK_THROWS_WITH_AS(conv.output_shape({13, 1, 5}), "layer c: input 13x1x5 is smaller than the 3x2 kernel",
                         shape_error);

    const auto dense = make_dense<Linear>("d", 6, 4, rng);
    CHECK(dense.output_shape({1, 2, 3}) == ImageShape{1, 1, 4});
    CHECK_THROWS_WITH_AS(dense.output_shape({1, 1, 5}), "layer d: input has 5 features (1x1x5), kernel expects 6",
                         shape_error);

    const MaxPool2D pool("p", 3, 2);
    CHECK(pool.output_shape({7, 9, 2}) == ImageShape{3, 4, 2});
    CHECK_THROWS_WITH_AS(pool.output_shape({2, 9, 2}), "layer p: input 2x9x2 is smaller than the 3x3 pool", shape_error);
    CHECK_THROWS_WITH_AS(MaxPool2D("z", 0).output_shape({4, 4, 1}), "layer z: pool size is 0", shape_error);
    CHECK(MaxPool2D("q").stride() == 2);

    CHECK(Flatten().output_shape({3, 4, 5}) == ImageShape{1, 1, 60});
    CHECK(Identity().output_shape({3, 4, 5}) == ImageShape{3, 4, 5});

    using Seq = Sequential<Conv2D<Relu>, MaxPool2D>;
    const Seq seq(make_conv<Relu>("c1", 3, 3, 2, 4, rng), MaxPool2D("p1"));
    CHECK(seq.output_shape({9, 8, 2}) == ImageShape{3, 3, 4});
    CHECK_THROWS_WITH_AS(seq.output_shape({9, 8, 3}), "layer c1: input has 3 channels, kernel expects 2", shape_error);
    CHECK_THROWS_WITH_AS(seq.output_shape({3, 8, 2}), "layer p1: input 1x6x4 is smaller than the 2x2 pool",
                         shape_error);

    using Branch = Sequential<Flatten, Dense<Linear>>;
    const Sum<Branch, Branch> sum(Branch(Flatten(), make_dense<Linear>("a", 12, 3, rng)),
                                  Branch(Flatten(), make_dense<Linear>("b", 12, 4, rng)), "s");
    CHECK_THROWS_WITH_AS(sum.output_shape({2, 2, 3}), "layer s: branches produce 1x1x3 and 1x1x4", shape_error);
}

TEST_CASE("layers: Sequential equals calling its layers one by one") {
    std::mt19937 rng(4);
    using Seq = Sequential<Conv2D<Relu>, MaxPool2D, Conv2D<Linear>, Flatten, Dense<Relu>>;
    Seq seq(make_conv<Relu>("c1", 3, 2, 3, 5, rng), MaxPool2D("p1", 3, 2), make_conv<Linear>("c2", 2, 2, 5, 4, rng),
            Flatten("f"), make_dense<Relu>("d", 3 * 2 * 4, 6, rng));
    const Tensor in = random_tensor(3, {11, 9, 3}, rng);
    CHECK(seq.output_shape(in.shape()) == ImageShape{1, 1, 6});

    Tensor got;
    seq.forward(in, got);

    Tensor a, b, c, d, want;
    seq.layer<0>().forward(in, a);
    seq.layer<1>().forward(a, b);
    seq.layer<2>().forward(b, c);
    seq.layer<3>().forward(c, d);
    seq.layer<4>().forward(d, want);
    CHECK(b.shape() == ImageShape{4, 3, 5});
    CHECK(same_bits(got, want));

    std::vector<std::string> names;
    seq.visit([&](const auto& layer) { names.push_back(layer.name()); });
    CHECK(names == std::vector<std::string>{"c1", "p1", "c2", "f", "d"});
}

TEST_CASE("layers: Sum adds its two branches") {
    std::mt19937 rng(5);
    using A = Sequential<Flatten, Dense<Linear>>;
    using B = Sequential<Conv2D<Relu>, Flatten, Dense<Linear>>;
    const Sum<A, B> sum(A(Flatten("f1"), make_dense<Linear>("fc_a", 5 * 4 * 3, 7, rng)),
                        B(make_conv<Relu>("cb", 2, 3, 3, 2, rng), Flatten("f2"), make_dense<Linear>("fc_b", 4 * 2 * 2, 7, rng)),
                        "plus");
    const Tensor in = random_tensor(3, {5, 4, 3}, rng);
    CHECK(sum.output_shape(in.shape()) == ImageShape{1, 1, 7});

    Tensor got, ta, tb;
    sum.forward(in, got);
    sum.first().forward(in, ta);
    sum.second().forward(in, tb);
    REQUIRE(got.shape() == ImageShape{1, 1, 7});
    std::size_t bad = 0;
    for (std::size_t i = 0; i < got.size(); ++i)
        if (got.data()[i] != ta.data()[i] + tb.data()[i]) ++bad;
    CHECK(bad == 0);

    std::vector<std::string> names;
    sum.visit([&](const auto& layer) { names.push_back(layer.name()); });
    CHECK(names == std::vector<std::string>{"f1", "fc_a", "cb", "f2", "fc_b", "plus"});
}

TEST_CASE("layers: Activation and Flatten forward") {
    Tensor in(2, {2, 1, 3});
    for (std::size_t i = 0; i < in.size(); ++i) in.data()[i] = float(i) - 5.5f;
    Tensor out;
    Activation<Relu>("act").forward(in, out);
    CHECK(out.shape() == in.shape());
    for (std::size_t i = 0; i < in.size(); ++i) CHECK(out.data()[i] == std::max(0.0f, in.data()[i]));
    Flatten().forward(in, out);
    CHECK(out.shape() == ImageShape{1, 1, 6});
    CHECK(std::memcmp(out.data(), in.data(), in.size() * sizeof(float)) == 0);
}

TEST_CASE("layers: another topology is a few lines: Network<Sequential<Conv, Pool>, Conv, Pool, Sequential<Flatten, Dense>>") {
    std::mt19937 rng(6);
    // The type is the topology; sizes come from the weights.
    using Stem = Sequential<Conv2D<Relu>, MaxPool2D>;
    using Head = Sequential<Flatten, Dense<Linear>>;
    using Net = Network<Stem, Conv2D<Relu>, MaxPool2D, Head>;
    Net net(Stem(make_conv<Relu>("c1", 3, 3, 2, 4, rng), MaxPool2D("p1")), make_conv<Relu>("c2", 2, 2, 4, 6, rng),
            MaxPool2D("p2"), Head(Flatten("flat"), make_dense<Linear>("out", 2 * 2 * 6, 5, rng)));

    CHECK_THROWS_WITH_AS(net.num_classes(), "network has no input shape: call bind() after loading weights",
                         shape_error);
    CHECK_THROWS_WITH_AS(net.bind({3, 3, 2}), "layer p1: input 1x1x4 is smaller than the 2x2 pool", shape_error);
    CHECK_THROWS_WITH_AS(net.bind({12, 12, 3}), "layer c1: input has 3 channels, kernel expects 2", shape_error);
    CHECK_THROWS_WITH_AS(net.bind({16, 12, 2}), "layer out: input has 36 features (1x1x36), kernel expects 24",
                         shape_error);
    CHECK_THROWS_WITH_AS(net.bind({0, 12, 2}), "input shape 0x12x2 is empty", shape_error);
    CHECK_FALSE(net.bound());

    net.bind({12, 12, 2});
    CHECK(net.bound());
    CHECK(net.conv_shape() == ImageShape{4, 4, 6});
    CHECK(net.feature_shape() == ImageShape{2, 2, 6});
    CHECK(net.num_classes() == 5);
    CHECK(net.prunable_channels() == 6);

    net.set_input_scale(0.5f);
    CHECK_THROWS_WITH_AS(net.set_input_scale(0.0f), "input scale must be a positive finite number, got 0.000000",
                         argument_error);
    CHECK(net.input_scale() == 0.5f);

    const Tensor images = random_tensor(3, {12, 12, 2}, rng);
    const Tensor logits = net.logits(images);
    REQUIRE(logits.shape() == ImageShape{1, 1, 5});
    REQUIRE(logits.batch() == 3);

    // The same computation written out by hand.
    Tensor scaled = images, t1, t2, t3, t4, t5, want;
    for (std::size_t i = 0; i < scaled.size(); ++i) scaled.data()[i] *= 0.5f;
    net.stem().layer<0>().forward(scaled, t1);
    net.stem().layer<1>().forward(t1, t2);
    net.pruned_layer().forward(t2, t3);
    net.reduce().forward(t3, t4);
    net.head().layer<0>().forward(t4, t5);
    net.head().layer<1>().forward(t5, want);
    CHECK(same_bits(logits, want));

    Tensor features;
    net.features(images, features);
    CHECK(same_bits(features, t4));
    CHECK(net.predict(images) == argmax(want));

    const Tensor wrong = random_tensor(1, {12, 11, 2}, rng);
    CHECK_THROWS_WITH_AS(net.logits(wrong), "network input is 12x12x2 but the images are 12x11x2", shape_error);

    std::vector<std::string> weighted;
    net.visit([&](const auto& layer) {
        if constexpr (std::decay_t<decltype(layer)>::has_weights) weighted.push_back(layer.name());
    });
    CHECK(weighted == std::vector<std::string>{"c1", "c2", "out"});
}

}  // namespace test_layers
