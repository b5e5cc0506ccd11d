// The layers of run-time graph networks (ZeroPadding2D, StridedConv2D, Pooling2D, GlobalPooling2D,
// BatchNormalization, RuntimeActivation, Add, Concatenate) against plain reference loops computed
// in double, on odd shapes, strides 1/2/3, non-square kernels and pools, 'same' paddings with odd
// totals and channel counts that are not multiples of the SIMD width; their shape and weight
// checks, which name the layer; StridedConv2D with 1 and 2 threads, bit for bit.

#include <doctest/doctest.h>

#include <prunedef/core/activation.hpp>
#include <prunedef/core/parallel.hpp>
#include <prunedef/layers/add.hpp>
#include <prunedef/layers/batch_normalization.hpp>
#include <prunedef/layers/concatenate.hpp>
#include <prunedef/layers/conv2d.hpp>
#include <prunedef/layers/global_pooling2d.hpp>
#include <prunedef/layers/padding.hpp>
#include <prunedef/layers/pooling2d.hpp>
#include <prunedef/layers/runtime_activation.hpp>
#include <prunedef/layers/strided_conv2d.hpp>
#include <prunedef/layers/zero_padding2d.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_graph_layers {

using namespace prunedef;

namespace {

std::vector<float> random_values(std::size_t n, std::mt19937& rng, float sigma = 1.0f) {
    std::normal_distribution<float> dist(0.0f, sigma);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

Tensor random_tensor(std::size_t batch, ImageShape shape, std::mt19937& rng) {
    Tensor t(batch, shape);
    const auto v = random_values(t.size(), rng);
    std::copy(v.begin(), v.end(), t.data());
    return t;
}

bool close(float got, double want, double tolerance = 1e-4) {
    return std::fabs(double(got) - want) <= tolerance * std::max(1.0, std::fabs(want));
}

/// How many of out's values are not close to the reference (sizes must agree).
std::size_t mismatches(const Tensor& out, const std::vector<double>& want, double tolerance = 1e-4) {
    REQUIRE(out.size() == want.size());
    std::size_t bad = 0;
    for (std::size_t i = 0; i < want.size(); ++i)
        if (!close(out.data()[i], want[i], tolerance)) ++bad;
    return bad;
}

bool same_bits(const Tensor& a, const Tensor& b) {
    return a.batch() == b.batch() && a.shape() == b.shape() &&
           std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

template <class Activation>
double reference_activation(double v) {
    if constexpr (std::is_same_v<Activation, Relu>) return std::max(v, 0.0);
    else if constexpr (std::is_same_v<Activation, Sigmoid>) return 1.0 / (1.0 + std::exp(-v));
    else if constexpr (std::is_same_v<Activation, Tanh>) return std::tanh(v);
    else return v;
}

/// Plain NHWC valid convolution with strides, in double.
template <class Activation>
std::vector<double> reference_strided_conv(const Tensor& in, std::size_t kh, std::size_t kw, std::size_t cout,
                                           std::size_t sh, std::size_t sw, const std::vector<float>& kernel,
                                           const std::vector<float>& bias, ImageShape& os) {
    const std::size_t cin = in.channels();
    os = {(in.height() - kh) / sh + 1, (in.width() - kw) / sw + 1, cout};
    std::vector<double> out;
    for (std::size_t n = 0; n < in.batch(); ++n)
        for (std::size_t y = 0; y < os.height; ++y)
            for (std::size_t x = 0; x < os.width; ++x)
                for (std::size_t o = 0; o < cout; ++o) {
                    double s = bias[o];
                    for (std::size_t ky = 0; ky < kh; ++ky)
                        for (std::size_t kx = 0; kx < kw; ++kx)
                            for (std::size_t c = 0; c < cin; ++c)
                                s += double(in.at(n, y * sh + ky, x * sw + kx, c)) *
                                     double(kernel[((ky * kw + kx) * cin + c) * cout + o]);
                    out.push_back(reference_activation<Activation>(s));
                }
    return out;
}

std::vector<WeightArray> conv_weights(std::size_t kh, std::size_t kw, std::size_t cin, std::size_t cout,
                                      std::mt19937& rng) {
    return {{"kernel", {kh, kw, cin, cout}, random_values(kh * kw * cin * cout, rng, 0.5f)},
            {"bias", {cout}, random_values(cout, rng, 0.5f)}};
}

template <class Activation>
void check_strided_conv(std::size_t batch, ImageShape in_shape, std::size_t kh, std::size_t kw, std::size_t cout,
                        std::size_t sh, std::size_t sw, unsigned seed) {
    CAPTURE(in_shape.str());
    CAPTURE(kh);
    CAPTURE(kw);
    CAPTURE(cout);
    CAPTURE(sh);
    CAPTURE(sw);
    std::mt19937 rng(seed);
    StridedConv2D<Activation> conv("conv_s", sh, sw);
    const auto w = conv_weights(kh, kw, in_shape.channels, cout, rng);
    conv.set_weights(w);
    const Tensor in = random_tensor(batch, in_shape, rng);
    Tensor out;
    conv.forward(in, out);
    ImageShape os;
    const auto want = reference_strided_conv<Activation>(in, kh, kw, cout, sh, sw, w[0].values, w[1].values, os);
    REQUIRE(out.batch() == batch);
    REQUIRE(out.shape() == os);
    CHECK(conv.output_shape(in_shape) == os);
    CHECK(mismatches(out, want) == 0);
}

}  // namespace

TEST_CASE("graph layers: same_padding splits as TensorFlow, the odd one at the bottom and right") {
    // in 5, window 2, stride 2: 3 outputs, total (3-1)*2+2-5 = 1 -> 0 + 1
    CHECK(same_padding({5, 5, 1}, {2, 2}, {2, 2}) == std::array<std::size_t, 4>{0, 1, 0, 1});
    // rows: in 7, window 4, stride 1: total 3 -> 1 + 2; columns: in 10, window 5, stride 2: 5 outputs, total 3
    CHECK(same_padding({7, 10, 3}, {4, 5}, {1, 2}) == std::array<std::size_t, 4>{1, 2, 1, 2});
    // no padding needed: in 6, window 3, stride 3; in 4, window 1, stride 3 (total negative -> 0)
    CHECK(same_padding({6, 4, 1}, {3, 1}, {3, 3}) == std::array<std::size_t, 4>{0, 0, 0, 0});
    // in 8, window 3, stride 2: 4 outputs, total 6+3-8 = 1; in 9, window 6, stride 1: total 5 -> 2 + 3
    CHECK(same_padding({8, 9, 2}, {3, 6}, {2, 1}) == std::array<std::size_t, 4>{0, 1, 2, 3});
    CHECK(padding_from_keras("same") == Padding::same);
    CHECK(padding_from_keras("valid") == Padding::valid);
    CHECK_THROWS_WITH_AS(padding_from_keras("causal"), doctest::Contains("'causal'"), argument_error);
}

TEST_CASE("graph layers: ZeroPadding2D surrounds every image with zeros") {
    std::mt19937 rng(1);
    for (auto pads : {std::array<std::size_t, 4>{1, 2, 0, 3}, std::array<std::size_t, 4>{0, 0, 0, 0},
                      std::array<std::size_t, 4>{3, 0, 2, 1}}) {
        const ZeroPadding2D pad("zp", pads[0], pads[1], pads[2], pads[3]);
        const Tensor in = random_tensor(3, {3, 5, 7}, rng);
        Tensor out;
        pad.forward(in, out);
        const ImageShape os{3 + pads[0] + pads[1], 5 + pads[2] + pads[3], 7};
        REQUIRE(out.shape() == os);
        REQUIRE(pad.output_shape(in.shape()) == os);
        std::size_t bad = 0;
        for (std::size_t n = 0; n < 3; ++n)
            for (std::size_t y = 0; y < os.height; ++y)
                for (std::size_t x = 0; x < os.width; ++x)
                    for (std::size_t c = 0; c < 7; ++c) {
                        const bool inside = y >= pads[0] && y < pads[0] + 3 && x >= pads[2] && x < pads[2] + 5;
                        const float want = inside ? in.at(n, y - pads[0], x - pads[2], c) : 0.0f;
                        if (out.at(n, y, x, c) != want) ++bad;
                    }
        CHECK(bad == 0);
    }
    CHECK_THROWS_WITH_AS(ZeroPadding2D("zp_1", 1, 1, 1, 1).output_shape({0, 4, 3}), doctest::Contains("layer zp_1"),
                         shape_error);
}

TEST_CASE("graph layers: StridedConv2D matches a double reference for any kernel, strides and channels") {
    check_strided_conv<Linear>(2, {9, 11, 3}, 3, 3, 8, 2, 2, 1);
    check_strided_conv<Relu>(3, {10, 7, 5}, 3, 2, 7, 2, 3, 2);
    check_strided_conv<Sigmoid>(1, {13, 12, 17}, 1, 1, 33, 3, 3, 3);
    check_strided_conv<Tanh>(2, {8, 9, 1}, 5, 3, 19, 1, 2, 4);
    check_strided_conv<Relu>(1, {7, 7, 2}, 7, 7, 3, 2, 2, 5);           // one output pixel
    check_strided_conv<Linear>(2, {12, 11, 4}, 2, 4, 130, 3, 1, 6);      // more channels than the micro-kernels
    check_strided_conv<Relu>(2, {15, 14, 6}, 3, 3, 16, 1, 1, 7);         // strides 1
    check_strided_conv<Linear>(1, {32, 31, 3}, 4, 4, 13, 2, 2, 8);       // rows longer than a tile
}

TEST_CASE("graph layers: StridedConv2D with strides 1 equals Conv2D bit for bit") {
    std::mt19937 rng(21);
    for (std::size_t cout : {5, 16, 20, 37}) {
        const auto w = conv_weights(3, 2, 6, cout, rng);
        StridedConv2D<Relu> strided("a", 1, 1);
        Conv2D<Relu> plain("b");
        strided.set_weights(w);
        plain.set_weights(w);
        const Tensor in = random_tensor(3, {11, 13, 6}, rng);
        Tensor a, b;
        strided.forward(in, a);
        plain.forward(in, b);
        CHECK(same_bits(a, b));
    }
}

TEST_CASE("graph layers: StridedConv2D gives bit-identical results with 1 and 2 threads") {
    std::mt19937 rng(22);
    StridedConv2D<Relu> conv("conv_t", 2, 3);
    conv.set_weights(conv_weights(3, 3, 8, 21, rng));
    const Tensor in = random_tensor(5, {33, 41, 8}, rng);
    const int saved = thread_count();
    Tensor one, two;
    set_thread_count(1);
    conv.forward(in, one);
    set_thread_count(2);
#if !PRUNEDEF_NO_THREADS
    CHECK(thread_count() == 2);
#endif
    conv.forward(in, two);
    set_thread_count(saved);
    CHECK(same_bits(one, two));
}

TEST_CASE("graph layers: StridedConv2D checks its weights and inputs, naming the layer") {
    std::mt19937 rng(23);
    CHECK_THROWS_WITH_AS(StridedConv2D<Relu>("conv_z", 0, 1), doctest::Contains("layer conv_z"), argument_error);
    StridedConv2D<Linear> conv("conv_c", 2, 2);
    CHECK_THROWS_WITH_AS(conv.output_shape({8, 8, 3}), doctest::Contains("layer conv_c: no weights"), shape_error);
    auto w = conv_weights(3, 2, 3, 4, rng);
    conv.set_weights(w);
    CHECK(conv.out_channels() == 4);
    CHECK(conv.output_shape({8, 9, 3}) == ImageShape{3, 4, 4});
    CHECK_THROWS_WITH_AS(conv.output_shape({8, 8, 2}), doctest::Contains("layer conv_c"), shape_error);
    CHECK_THROWS_WITH_AS(conv.output_shape({2, 8, 3}), doctest::Contains("layer conv_c"), shape_error);
    CHECK_THROWS_WITH_AS(conv.output_shape({8, 1, 3}), doctest::Contains("layer conv_c"), shape_error);

    auto bad_rank = w;
    bad_rank[0].dims = {6, 3, 4};
    CHECK_THROWS_WITH_AS(conv.set_weights(bad_rank), doctest::Contains("layer conv_c"), shape_error);
    auto bad_bias = w;
    bad_bias[1] = {"bias", {5}, std::vector<float>(5, 0.0f)};
    CHECK_THROWS_WITH_AS(conv.set_weights(bad_bias), doctest::Contains("layer conv_c"), shape_error);
    auto nan = w;
    nan[0].values[7] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH_AS(conv.set_weights(nan), doctest::Contains("layer conv_c"), format_error);
    CHECK_THROWS_WITH_AS(conv.set_weights({w[0]}), doctest::Contains("layer conv_c"), format_error);
    auto short_values = w;
    short_values[0].values.pop_back();
    CHECK_THROWS_WITH_AS(conv.set_weights(short_values), doctest::Contains("layer conv_c"), format_error);

    // weights() gives back what set_weights took (Keras names without ":0")
    const auto back = conv.weights();
    REQUIRE(back.size() == 2);
    CHECK(back[0].name == "kernel");
    CHECK(back[0].dims == w[0].dims);
    CHECK(back[0].values == w[0].values);
    CHECK(back[1].name == "bias");
    CHECK(back[1].values == w[1].values);

    // a write through the non-const kernel() is seen by the next forward pass
    const Tensor in = random_tensor(1, {8, 9, 3}, rng);
    Tensor before, after;
    conv.forward(in, before);
    conv.bias()[2] += 1.0f;
    conv.forward(in, after);
    CHECK(conv.packed_weights_current());
    CHECK(after.at(0, 1, 1, 2) == doctest::Approx(before.at(0, 1, 1, 2) + 1.0f).epsilon(1e-6));
}

namespace {

/// Plain pooling in double: window (ph, pw) moved by (sh, sw); 'same' computed here from its
/// definition (ceil(in / stride) outputs, TensorFlow's split), padded positions skipped.
template <class Op>
std::vector<double> reference_pool(const Tensor& in, std::size_t ph, std::size_t pw, std::size_t sh, std::size_t sw,
                                   bool same, ImageShape& os) {
    const long H = long(in.height()), W = long(in.width());
    long top = 0, left = 0;
    if (same) {
        os = {(in.height() + sh - 1) / sh, (in.width() + sw - 1) / sw, in.channels()};
        top = std::max(0L, long((os.height - 1) * sh + ph) - H) / 2;
        left = std::max(0L, long((os.width - 1) * sw + pw) - W) / 2;
    } else {
        os = {(in.height() - ph) / sh + 1, (in.width() - pw) / sw + 1, in.channels()};
    }
    std::vector<double> out;
    for (std::size_t n = 0; n < in.batch(); ++n)
        for (std::size_t y = 0; y < os.height; ++y)
            for (std::size_t x = 0; x < os.width; ++x)
                for (std::size_t c = 0; c < os.channels; ++c) {
                    double m = -std::numeric_limits<double>::infinity(), sum = 0;
                    int count = 0;
                    for (long py = 0; py < long(ph); ++py)
                        for (long px = 0; px < long(pw); ++px) {
                            const long iy = long(y * sh) - top + py, ix = long(x * sw) - left + px;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                            const double v = in.at(n, std::size_t(iy), std::size_t(ix), c);
                            m = std::max(m, v);
                            sum += v;
                            ++count;
                        }
                    REQUIRE(count > 0);
                    out.push_back(std::is_same_v<Op, MaxPooling> ? m : sum / count);
                }
    return out;
}

template <class Op>
void check_pool(std::size_t batch, ImageShape in_shape, std::size_t ph, std::size_t pw, std::size_t sh,
                std::size_t sw, Padding padding, unsigned seed) {
    CAPTURE(in_shape.str());
    CAPTURE(ph);
    CAPTURE(pw);
    CAPTURE(sh);
    CAPTURE(sw);
    CAPTURE(padding_name(padding));
    std::mt19937 rng(seed);
    const Pooling2D<Op> pool("pool_x", {ph, pw}, {sh, sw}, padding);
    const Tensor in = random_tensor(batch, in_shape, rng);
    Tensor out;
    pool.forward(in, out);
    ImageShape os;
    const auto want = reference_pool<Op>(in, ph, pw, sh, sw, padding == Padding::same, os);
    REQUIRE(out.shape() == os);
    CHECK(pool.output_shape(in_shape) == os);
    CHECK(mismatches(out, want, 1e-6) == 0);
}

}  // namespace

TEST_CASE("graph layers: Pooling2D matches a double reference, valid and same") {
    for (Padding padding : {Padding::valid, Padding::same}) {
        check_pool<MaxPooling>(2, {8, 7, 5}, 3, 3, 2, 2, padding, 1);
        check_pool<AveragePooling>(2, {8, 7, 5}, 3, 3, 2, 2, padding, 1);
        check_pool<MaxPooling>(3, {9, 10, 19}, 3, 2, 2, 1, padding, 2);
        check_pool<AveragePooling>(3, {9, 10, 19}, 3, 2, 2, 1, padding, 2);
        check_pool<MaxPooling>(1, {7, 11, 1}, 2, 2, 3, 3, padding, 3);   // stride larger than the pool
        check_pool<AveragePooling>(1, {7, 11, 1}, 2, 2, 3, 3, padding, 3);
        check_pool<MaxPooling>(2, {10, 9, 3}, 4, 1, 1, 3, padding, 4);
        check_pool<AveragePooling>(2, {10, 9, 3}, 4, 1, 1, 3, padding, 4);
        check_pool<AveragePooling>(1, {5, 6, 33}, 5, 6, 1, 1, padding, 5);  // 'same' totals 4 and 5
    }
}

TEST_CASE("graph layers: 'same' pooling leaves padded positions out, as TensorFlow") {
    // Values TensorFlow 2.21 gives: tf.nn.avg_pool2d / max_pool2d(x, ..., 'SAME').
    Tensor x(1, {3, 3, 1});
    for (int i = 0; i < 9; ++i) x.data()[i] = float(i + 1);
    Tensor out;
    AveragePooling2D("avg", {2, 2}, {2, 2}, Padding::same).forward(x, out);
    REQUIRE(out.shape() == ImageShape{2, 2, 1});
    CHECK(std::vector<float>(out.data(), out.data() + 4) == std::vector<float>{3.0f, 4.5f, 7.5f, 9.0f});
    for (int i = 0; i < 9; ++i) x.data()[i] = -float(i + 1);  // all negative: a padded zero would win a max
    MaxPooling2D("max", {2, 2}, {2, 2}, Padding::same).forward(x, out);
    CHECK(std::vector<float>(out.data(), out.data() + 4) == std::vector<float>{-1.0f, -3.0f, -7.0f, -9.0f});

    Tensor y(1, {4, 5, 1});
    for (int i = 0; i < 20; ++i) y.data()[i] = float(i + 1);
    AveragePooling2D("avg", {3, 2}, {2, 3}, Padding::same).forward(y, out);
    REQUIRE(out.shape() == ImageShape{2, 2, 1});
    CHECK(std::vector<float>(out.data(), out.data() + 4) == std::vector<float>{6.5f, 9.5f, 14.0f, 17.0f});
}

TEST_CASE("graph layers: Pooling2D refuses what does not fit, naming the layer") {
    CHECK_THROWS_WITH_AS(MaxPooling2D("pool_0", {0, 2}, {2, 2}), doctest::Contains("layer pool_0"), argument_error);
    CHECK_THROWS_WITH_AS(AveragePooling2D("pool_0", {2, 2}, {2, 0}), doctest::Contains("layer pool_0"),
                         argument_error);
    const MaxPooling2D valid("pool_v", {3, 2}, {1, 1});
    CHECK_THROWS_WITH_AS(valid.output_shape({2, 5, 3}), doctest::Contains("layer pool_v"), shape_error);
    CHECK_THROWS_WITH_AS(valid.output_shape({5, 1, 3}), doctest::Contains("layer pool_v"), shape_error);
    const AveragePooling2D same("pool_s", {3, 2}, {1, 1}, Padding::same);
    CHECK(same.output_shape({2, 1, 3}) == ImageShape{2, 1, 3});
    CHECK_THROWS_WITH_AS(same.output_shape({0, 1, 3}), doctest::Contains("layer pool_s"), shape_error);
}

TEST_CASE("graph layers: GlobalPooling2D gives each channel's max or mean") {
    std::mt19937 rng(31);
    for (ImageShape s : {ImageShape{5, 3, 7}, ImageShape{1, 1, 19}, ImageShape{13, 11, 2}}) {
        const Tensor in = random_tensor(3, s, rng);
        Tensor mx, avg;
        GlobalMaxPooling2D("gmp").forward(in, mx);
        GlobalAveragePooling2D("gap").forward(in, avg);
        REQUIRE(mx.shape() == ImageShape{1, 1, s.channels});
        REQUIRE(avg.shape() == ImageShape{1, 1, s.channels});
        std::vector<double> want_max, want_avg;
        for (std::size_t n = 0; n < 3; ++n)
            for (std::size_t c = 0; c < s.channels; ++c) {
                double m = -std::numeric_limits<double>::infinity(), sum = 0;
                for (std::size_t y = 0; y < s.height; ++y)
                    for (std::size_t x = 0; x < s.width; ++x) {
                        m = std::max(m, double(in.at(n, y, x, c)));
                        sum += in.at(n, y, x, c);
                    }
                want_max.push_back(m);
                want_avg.push_back(sum / double(s.height * s.width));
            }
        CHECK(mismatches(mx, want_max, 0) == 0);
        CHECK(mismatches(avg, want_avg, 1e-6) == 0);
    }
    CHECK(GlobalAveragePooling2D("gap").output_shape({4, 4, 9}) == ImageShape{1, 1, 9});
    CHECK_THROWS_WITH_AS(GlobalMaxPooling2D("gmp_1").output_shape({0, 4, 9}), doctest::Contains("layer gmp_1"),
                         shape_error);
}

namespace {

std::vector<WeightArray> bn_weights(std::size_t C, bool center, bool scale, std::mt19937& rng) {
    std::uniform_real_distribution<float> positive(0.05f, 3.0f);
    std::vector<WeightArray> w;
    if (scale) w.push_back({"gamma", {C}, random_values(C, rng)});
    if (center) w.push_back({"beta", {C}, random_values(C, rng)});
    w.push_back({"moving_mean", {C}, random_values(C, rng)});
    std::vector<float> var(C);
    for (auto& v : var) v = positive(rng);
    w.push_back({"moving_variance", {C}, var});
    return w;
}

}  // namespace

TEST_CASE("graph layers: BatchNormalization normalises each channel as Keras' inference") {
    std::mt19937 rng(41);
    for (bool center : {true, false})
        for (bool scale : {true, false})
            for (ImageShape s : {ImageShape{4, 5, 7}, ImageShape{1, 1, 19}, ImageShape{3, 2, 33}}) {
                CAPTURE(center);
                CAPTURE(scale);
                CAPTURE(s.str());
                const float eps = 1e-3f;
                BatchNormalization bn("bn_1", eps, center, scale);
                const auto w = bn_weights(s.channels, center, scale, rng);
                bn.set_weights(w);
                std::size_t i = 0;
                const std::vector<float> one(s.channels, 1.0f), zero(s.channels, 0.0f);
                const std::vector<float>& gamma = scale ? w[i++].values : one;
                const std::vector<float>& beta = center ? w[i++].values : zero;
                const std::vector<float>& mean = w[i++].values;
                const std::vector<float>& var = w[i++].values;

                const Tensor in = random_tensor(2, s, rng);
                Tensor out;
                bn.forward(in, out);
                REQUIRE(out.shape() == s);
                std::vector<double> want;
                std::size_t not_tf = 0;
                for (std::size_t k = 0; k < in.size(); ++k) {
                    const std::size_t c = k % s.channels;
                    want.push_back((double(in.data()[k]) - mean[c]) / std::sqrt(double(var[c]) + double(eps)) *
                                       gamma[c] +
                                   beta[c]);
                    // tf.nn.batch_normalization's float steps
                    float inv = 1.0f / std::sqrt(var[c] + eps);
                    inv *= gamma[c];
                    const float tf = in.data()[k] * inv + (beta[c] - mean[c] * inv);
                    if (std::fabs(out.data()[k] - tf) > 1e-6f * std::max(1.0f, std::fabs(tf))) ++not_tf;
                }
                CHECK(mismatches(out, want, 1e-5) == 0);
                CHECK(not_tf == 0);

                // weights() in Keras' order with Keras' names
                const auto back = bn.weights();
                REQUIRE(back.size() == w.size());
                std::vector<std::string> names;
                for (std::size_t j = 0; j < back.size(); ++j) {
                    names.push_back(back[j].name);
                    CHECK(back[j].values == w[j].values);
                    CHECK(back[j].dims == w[j].dims);
                }
                std::vector<std::string> want_names;
                if (scale) want_names.push_back("gamma");
                if (center) want_names.push_back("beta");
                want_names.push_back("moving_mean");
                want_names.push_back("moving_variance");
                CHECK(names == want_names);
            }
}

TEST_CASE("graph layers: BatchNormalization checks its weights and inputs, naming the layer") {
    std::mt19937 rng(42);
    BatchNormalization bn("bn_2", 1e-3f, true, true);
    CHECK_THROWS_WITH_AS(bn.output_shape({2, 2, 4}), doctest::Contains("layer bn_2: no weights"), shape_error);
    const auto w = bn_weights(4, true, true, rng);
    CHECK_THROWS_WITH_AS(bn.set_weights({w[0], w[1], w[2]}), doctest::Contains("layer bn_2"), format_error);
    auto longer = w;
    longer[2] = {"moving_mean", {5}, std::vector<float>(5, 0.0f)};
    CHECK_THROWS_WITH_AS(bn.set_weights(longer), doctest::Contains("layer bn_2"), shape_error);
    auto rank2 = w;
    rank2[0].dims = {2, 2};
    CHECK_THROWS_WITH_AS(bn.set_weights(rank2), doctest::Contains("layer bn_2"), shape_error);
    auto inf = w;
    inf[1].values[3] = std::numeric_limits<float>::infinity();
    CHECK_THROWS_WITH_AS(bn.set_weights(inf), doctest::Contains("layer bn_2"), format_error);
    auto negative = w;
    negative[3].values[1] = -1.0f;
    CHECK_THROWS_WITH_AS(bn.set_weights(negative), doctest::Contains("layer bn_2"), format_error);
    bn.set_weights(w);
    CHECK(bn.channels() == 4);
    CHECK(bn.output_shape({1, 1, 4}) == ImageShape{1, 1, 4});
    CHECK_THROWS_WITH_AS(bn.output_shape({3, 3, 5}), doctest::Contains("layer bn_2"), shape_error);
    CHECK_THROWS_WITH_AS(BatchNormalization("bn_3", -1.0f), doctest::Contains("layer bn_3"), argument_error);
    // without gamma and beta only the moving statistics are expected
    BatchNormalization plain("bn_4", 1e-3f, false, false);
    CHECK_THROWS_WITH_AS(plain.set_weights(w), doctest::Contains("layer bn_4"), format_error);
    plain.set_weights({w[2], w[3]});
    CHECK(plain.weights().size() == 2);
}

TEST_CASE("graph layers: RuntimeActivation computes each kind") {
    std::mt19937 rng(51);
    Tensor in = random_tensor(3, {4, 5, 7}, rng);
    in.data()[0] = 0.0f;
    in.data()[1] = 25.0f;
    in.data()[2] = -25.0f;
    const auto check_kind = [&](ActivationKind kind, std::optional<float> alpha, auto&& f) {
        CAPTURE(activation_kind_name(kind));
        const RuntimeActivation act("act", kind, alpha);
        Tensor out;
        act.forward(in, out);
        REQUIRE(out.shape() == in.shape());
        std::vector<double> want;
        for (std::size_t k = 0; k < in.size(); ++k) want.push_back(f(double(in.data()[k])));
        CHECK(mismatches(out, want, 1e-6) == 0);
        Tensor same = in;  // in place
        act.forward(same, same);
        CHECK(same_bits(same, out));
    };
    check_kind(ActivationKind::linear, std::nullopt, [](double v) { return v; });
    check_kind(ActivationKind::relu, std::nullopt, [](double v) { return std::max(v, 0.0); });
    check_kind(ActivationKind::sigmoid, std::nullopt, [](double v) { return 1.0 / (1.0 + std::exp(-v)); });
    check_kind(ActivationKind::tanh, std::nullopt, [](double v) { return std::tanh(v); });
    check_kind(ActivationKind::elu, std::nullopt, [](double v) { return v > 0 ? v : std::exp(v) - 1; });
    check_kind(ActivationKind::elu, 0.7f, [](double v) { return v > 0 ? v : 0.7 * (std::exp(v) - 1); });
    check_kind(ActivationKind::leaky_relu, 0.3f, [](double v) { return v >= 0 ? v : double(0.3f) * v; });

    // softmax over the last axis, stable for large values
    in.data()[3] = 1000.0f;
    const RuntimeActivation softmax("sm", ActivationKind::softmax);
    Tensor out;
    softmax.forward(in, out);
    std::size_t bad = 0;
    for (std::size_t r = 0; r < in.size() / 7; ++r) {
        const float* x = in.data() + r * 7;
        const double m = *std::max_element(x, x + 7);
        double sum = 0;
        for (int c = 0; c < 7; ++c) sum += std::exp(double(x[c]) - m);
        for (int c = 0; c < 7; ++c)
            if (!close(out.data()[r * 7 + c], std::exp(double(x[c]) - m) / sum, 1e-6)) ++bad;
    }
    CHECK(bad == 0);
    CHECK(out.data()[3] == 1.0f);
}

TEST_CASE("graph layers: activation kinds from Keras names") {
    for (const char* name : {"linear", "relu", "sigmoid", "tanh", "softmax", "elu", "leaky_relu"})
        CHECK(std::string(activation_kind_name(activation_kind_from_keras(name))) == name);
    for (const char* name : {"selu", "gelu", "swish", "softplus", "hard_sigmoid", "Relu", ""})
        CHECK_THROWS_WITH_AS(activation_kind_from_keras(name), doctest::Contains(("'" + std::string(name) + "'").c_str()),
                             argument_error);
    CHECK(zero_preserving(ActivationKind::relu));
    CHECK(zero_preserving(ActivationKind::elu));
    CHECK(zero_preserving(ActivationKind::leaky_relu));
    CHECK(zero_preserving(ActivationKind::tanh));
    CHECK(zero_preserving(ActivationKind::linear));
    CHECK_FALSE(zero_preserving(ActivationKind::sigmoid));
    CHECK_FALSE(zero_preserving(ActivationKind::softmax));
    CHECK(RuntimeActivation("e", ActivationKind::elu).alpha() == 1.0f);
    CHECK_THROWS_WITH_AS(RuntimeActivation("lrelu_1", ActivationKind::leaky_relu), doctest::Contains("layer lrelu_1"),
                         argument_error);
    CHECK_THROWS_WITH_AS(RuntimeActivation("elu_1", ActivationKind::elu, std::numeric_limits<float>::infinity()),
                         doctest::Contains("layer elu_1"), argument_error);
}

TEST_CASE("graph layers: Add sums its inputs in order") {
    std::mt19937 rng(61);
    const Tensor a = random_tensor(2, {3, 5, 7}, rng), b = random_tensor(2, {3, 5, 7}, rng),
                 c = random_tensor(2, {3, 5, 7}, rng);
    const Add add("add_1");
    CHECK(add.output_shape({a.shape(), b.shape(), c.shape()}) == a.shape());
    Tensor out;
    add.forward({&a, &b, &c}, out);
    REQUIRE(out.shape() == a.shape());
    std::size_t bad = 0;
    for (std::size_t k = 0; k < a.size(); ++k)
        if (out.data()[k] != (a.data()[k] + b.data()[k]) + c.data()[k]) ++bad;
    CHECK(bad == 0);
    Tensor alias = b;  // the output may be an input
    add.forward({&a, &alias, &c}, alias);
    CHECK(same_bits(alias, out));
    Tensor single;
    add.forward({&a}, single);
    CHECK(same_bits(single, a));

    const Tensor other = random_tensor(2, {3, 5, 6}, rng), fewer = random_tensor(1, {3, 5, 7}, rng);
    CHECK_THROWS_WITH_AS(add.output_shape({a.shape(), other.shape()}), doctest::Contains("layer add_1"), shape_error);
    CHECK_THROWS_WITH_AS(add.forward({&a, &other}, out), doctest::Contains("layer add_1"), shape_error);
    CHECK_THROWS_WITH_AS(add.forward({&a, &fewer}, out), doctest::Contains("layer add_1"), shape_error);
    CHECK_THROWS_WITH_AS(add.output_shape({}), doctest::Contains("layer add_1"), shape_error);
}

TEST_CASE("graph layers: Concatenate joins channels") {
    std::mt19937 rng(62);
    const Tensor a = random_tensor(3, {4, 3, 2}, rng), b = random_tensor(3, {4, 3, 5}, rng),
                 c = random_tensor(3, {4, 3, 1}, rng);
    const Concatenate cat("concat_1");
    CHECK(cat.output_shape({a.shape(), b.shape(), c.shape()}) == ImageShape{4, 3, 8});
    Tensor out;
    cat.forward({&a, &b, &c}, out);
    REQUIRE(out.shape() == ImageShape{4, 3, 8});
    std::size_t bad = 0;
    for (std::size_t n = 0; n < 3; ++n)
        for (std::size_t y = 0; y < 4; ++y)
            for (std::size_t x = 0; x < 3; ++x)
                for (std::size_t ch = 0; ch < 8; ++ch) {
                    const float want = ch < 2 ? a.at(n, y, x, ch) : ch < 7 ? b.at(n, y, x, ch - 2) : c.at(n, y, x, 0);
                    if (out.at(n, y, x, ch) != want) ++bad;
                }
    CHECK(bad == 0);
    Tensor alias = a;
    cat.forward({&alias, &b, &c}, alias);
    CHECK(same_bits(alias, out));

    // vectors after Dense or Flatten
    const Tensor u = random_tensor(2, {1, 1, 3}, rng), v = random_tensor(2, {1, 1, 4}, rng);
    cat.forward({&u, &v}, out);
    REQUIRE(out.shape() == ImageShape{1, 1, 7});
    CHECK(out.at(1, 0, 0, 2) == u.at(1, 0, 0, 2));
    CHECK(out.at(1, 0, 0, 3) == v.at(1, 0, 0, 0));

    CHECK_THROWS_WITH_AS(cat.output_shape({{4, 3, 2}, {4, 2, 2}}), doctest::Contains("layer concat_1"), shape_error);
    CHECK_THROWS_WITH_AS(cat.output_shape({}), doctest::Contains("layer concat_1"), shape_error);
    const Tensor fewer = random_tensor(1, {4, 3, 2}, rng);
    CHECK_THROWS_WITH_AS(cat.forward({&a, &fewer}, out), doctest::Contains("layer concat_1"), shape_error);
}

}  // namespace test_graph_layers
