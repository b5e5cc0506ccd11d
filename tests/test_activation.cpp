// Activations (Linear, Relu, Sigmoid, Tanh, Softmax as an output, a user-defined one with only
// apply) on every kernel path against a plain double-precision reference: the convolution
// (micro-kernel with remainder packets and tile widths, channel groups, the AVX-512 shared
// packet, the plain path for layers wider than the micro-kernels), the fused convolution and
// max pooling, dense, the stand-alone Activation layer; and the activations' derivatives in
// activation_backward against finite differences.

#include <doctest/doctest.h>

#include <prunedef/core/activation.hpp>
#include <prunedef/kernels/conv2d.hpp>
#include <prunedef/kernels/conv2d_maxpool.hpp>
#include <prunedef/kernels/dense.hpp>
#include <prunedef/kernels/elementwise.hpp>
#include <prunedef/layers/activation.hpp>
#include <prunedef/layers/dense.hpp>
#include <prunedef/training/backprop.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_activation {

using namespace prunedef;

namespace {

/// A user-defined activation with only apply(): the kernels apply it lane by lane.
struct Softsign {
    static float apply(float x) { return x / (1.0f + std::fabs(x)); }
};

static_assert(!Sigmoid::zero_preserving && Tanh::zero_preserving && Relu::zero_preserving && Linear::zero_preserving);
static_assert(!Softmax::elementwise && Sigmoid::elementwise && Tanh::monotone_nondecreasing);
static_assert(detail::activation_traits<Softsign>::elementwise && !detail::activation_traits<Softsign>::zero_preserving &&
              !detail::activation_traits<Softsign>::monotone_nondecreasing);
static_assert(!detail::activation_traits<Softmax>::elementwise);

template <class A>
double reference_activation(double z) {
    if constexpr (std::is_same_v<A, Linear>) return z;
    else if constexpr (std::is_same_v<A, Relu>) return std::max(z, 0.0);
    else if constexpr (std::is_same_v<A, Sigmoid>) return 1.0 / (1.0 + std::exp(-z));
    else if constexpr (std::is_same_v<A, Tanh>) return std::tanh(z);
    else if constexpr (std::is_same_v<A, Softsign>) return z / (1.0 + std::fabs(z));
    else static_assert(std::is_same_v<A, Linear>, "no reference for this activation");
}

/// A value computed in double: the exact result and a bound on the float rounding of the sum
/// that produced its argument (sum of the terms' magnitudes).
struct Want {
    double value, scale;
};

/// Within 1e-5 relative, plus the rounding of the float sum (the activations' slopes are <= 1).
bool close(float got, const Want& w) {
    return std::fabs(double(got) - w.value) <= 1e-5 * std::fabs(w.value) + 1e-6 * w.scale + 1e-30;
}

/// Applies the reference activation to runs of k values (softmax over each run).
template <class A>
void reference_activate(std::vector<Want>& v, std::size_t k) {
    if constexpr (std::is_same_v<A, Softmax>) {
        for (std::size_t r = 0; r < v.size(); r += k) {
            double m = -std::numeric_limits<double>::infinity(), sum = 0, scale = 0;
            for (std::size_t i = r; i < r + k; ++i) m = std::max(m, v[i].value), scale = std::max(scale, v[i].scale);
            for (std::size_t i = r; i < r + k; ++i) sum += std::exp(v[i].value - m);
            // The output's error is relative: softmax's relative sensitivity to its inputs is <= 2.
            for (std::size_t i = r; i < r + k; ++i) {
                const double y = std::exp(v[i].value - m) / sum;
                v[i] = {y, 2 * scale * y};
            }
        }
    } else {
        for (auto& w : v) w.value = reference_activation<A>(w.value);
    }
}

Tensor random_tensor(std::size_t batch, ImageShape shape, std::mt19937& rng, float sigma = 1.0f) {
    Tensor t(batch, shape);
    std::normal_distribution<float> dist(0.0f, sigma);
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = dist(rng);
    return t;
}

std::vector<float> random_values(std::size_t n, std::mt19937& rng, float sigma) {
    std::normal_distribution<float> dist(0.0f, sigma);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

/// The activated convolution in double (NHWC, valid, stride 1).
template <class A>
std::vector<Want> reference_conv(const Tensor& in, const detail::ConvGeometry& g, const std::vector<float>& kernel,
                                 const std::vector<float>& bias) {
    const std::size_t oh = in.height() - g.kernel_h + 1, ow = in.width() - g.kernel_w + 1, C = g.out_channels;
    std::vector<Want> out(in.batch() * oh * ow * C);
    for (std::size_t n = 0; n < in.batch(); ++n)
        for (std::size_t y = 0; y < oh; ++y)
            for (std::size_t x = 0; x < ow; ++x)
                for (std::size_t o = 0; o < C; ++o) {
                    double s = bias[o], scale = std::fabs(bias[o]);
                    for (std::size_t ky = 0; ky < g.kernel_h; ++ky)
                        for (std::size_t kx = 0; kx < g.kernel_w; ++kx)
                            for (std::size_t c = 0; c < g.in_channels; ++c) {
                                const double t = double(in.at(n, y + ky, x + kx, c)) *
                                                 double(kernel[((ky * g.kernel_w + kx) * g.in_channels + c) * C + o]);
                                s += t;
                                scale += std::fabs(t);
                            }
                    out[((n * oh + y) * ow + x) * C + o] = {s, scale};
                }
    reference_activate<A>(out, C);
    return out;
}

/// Compares every value; reports the first mismatch.
void check_all(const Tensor& got, const std::vector<Want>& want, const std::string& what) {
    REQUIRE(got.size() == want.size());
    std::size_t bad = 0, first = 0;
    for (std::size_t i = 0; i < want.size(); ++i)
        if (!close(got.data()[i], want[i]) && bad++ == 0) first = i;
    INFO(what << ": " << bad << " of " << want.size() << " values differ; first at " << first << ": got "
              << (bad ? got.data()[first] : 0.0f) << ", want " << (bad ? want[first].value : 0.0));
    CHECK(bad == 0);
}

/// The shared-packet lanes the dispatch picks for these channel counts, as packed by conv2d.
int packed_shared_lanes(const detail::ConvGeometry& g, const std::vector<float>& kernel, const std::vector<float>& bias,
                        std::size_t out_w) {
    detail::PackedKernel p;
    detail::pack_kernel(g, kernel.data(), bias.data(), p);
    // the shared packet runs when the channels run as one group at this row width
    return detail::packets_per_group(p.packets, g.patch_size(), out_w) == p.packets ? p.shared_lanes : 0;
}

struct ConvCase {
    std::size_t batch, h, w, cin, kh, kw, cout;
    int shared_lanes_avx512;  // lanes of the shared packet under AVX-512 (0: the plain micro-kernel)
};

// Odd shapes: remainder channels (7, 19, 33), the AVX-512 shared packet (16k+4 and 16k+8
// channels with few input channels), channel groups (a kernel over the L1 budget), odd row widths
// (tile widths and the shared path's leftover pixels), and more channels than the micro-kernels
// cover (the plain per-pixel path).
const ConvCase conv_cases[] = {
    {2, 9, 11, 3, 3, 3, 7, 0},      {2, 7, 13, 4, 2, 3, 19, 0},   {1, 6, 29, 5, 3, 2, 33, 0},
    {2, 8, 15, 3, 3, 3, 20, 4},     {1, 7, 11, 5, 2, 2, 24, 8},   {1, 6, 13, 2, 3, 3, 36, 4},
    {1, 5, 9, 7, 2, 2, 40, 8},      {1, 12, 10, 40, 3, 3, 60, 0}, {1, 6, 5, 2, 2, 2, 130, 0},
    {3, 5, 4, 1, 1, 1, 16, 0},
};

template <class A>
void check_conv_paths() {
    std::mt19937 rng(11);
    for (const ConvCase& k : conv_cases) {
        const detail::ConvGeometry g{k.kh, k.kw, k.cin, k.cout};
        const Tensor in = random_tensor(k.batch, {k.h, k.w, k.cin}, rng);
        const float sigma = 1.5f / std::sqrt(float(g.patch_size()));  // pre-activations of about 1.5
        const auto kernel = random_values(g.patch_size() * k.cout, rng, sigma);
        const auto bias = random_values(k.cout, rng, 0.5f);
        const std::string shape = std::to_string(k.batch) + " x " + std::to_string(k.h) + "x" + std::to_string(k.w) +
                                  "x" + std::to_string(k.cin) + ", " + std::to_string(k.kh) + "x" +
                                  std::to_string(k.kw) + " kernel, " + std::to_string(k.cout) + " outputs";
        const std::size_t out_w = k.w - k.kw + 1;
#if defined(EIGEN_VECTORIZE_AVX512)
        // The shapes meant for the shared packet really take it (and the others do not).
        CHECK_MESSAGE(packed_shared_lanes(g, kernel, bias, out_w) == k.shared_lanes_avx512, shape);
#else
        CHECK_MESSAGE(packed_shared_lanes(g, kernel, bias, out_w) == 0, shape);
#endif
        const auto want = reference_conv<A>(in, g, kernel, bias);
        Tensor out;
        conv2d<A>(in, g, kernel.data(), bias.data(), out);
        check_all(out, want, "conv2d, " + shape);

        // Fused with max pooling: the pooled maximum of the activated reference.
        const ImageShape cs = g.output_shape(in.shape());
        for (const auto& [pool, stride] : {std::pair<std::size_t, std::size_t>{2, 2}, {3, 2}}) {
            if (cs.height < pool || cs.width < pool) continue;
            const ImageShape ps{(cs.height - pool) / stride + 1, (cs.width - pool) / stride + 1, cs.channels};
            std::vector<Want> pooled(k.batch * ps.size());
            for (std::size_t n = 0; n < k.batch; ++n)
                for (std::size_t y = 0; y < ps.height; ++y)
                    for (std::size_t x = 0; x < ps.width; ++x)
                        for (std::size_t c = 0; c < cs.channels; ++c) {
                            Want best{-std::numeric_limits<double>::infinity(), 0};
                            for (std::size_t r = 0; r < pool; ++r)
                                for (std::size_t q = 0; q < pool; ++q) {
                                    const Want& v = want[((n * cs.height + y * stride + r) * cs.width + x * stride + q) *
                                                             cs.channels + c];
                                    if (v.value > best.value) best.value = v.value;
                                    best.scale = std::max(best.scale, v.scale);
                                }
                            pooled[((n * ps.height + y) * ps.width + x) * cs.channels + c] = best;
                        }
            Tensor fused;
            conv2d_maxpool<A>(in, g, kernel.data(), bias.data(), pool, stride, fused);
            check_all(fused, pooled, "conv2d_maxpool " + std::to_string(pool) + "/" + std::to_string(stride) + ", " + shape);
        }
    }
}

/// dense<A> against the double reference on odd sizes: remainder columns, several column blocks,
/// several image tiles with a partial last one.
template <class A>
void check_dense_paths() {
    std::mt19937 rng(23);
    struct Case {
        std::size_t batch, in, out;
    };
    for (const Case& k : {Case{3, 37, 83}, Case{13, 5, 7}, Case{1, 160, 17}, Case{29, 11, 33}, Case{2, 3, 1}}) {
        const Tensor in = random_tensor(k.batch, {1, 1, k.in}, rng);
        const auto weights = random_values(k.in * k.out, rng, 1.5f / std::sqrt(float(k.in)));
        const auto bias = random_values(k.out, rng, 0.5f);
        std::vector<Want> want(k.batch * k.out);
        for (std::size_t n = 0; n < k.batch; ++n)
            for (std::size_t o = 0; o < k.out; ++o) {
                double s = bias[o], scale = std::fabs(bias[o]);
                for (std::size_t i = 0; i < k.in; ++i) {
                    const double t = double(in.image(n)[i]) * double(weights[i * k.out + o]);
                    s += t;
                    scale += std::fabs(t);
                }
                want[n * k.out + o] = {s, scale};
            }
        reference_activate<A>(want, k.out);
        Tensor out;
        dense<A>(in, weights.data(), bias.data(), k.out, out);
        CHECK(out.shape() == ImageShape{1, 1, k.out});
        check_all(out, want,
                  "dense, batch " + std::to_string(k.batch) + ", " + std::to_string(k.in) + " -> " + std::to_string(k.out));
    }
}

/// The stand-alone Activation layer (softmax over the last axis: each position's channels).
template <class A>
void check_activation_layer() {
    std::mt19937 rng(31);
    for (const ImageShape shape : {ImageShape{3, 5, 7}, ImageShape{1, 1, 83}, ImageShape{2, 2, 16}, ImageShape{1, 1, 1}}) {
        const Tensor in = random_tensor(2, shape, rng, 3.0f);
        std::vector<Want> want(in.size());
        for (std::size_t i = 0; i < in.size(); ++i) want[i] = {double(in.data()[i]), 0.0};
        reference_activate<A>(want, shape.channels);
        Tensor out;
        Activation<A>("act").forward(in, out);
        CHECK(out.shape() == shape);
        check_all(out, want, "Activation layer on 2 x " + shape.str());
    }
}

}  // namespace

TEST_CASE_TEMPLATE("convolution and fused convolution + max pooling apply the activation", A, Linear, Relu, Sigmoid,
                   Tanh, Softsign) {
    check_conv_paths<A>();
}

TEST_CASE_TEMPLATE("dense applies the activation", A, Linear, Relu, Sigmoid, Tanh, Softmax, Softsign) {
    check_dense_paths<A>();
}

TEST_CASE_TEMPLATE("the Activation layer applies the activation", A, Linear, Relu, Sigmoid, Tanh, Softmax, Softsign) {
    check_activation_layer<A>();
}

TEST_CASE("Dense<Sigmoid> with bias -5 on a zero input gives sigmoid(-5), not -5") {
    Dense<Sigmoid> d("d");
    d.set_weights({{"kernel:0", {3, 2}, std::vector<float>(6, 0.25f)}, {"bias:0", {2}, {-5.0f, 5.0f}}});
    const Tensor zero(1, {1, 1, 3});
    Tensor out;
    d.forward(zero, out);
    CHECK(out.data()[0] == doctest::Approx(0.0066929).epsilon(1e-4));
    CHECK(out.data()[0] == doctest::Approx(1.0 / (1.0 + std::exp(5.0))).epsilon(1e-6));
    CHECK(out.data()[1] == doctest::Approx(1.0 / (1.0 + std::exp(-5.0))).epsilon(1e-6));
}

TEST_CASE("Dense<Softmax> is a numerically stable softmax of the row") {
    Dense<Softmax> d("d");
    d.set_weights({{"kernel:0", {1, 3}, {0.0f, 0.0f, 0.0f}}, {"bias:0", {3}, {1000.0f, 1001.0f, 999.0f}}});
    Tensor out;
    d.forward(Tensor(2, {1, 1, 1}), out);
    const double e = std::exp(1.0), sum = 1 + e + 1 / e;
    for (std::size_t n = 0; n < 2; ++n) {
        CHECK(out.image(n)[0] == doctest::Approx(1 / sum).epsilon(1e-6));
        CHECK(out.image(n)[1] == doctest::Approx(e / sum).epsilon(1e-6));
        CHECK(out.image(n)[2] == doctest::Approx(1 / e / sum).epsilon(1e-6));
    }
}

TEST_CASE_TEMPLATE("activation_backward multiplies by the derivative (finite differences)", A, Sigmoid, Tanh, Relu,
                   Linear) {
    std::mt19937 rng(41);
    const Tensor z = random_tensor(3, {2, 3, 5}, rng, 2.0f);
    Tensor y;
    Activation<A>("act").forward(z, y);
    Tensor d = random_tensor(3, {2, 3, 5}, rng);
    const Tensor dout = d;
    detail::activation_backward<A>(y, d);
    const double h = 1e-4;
    for (std::size_t i = 0; i < z.size(); ++i) {
        const double zi = z.data()[i];
        if (std::is_same_v<A, Relu> && std::fabs(zi) < 2 * h) continue;  // the kink
        const double slope = (reference_activation<A>(zi + h) - reference_activation<A>(zi - h)) / (2 * h);
        const double want = dout.data()[i] * slope;
        CHECK(std::fabs(d.data()[i] - want) <= 1e-5 + 1e-4 * std::fabs(want));
    }
}

}  // namespace test_activation
