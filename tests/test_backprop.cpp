// Backward passes against finite differences: each kernel through a random linear probe
// L = sum(G * f(x)), exact for linear maps; softmax cross-entropy; a whole small DeepID.

#include <doctest/doctest.h>

#include <prunedef/prunedef.hpp>
#include <prunedef/training/backprop.hpp>
#include <prunedef/training/loss.hpp>
#include <prunedef/training/optimizer.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <functional>
#include <random>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_backprop {

using namespace prunedef;

namespace {

std::mt19937 rng(2024);

template <class Floats>
void fill(Floats& v, float scale = 1.0f) {
    std::normal_distribution<float> normal(0.0f, scale);
    for (auto& x : v) x = normal(rng);
}
Tensor random_tensor(std::size_t n, ImageShape s) {
    Tensor t(n, s);
    std::normal_distribution<float> normal;
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = normal(rng);
    return t;
}
double probe(const Tensor& out, const Tensor& g) {
    double s = 0;
    for (std::size_t i = 0; i < out.size(); ++i) s += double(out.data()[i]) * double(g.data()[i]);
    return s;
}

/// Central differences of loss() with respect to every entry of values, compared with grad.
template <class Values, class Grads>
void check_gradient(Values& values, const Grads& grad, const std::function<double()>& loss,
                    const char* what, double eps = 1e-2, double tol = 2e-3) {
    REQUIRE(values.size() == grad.size());
    std::size_t bad = 0;
    double worst = 0;
    for (std::size_t i = 0; i < values.size(); ++i) {
        const float saved = values[i];
        values[i] = saved + float(eps);
        const double up = loss();
        values[i] = saved - float(eps);
        const double down = loss();
        values[i] = saved;
        const double numeric = (up - down) / (2 * eps);
        const double err = std::fabs(numeric - grad[i]) / std::max(1.0, std::fabs(numeric));
        worst = std::max(worst, err);
        if (err > tol) ++bad;
    }
    INFO(std::string(what) << ": worst relative error " << worst);
    CHECK(bad == 0);
}

}  // namespace

TEST_CASE("backprop: conv2d kernel, bias and input gradients match finite differences") {
    const detail::ConvGeometry g{3, 2, 3, 4};
    std::vector<float> kernel(g.patch_size() * g.out_channels), bias(g.out_channels);
    fill(kernel, 0.5f);
    fill(bias);
    Tensor x = random_tensor(3, {7, 6, 3});
    Tensor out;
    conv2d<Linear>(x, g, kernel.data(), bias.data(), out);
    const Tensor probe_g = random_tensor(out.batch(), out.shape());
    std::vector<float> dk(kernel.size()), db(bias.size());
    Tensor dx;
    conv2d_backward(x, g, kernel.data(), probe_g, dk.data(), db.data(), &dx);
    auto loss = [&] {
        Tensor o;
        conv2d<Linear>(x, g, kernel.data(), bias.data(), o);
        return probe(o, probe_g);
    };
    check_gradient(kernel, dk, loss, "conv kernel");
    check_gradient(bias, db, loss, "conv bias");
    std::vector<float> xs(x.data(), x.data() + x.size()), dxs(dx.data(), dx.data() + dx.size());
    auto loss_x = [&] {
        std::copy(xs.begin(), xs.end(), x.data());
        return loss();
    };
    check_gradient(xs, dxs, loss_x, "conv input");
}

TEST_CASE("backprop: conv2d gradients do not depend on the thread count") {
    const detail::ConvGeometry g{2, 2, 5, 6};
    std::vector<float> kernel(g.patch_size() * g.out_channels);
    fill(kernel);
    const Tensor x = random_tensor(37, {9, 8, 5});
    const Tensor dz = random_tensor(37, {8, 7, 6});
    std::vector<float> dk1(kernel.size()), db1(6), dk2(kernel.size()), db2(6);
    Tensor dx1, dx2;
    const int before = thread_count();
    set_thread_count(1);
    conv2d_backward(x, g, kernel.data(), dz, dk1.data(), db1.data(), &dx1);
    set_thread_count(2);
    conv2d_backward(x, g, kernel.data(), dz, dk2.data(), db2.data(), &dx2);
    set_thread_count(before);
    CHECK(dk1 == dk2);
    CHECK(db1 == db2);
    CHECK(std::equal(dx1.data(), dx1.data() + dx1.size(), dx2.data()));
}

TEST_CASE("backprop: dense gradients match finite differences") {
    std::vector<float> kernel(7 * 5), bias(5);
    fill(kernel);
    fill(bias);
    Tensor x = random_tensor(4, {1, 1, 7});
    Tensor out;
    dense<Linear>(x, kernel.data(), bias.data(), 5, out);
    const Tensor probe_g = random_tensor(4, out.shape());
    std::vector<float> dk(kernel.size()), db(bias.size());
    Tensor dx;
    dense_backward(x, kernel.data(), probe_g, dk.data(), db.data(), &dx);
    auto loss = [&] {
        Tensor o;
        dense<Linear>(x, kernel.data(), bias.data(), 5, o);
        return probe(o, probe_g);
    };
    check_gradient(kernel, dk, loss, "dense kernel");
    check_gradient(bias, db, loss, "dense bias");
    std::vector<float> xs(x.data(), x.data() + x.size()), dxs(dx.data(), dx.data() + dx.size());
    check_gradient(xs, dxs, [&] { std::copy(xs.begin(), xs.end(), x.data()); return loss(); }, "dense input");
}

TEST_CASE("backprop: max-pool routes each gradient to its window's maximum") {
    Tensor x(2, {7, 5, 3});  // odd sizes: the last row and column are dropped
    // distinct values 0.01 apart, shuffled: no two within the finite-difference step
    std::vector<float> values(x.size());
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = 0.01f * float(i);
    std::shuffle(values.begin(), values.end(), rng);
    std::copy(values.begin(), values.end(), x.data());
    Tensor out;
    maxpool2d(x, 2, 2, out);
    const Tensor probe_g = random_tensor(2, out.shape());
    Tensor dx;
    maxpool2d_backward(x, 2, 2, probe_g, dx);
    std::vector<float> xs(x.data(), x.data() + x.size()), dxs(dx.data(), dx.data() + dx.size());
    check_gradient(xs, dxs, [&] {
        std::copy(xs.begin(), xs.end(), x.data());
        Tensor o;
        maxpool2d(x, 2, 2, o);
        return probe(o, probe_g);
    }, "max-pool input", 1e-3);
}

TEST_CASE("backprop: max-pool's backward pass equals the scalar rule, ties and overlapping windows included") {
    // the rule, one channel at a time: the first maximum of each window (row by row) takes the
    // output's gradient; overlapping windows add theirs in output order
    const auto reference = [](const Tensor& in, std::size_t pool, std::size_t stride, const Tensor& dout) {
        std::vector<float> din(in.size(), 0.0f);
        const std::size_t C = in.channels(), W = in.width();
        for (std::size_t n = 0; n < in.batch(); ++n)
            for (std::size_t y = 0; y < dout.height(); ++y)
                for (std::size_t xo = 0; xo < dout.width(); ++xo)
                    for (std::size_t c = 0; c < C; ++c) {
                        std::size_t best = (y * stride * W + xo * stride) * C + c;
                        for (std::size_t py = 0; py < pool; ++py)
                            for (std::size_t px = 0; px < pool; ++px) {
                                const std::size_t i = ((y * stride + py) * W + xo * stride + px) * C + c;
                                if (in.image(n)[i] > in.image(n)[best]) best = i;
                            }
                        din[n * in.image_size() + best] += dout.image(n)[(y * dout.width() + xo) * C + c];
                    }
        return din;
    };
    struct Case {
        std::size_t height, width, channels, pool, stride;
    };
    for (const Case k : {Case{7, 5, 3, 2, 2}, Case{9, 8, 17, 3, 2}, Case{6, 6, 40, 2, 1}, Case{5, 4, 1, 3, 3}}) {
        Tensor x(3, {k.height, k.width, k.channels});
        // few distinct values: many ties inside windows
        std::uniform_int_distribution<int> level(0, 3);
        for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = float(level(rng));
        Tensor out;
        maxpool2d(x, k.pool, k.stride, out);
        const Tensor g = random_tensor(3, out.shape());
        Tensor dx;
        dx.resize(1, {1, 1, 1});
        dx.data()[0] = 7.0f;  // a stale value: the backward pass must not keep it
        maxpool2d_backward(x, k.pool, k.stride, g, dx);
        INFO("pool " << k.pool << " stride " << k.stride << " channels " << k.channels);
        CHECK(std::vector<float>(dx.data(), dx.data() + dx.size()) == reference(x, k.pool, k.stride, g));
    }
}

TEST_CASE("backprop: softmax cross-entropy gradient") {
    Tensor logits = random_tensor(3, {1, 1, 6});
    const int labels[3] = {0, 5, 2};
    Tensor d;
    softmax_cross_entropy(logits, labels, d);
    std::vector<float> z(logits.data(), logits.data() + logits.size()), dz(d.data(), d.data() + d.size());
    check_gradient(z, dz, [&] {
        std::copy(z.begin(), z.end(), logits.data());
        Tensor ignored;
        return softmax_cross_entropy(logits, labels, ignored);
    }, "cross-entropy", 1e-3);
    const int bad_label[1] = {6};
    Tensor one = random_tensor(1, {1, 1, 6});
    CHECK_THROWS_AS(softmax_cross_entropy(one, bad_label, d), argument_error);
}

TEST_CASE("backprop: whole DeepID network, every layer's gradients") {
    DeepID net = make_deepid();
    Rng init(5);
    initialize(net, {{3, 3, 1, 4}, {3, 3, 4, 6}, {2, 2, 6, 8}, {32, 5}, {2, 2, 8, 3}, {3, 5}, {5, 4}}, init);
    // biases non-zero so that ReLUs sit away from their kink
    net.visit([&](auto& layer) {
        using L = std::decay_t<decltype(layer)>;
        if constexpr (L::has_weights) fill(layer.bias(), 0.1f);
    });
    net.bind({26, 26, 1});
    net.set_input_scale(0.5f);
    const Tensor images = random_tensor(5, net.input_shape());
    const int labels[5] = {0, 1, 2, 3, 1};
    NetworkTrainCache<DeepID> cache;
    Tensor logits, dlogits;
    forward_train(net, images, logits, cache);
    softmax_cross_entropy(logits, labels, dlogits);
    backward(net, cache, dlogits);
    auto loss = [&] {
        Tensor z, ignored;
        net.logits(images, z);
        return softmax_cross_entropy(z, labels, ignored);
    };
    std::size_t arrays = 0;
    for (const ParameterRef& p : parameters(net)) {
        const detail::AlignedFloats grad = *p.gradient;
        // the values are perturbed through the kept pointer: the layer is told before each loss
        check_gradient(*p.value, grad, [&] { p.changed(); return loss(); }, "network parameter", 1e-3, 2e-2);
        p.changed();  // the restored values
        ++arrays;
    }
    CHECK(arrays == 14);
}

}  // namespace test_backprop
