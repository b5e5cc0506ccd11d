// The kernels (conv2d, maxpool2d, dense, add, softmax, argmax) against plain reference loops
// computed in double, on odd shapes; conv2d is also checked for bit-identical results with 1
// and 2 threads.

#include <doctest/doctest.h>

#include <prunedef/core/activation.hpp>
#include <prunedef/core/parallel.hpp>
#include <prunedef/kernels/conv2d.hpp>
#include <prunedef/kernels/conv2d_maxpool.hpp>
#include <prunedef/kernels/dense.hpp>
#include <prunedef/kernels/elementwise.hpp>
#include <prunedef/kernels/maxpool2d.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_kernels {

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

bool close(float got, double want) { return std::fabs(double(got) - want) <= 1e-4 * std::max(1.0, std::fabs(want)); }

/// Plain NHWC valid convolution, stride 1, in double.
template <class Activation>
std::vector<double> reference_conv(const Tensor& in, const detail::ConvGeometry& g, const std::vector<float>& kernel,
                                   const std::vector<float>& bias) {
    const std::size_t oh = in.height() - g.kernel_h + 1, ow = in.width() - g.kernel_w + 1;
    std::vector<double> out(in.batch() * oh * ow * g.out_channels);
    for (std::size_t n = 0; n < in.batch(); ++n)
        for (std::size_t y = 0; y < oh; ++y)
            for (std::size_t x = 0; x < ow; ++x)
                for (std::size_t o = 0; o < g.out_channels; ++o) {
                    double s = bias[o];
                    for (std::size_t ky = 0; ky < g.kernel_h; ++ky)
                        for (std::size_t kx = 0; kx < g.kernel_w; ++kx)
                            for (std::size_t c = 0; c < g.in_channels; ++c)
                                s += double(in.at(n, y + ky, x + kx, c)) *
                                     double(kernel[((ky * g.kernel_w + kx) * g.in_channels + c) * g.out_channels + o]);
                    out[((n * oh + y) * ow + x) * g.out_channels + o] = std::is_same_v<Activation, Relu> ? std::max(s, 0.0) : s;
                }
    return out;
}

template <class Activation>
void check_conv(std::size_t batch, ImageShape in_shape, std::size_t kh, std::size_t kw, std::size_t cout,
                unsigned seed) {
    std::mt19937 rng(seed);
    const detail::ConvGeometry g{kh, kw, in_shape.channels, cout};
    const Tensor in = random_tensor(batch, in_shape, rng);
    const auto kernel = random_values(g.patch_size() * cout, rng, 0.5f);
    const auto bias = random_values(cout, rng, 0.5f);
    Tensor out;
    conv2d<Activation>(in, g, kernel.data(), bias.data(), out);

    REQUIRE(out.batch() == batch);
    REQUIRE(out.shape() == ImageShape{in_shape.height - kh + 1, in_shape.width - kw + 1, cout});
    const auto ref = reference_conv<Activation>(in, g, kernel, bias);
    REQUIRE(ref.size() == out.size());
    std::size_t bad = 0, zeros = 0, negatives = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
        if (!close(out.data()[i], ref[i])) ++bad;
        if (out.data()[i] == 0.0f) ++zeros;
        if (out.data()[i] < 0.0f) ++negatives;
    }
    CHECK(bad == 0);
    if (std::is_same_v<Activation, Relu>) {
        CHECK(negatives == 0);
        if (ref.size() > 20) CHECK(zeros > 0);  // the ReLU really clipped something
    } else if (ref.size() > 20) {
        CHECK(negatives > 0);
    }
}

/// Plain max pooling, floor semantics.
std::vector<float> reference_pool(const Tensor& in, std::size_t pool, std::size_t stride, ImageShape& os) {
    os = {(in.height() - pool) / stride + 1, (in.width() - pool) / stride + 1, in.channels()};
    std::vector<float> out;
    for (std::size_t n = 0; n < in.batch(); ++n)
        for (std::size_t y = 0; y < os.height; ++y)
            for (std::size_t x = 0; x < os.width; ++x)
                for (std::size_t c = 0; c < os.channels; ++c) {
                    float m = -std::numeric_limits<float>::infinity();
                    for (std::size_t py = 0; py < pool; ++py)
                        for (std::size_t px = 0; px < pool; ++px)
                            m = std::max(m, in.at(n, y * stride + py, x * stride + px, c));
                    out.push_back(m);
                }
    return out;
}

template <class Activation>
void check_dense(std::size_t batch, ImageShape in_shape, std::size_t out_features, unsigned seed) {
    std::mt19937 rng(seed);
    const Tensor in = random_tensor(batch, in_shape, rng);
    const std::size_t k = in_shape.size();
    const auto w = random_values(k * out_features, rng, 0.3f);
    const auto b = random_values(out_features, rng);
    Tensor out;
    dense<Activation>(in, w.data(), b.data(), out_features, out);
    REQUIRE(out.batch() == batch);
    REQUIRE(out.shape() == ImageShape{1, 1, out_features});
    std::size_t bad = 0;
    for (std::size_t n = 0; n < batch; ++n)
        for (std::size_t o = 0; o < out_features; ++o) {
            double s = b[o];
            for (std::size_t i = 0; i < k; ++i) s += double(in.image(n)[i]) * double(w[i * out_features + o]);
            const double want = std::is_same_v<Activation, Relu> ? std::max(s, 0.0) : s;
            if (!close(out.at(n, 0, 0, o), want)) ++bad;
        }
    CHECK(bad == 0);
}

}  // namespace

TEST_CASE("kernels: conv2d matches a reference loop on odd shapes") {
    SUBCASE("batch 3, 13x11x5, 3x2 kernel, 7 outputs, relu") { check_conv<Relu>(3, {13, 11, 5}, 3, 2, 7, 1); }
    SUBCASE("batch 3, 13x11x5, 3x2 kernel, 7 outputs, linear") { check_conv<Linear>(3, {13, 11, 5}, 3, 2, 7, 2); }
    SUBCASE("1x1 kernel") { check_conv<Linear>(2, {9, 7, 3}, 1, 1, 5, 3); }
    SUBCASE("kernel equal to the image") { check_conv<Linear>(3, {5, 3, 4}, 5, 3, 6, 4); }
    SUBCASE("batch 1, one input channel") { check_conv<Relu>(1, {17, 15, 1}, 4, 4, 3, 5); }
    SUBCASE("many row blocks per image") { check_conv<Relu>(2, {41, 37, 3}, 3, 3, 9, 6); }
    SUBCASE("a deep input whose row block is limited by the im2col cache budget") {
        check_conv<Linear>(2, {20, 12, 64}, 3, 3, 3, 7);
    }
    SUBCASE("an image wider than one block of pixels") { check_conv<Relu>(1, {4, 301, 2}, 2, 3, 3, 8); }
    SUBCASE("DeepID conv_1's geometry: 44-pixel rows cut into equal tiles") {
        check_conv<Relu>(2, {9, 47, 3}, 4, 4, 20, 9);
    }
    SUBCASE("DeepID conv_3's geometry: a kernel larger than L1 runs in channel groups") {
        REQUIRE(detail::packets_per_group(60 / detail::packet_size + (60 % detail::packet_size ? 1 : 0), 3 * 3 * 40, 8) <
                (60 + detail::packet_size - 1) / detail::packet_size);
        check_conv<Relu>(2, {12, 10, 40}, 3, 3, 60, 11);
    }
    SUBCASE("more output channels than the micro-kernels cover (reference path)") {
        check_conv<Linear>(1, {6, 5, 2}, 2, 2, 130, 10);
    }
}

TEST_CASE("kernels: conv2d gives bit-identical results with 1 and 2 threads") {
    std::mt19937 rng(11);
    const detail::ConvGeometry g{3, 3, 4, 8};
    const Tensor in = random_tensor(5, {37, 29, 4}, rng);
    const auto kernel = random_values(g.patch_size() * g.out_channels, rng);
    const auto bias = random_values(g.out_channels, rng);
    const int saved = thread_count();

    Tensor one, two;
    set_thread_count(1);
    CHECK(thread_count() == 1);
    conv2d<Relu>(in, g, kernel.data(), bias.data(), one);
    set_thread_count(2);
#if !PRUNEDEF_NO_THREADS
    CHECK(thread_count() == 2);
#endif
    conv2d<Relu>(in, g, kernel.data(), bias.data(), two);
    set_thread_count(saved);

    REQUIRE(one.shape() == two.shape());
    REQUIRE(one.size() == two.size());
    CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);
}

TEST_CASE("kernels: maxpool2d matches a reference loop, floor on odd sizes") {
    std::mt19937 rng(21);
    struct Case {
        std::size_t batch;
        ImageShape in;
        std::size_t pool, stride;
        ImageShape expected;
    };
    const Case cases[] = {
        {3, {13, 11, 5}, 2, 2, {6, 5, 5}},
        {2, {13, 11, 3}, 3, 2, {6, 5, 3}},
        {1, {7, 9, 2}, 3, 2, {3, 4, 2}},
        {2, {4, 4, 1}, 2, 2, {2, 2, 1}},
        {1, {5, 5, 3}, 5, 5, {1, 1, 3}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.in.str());
        CAPTURE(c.pool);
        const Tensor in = random_tensor(c.batch, c.in, rng);
        Tensor out;
        maxpool2d(in, c.pool, c.stride, out);
        ImageShape os;
        const auto ref = reference_pool(in, c.pool, c.stride, os);
        CHECK(os == c.expected);
        REQUIRE(out.shape() == c.expected);
        REQUIRE(out.batch() == c.batch);
        CHECK(std::equal(ref.begin(), ref.end(), out.data()));
    }
}

TEST_CASE("kernels: maxpool2d of an image smaller than the pool is empty") {
    Tensor in(2, {1, 3, 4}), out;
    maxpool2d(in, 2, 2, out);
    CHECK(out.shape() == ImageShape{0, 0, 4});
    CHECK(out.size() == 0);
}

TEST_CASE("kernels: dense matches a reference loop") {
    SUBCASE("batch 3, 2x3x5 input, linear") { check_dense<Linear>(3, {2, 3, 5}, 11, 31); }
    SUBCASE("batch 3, relu") { check_dense<Relu>(3, {1, 1, 17}, 9, 32); }
    SUBCASE("batch 1") { check_dense<Linear>(1, {1, 1, 7}, 3, 33); }
    SUBCASE("batch 71: several row tasks with a partial last one") { check_dense<Relu>(71, {3, 1, 5}, 13, 34); }
    SUBCASE("many column packets and a partial one, batch 1 and 30") {
        check_dense<Linear>(1, {1, 1, 37}, 83, 35);
        check_dense<Relu>(30, {1, 1, 37}, 83, 36);
    }
    SUBCASE("DeepID's fc_1 and output shapes") {
        check_dense<Linear>(13, {5, 4, 60}, 160, 37);
        check_dense<Linear>(2, {1, 1, 160}, 1283, 38);
    }
}

TEST_CASE("kernels: add, and its shape check") {
    std::mt19937 rng(41);
    const Tensor a = random_tensor(3, {3, 5, 7}, rng), b = random_tensor(3, {3, 5, 7}, rng);
    Tensor out;
    add(a, b, out);
    REQUIRE(out.shape() == a.shape());
    REQUIRE(out.batch() == 3);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (out.data()[i] != a.data()[i] + b.data()[i]) ++bad;
    CHECK(bad == 0);

    const Tensor c = random_tensor(3, {3, 5, 6}, rng);
    CHECK_THROWS_WITH_AS(add(a, c, out), "add: operands 3 x 3x5x7 and 3 x 3x5x6 differ", shape_error);
    const Tensor d = random_tensor(2, {3, 5, 7}, rng);
    CHECK_THROWS_WITH_AS(add(a, d, out), "add: operands 3 x 3x5x7 and 2 x 3x5x7 differ", shape_error);
}

TEST_CASE("kernels: activate applies the function in place") {
    Tensor t(1, {1, 1, 4});
    const float v[] = {-2.0f, 0.0f, 3.5f, -0.25f};
    std::copy(v, v + 4, t.data());
    activate<Linear>(t);
    CHECK(std::equal(v, v + 4, t.data()));
    activate<Relu>(t);
    CHECK(t.data()[0] == 0.0f);
    CHECK(t.data()[2] == 3.5f);
    CHECK(t.data()[3] == 0.0f);
}

TEST_CASE("kernels: softmax matches a reference and is stable for large values") {
    std::mt19937 rng(51);
    Tensor t = random_tensor(3, {1, 1, 13}, rng);
    for (std::size_t i = 0; i < 13; ++i) t.at(2, 0, 0, i) = 1000.0f + float(i % 3);  // exp() would overflow
    const Tensor logits = t;
    softmax(t);
    for (std::size_t n = 0; n < 3; ++n) {
        double m = -1e300;
        for (std::size_t i = 0; i < 13; ++i) m = std::max(m, double(logits.at(n, 0, 0, i)));
        double sum = 0;
        for (std::size_t i = 0; i < 13; ++i) sum += std::exp(double(logits.at(n, 0, 0, i)) - m);
        double total = 0;
        for (std::size_t i = 0; i < 13; ++i) {
            const double want = std::exp(double(logits.at(n, 0, 0, i)) - m) / sum;
            CHECK(std::isfinite(t.at(n, 0, 0, i)));
            CHECK(t.at(n, 0, 0, i) == doctest::Approx(want).epsilon(1e-5));
            total += t.at(n, 0, 0, i);
        }
        CHECK(total == doctest::Approx(1.0).epsilon(1e-5));
    }
}

TEST_CASE("kernels: argmax picks the largest value, the first one on ties") {
    Tensor t(4, {1, 1, 5});
    const float rows[4][5] = {{0, 1, 5, 2, -1}, {7, 7, 3, 7, 0}, {-3, -2, -9, -2, -4}, {0, 0, 0, 0, 0.5f}};
    for (std::size_t n = 0; n < 4; ++n) std::copy(rows[n], rows[n] + 5, t.image(n));
    CHECK(argmax(t) == std::vector<int>{2, 0, 1, 4});

    std::mt19937 rng(61);
    const Tensor r = random_tensor(5, {3, 1, 7}, rng);
    const auto got = argmax(r);
    REQUIRE(got.size() == 5);
    for (std::size_t n = 0; n < 5; ++n) {
        std::size_t best = 0;
        for (std::size_t i = 1; i < 21; ++i)
            if (r.image(n)[i] > r.image(n)[best]) best = i;
        CHECK(got[n] == int(best));
    }
}

TEST_CASE("kernels: an exception thrown in parallel_for reaches the caller with 1 or 2 threads") {
    const int saved = thread_count();
    for (const int threads : {1, 2}) {
        CAPTURE(threads);
        set_thread_count(threads);
        // without the rethrow, an exception leaving a worker thread calls std::terminate
        CHECK_THROWS_WITH_AS(detail::parallel_for(8,
                                                  [](std::ptrdiff_t task) {
                                                      if (task == 5) throw numeric_error("task 5 failed");
                                                  }),
                             "task 5 failed", numeric_error);
    }
    set_thread_count(saved);
}

TEST_CASE("kernels: argmax refuses non-finite outputs instead of picking a class") {
    for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity()}) {
        Tensor t(2, {1, 1, 3});
        std::fill(t.data(), t.data() + t.size(), 1.0f);
        t.image(1)[2] = bad;
        CHECK_THROWS_AS(argmax(t), numeric_error);
    }
}

TEST_CASE("kernels: channel groups give tiles of at least 8 pixels when the kernel exceeds L1") {
    for (const std::size_t out_w : {3u, 8u, 20u, 44u})
        for (const int packets : {1, 2, 3, 4, 5, 8, 15}) {
            const std::size_t rows = 400;  // 400 rows of one packet or more: over 6 KiB a packet
            const int nv = detail::packets_per_group(packets, rows, out_w);
            CAPTURE(out_w);
            CAPTURE(packets);
            REQUIRE(nv >= 1);
            REQUIRE(nv <= packets);
            const bool fits_l1 = rows * std::size_t(packets) * detail::packet_size * sizeof(float) <= 40 * 1024;
            if (fits_l1) CHECK(nv == packets);
            else if (nv > 1) CHECK(out_w / detail::row_tiles(out_w, detail::tile_pixels(nv)) >= std::min<std::size_t>(8, out_w));
        }
}

TEST_CASE("kernels: a shared last packet gives the plain micro-kernel's values bit for bit") {
    std::mt19937 rng(23);
    std::normal_distribution<float> normal;
    bool shared_somewhere = false;
    // channels = whole packets + 4 or 8 (AVX-512: 20, 24, 36, 40), inputs close enough to share
    for (const std::size_t cout : {std::size_t(detail::packet_size) + 4, std::size_t(detail::packet_size) + 8,
                                   std::size_t(2 * detail::packet_size) + 4, std::size_t(2 * detail::packet_size) + 8})
        for (const std::size_t cin : {1u, 3u})
            for (const std::size_t width : {9u, 47u, 50u}) {  // rows of 6, 44 and 47 outputs: remainders 2, 0, 3
                const detail::ConvGeometry g{4, 4, cin, cout};
                const ImageShape in{6, width, cin};
                std::vector<float> kernel(g.patch_size() * cout), bias(cout), image(in.size());
                for (auto& v : kernel) v = normal(rng);
                for (auto& v : bias) v = normal(rng);
                for (auto& v : image) v = normal(rng);
                const std::size_t out_w = width - 3, out_size = 3 * out_w * cout;
                detail::PackedKernel p;
                detail::pack_kernel(g, kernel.data(), bias.data(), p);
                const int groups = detail::packets_per_group(p.packets, g.patch_size(), out_w);
                shared_somewhere = shared_somewhere || (p.shared_lanes > 0 && groups == p.packets);
                std::vector<float> shared(out_size), plain(out_size);
                detail::conv_rows_packed<Relu>(p, groups, image.data(), in, g, shared.data(), cout, false, 0, 3);
                p.shared_lanes = 0;
                detail::conv_rows_packed<Relu>(p, groups, image.data(), in, g, plain.data(), cout, false, 0, 3);
                CAPTURE(cout);
                CAPTURE(cin);
                CAPTURE(width);
                CHECK(shared == plain);
            }
#if defined(EIGEN_VECTORIZE_AVX512)
    CHECK(shared_somewhere);
#else
    MESSAGE("built without AVX-512: the shared-packet kernel is not compiled, only the plain path ran");
#endif
}

TEST_CASE("kernels: fused conv2d + max-pool equals conv2d then maxpool2d exactly") {
    std::mt19937 rng(99);
    std::normal_distribution<float> normal;
    for (const auto& [pool, stride] : {std::pair<std::size_t, std::size_t>{2, 2}, {3, 2}, {2, 1}}) {
        // 40 input channels: kernels of 37 and 60 channels exceed L1 and run in channel groups
        for (const auto& [cin, cout] : {std::pair<std::size_t, std::size_t>{5, 3}, {5, 20}, {5, 37}, {5, 130},
                                        {40, 37}, {40, 60}}) {
            const detail::ConvGeometry g{3, 2, cin, cout};
            std::vector<float> kernel(g.patch_size() * cout), bias(cout);
            for (auto& v : kernel) v = normal(rng);
            for (auto& v : bias) v = normal(rng);
            Tensor in(3, {13, 12, cin});
            for (std::size_t i = 0; i < in.size(); ++i) in.data()[i] = normal(rng);
            Tensor conv, pooled, fused;
            conv2d<Relu>(in, g, kernel.data(), bias.data(), conv);
            maxpool2d(conv, pool, stride, pooled);
            conv2d_maxpool<Relu>(in, g, kernel.data(), bias.data(), pool, stride, fused);
            CAPTURE(pool);
            CAPTURE(cin);
            CAPTURE(cout);
            REQUIRE(fused.shape() == pooled.shape());
            REQUIRE(fused.batch() == pooled.batch());
            CHECK(std::equal(fused.data(), fused.data() + fused.size(), pooled.data()));
        }
    }
}

}  // namespace test_kernels
