// Data augmentation (augmentation.hpp): shifts and flips move every pixel exactly where they
// should, with zeros where the shift uncovers; the draws cover the range and follow the seed.

#include <doctest/doctest.h>

#include <prunedef/prunedef.hpp>

#include <set>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_augmentation {

using namespace prunedef;

namespace {
float pixel(long y, long x, long c) { return float(100 * y + 10 * x + c + 1); }  // never 0
}  // namespace

TEST_CASE("augmentation: a shift and a flip move each pixel exactly, zeros fill what is uncovered") {
    const std::size_t H = 3, W = 4, C = 2;
    std::vector<float> in(H * W * C), out(H * W * C);
    for (long y = 0; y < long(H); ++y)
        for (long x = 0; x < long(W); ++x)
            for (long c = 0; c < long(C); ++c) in[std::size_t((y * long(W) + x) * long(C) + c)] = pixel(y, x, c);
    auto at = [&](long y, long x, long c) { return out[std::size_t((y * long(W) + x) * long(C) + c)]; };

    // one row down, two columns left: out(y, x) = in(y - 1, x + 2)
    transform_image(in.data(), out.data(), H, W, C, {1, -2, false});
    CHECK(at(0, 0, 0) == 0.0f);  // row 0 uncovered
    CHECK(at(0, 3, 1) == 0.0f);
    CHECK(at(1, 0, 0) == pixel(0, 2, 0));
    CHECK(at(1, 1, 1) == pixel(0, 3, 1));
    CHECK(at(1, 2, 0) == 0.0f);  // columns 2, 3 uncovered
    CHECK(at(2, 1, 0) == pixel(1, 3, 0));
    std::size_t zeros = 0;
    for (float v : out) zeros += v == 0.0f;
    CHECK(zeros == (W + 2 * 2) * C);  // row 0, and columns 2..3 of rows 1..2

    // flip only: out(y, x) = in(y, W - 1 - x)
    transform_image(in.data(), out.data(), H, W, C, {0, 0, true});
    for (long y = 0; y < long(H); ++y)
        for (long x = 0; x < long(W); ++x)
            for (long c = 0; c < long(C); ++c) CHECK(at(y, x, c) == pixel(y, long(W) - 1 - x, c));

    // flip then shift one column right: out(y, x) = flipped(y, x - 1) = in(y, W - 1 - (x - 1))
    transform_image(in.data(), out.data(), H, W, C, {0, 1, true});
    CHECK(at(2, 0, 1) == 0.0f);
    CHECK(at(2, 1, 1) == pixel(2, 3, 1));
    CHECK(at(0, 3, 0) == pixel(0, 1, 0));

    // no transform: the image itself
    transform_image(in.data(), out.data(), H, W, C, {});
    CHECK(out == in);
}

TEST_CASE("augmentation: draws cover [-S, S] and both flips, and a batch follows its seed") {
    Rng rng(9);
    std::set<long> shifts;
    std::set<bool> flips;
    for (int i = 0; i < 400; ++i) {
        const ImageTransform t = draw_transform({2, true}, rng);
        shifts.insert(t.dy);
        shifts.insert(t.dx);
        flips.insert(t.flip);
    }
    CHECK(shifts == std::set<long>{-2, -1, 0, 1, 2});
    CHECK(flips.size() == 2);
    Rng none(9);
    const ImageTransform t = draw_transform({}, none);
    CHECK(t.dy == 0);
    CHECK(t.dx == 0);
    CHECK_FALSE(t.flip);

    Tensor a(5, {6, 6, 1}), b;
    for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] = float(i % 97 + 1);
    b = a;
    const Tensor original = a;
    Rng r1(4), r2(4);
    augment_batch(a, {1, true}, r1);
    augment_batch(b, {1, true}, r2);
    CHECK(std::vector<float>(a.data(), a.data() + a.size()) == std::vector<float>(b.data(), b.data() + b.size()));
    CHECK(std::vector<float>(a.data(), a.data() + a.size()) !=
          std::vector<float>(original.data(), original.data() + original.size()));
    // each image is the transform the same draws give, applied to that image alone
    Rng r3(4);
    for (std::size_t i = 0; i < 5; ++i) {
        const ImageTransform ti = draw_transform({1, true}, r3);
        std::vector<float> expected(36);
        transform_image(original.image(i), expected.data(), 6, 6, 1, ti);
        CHECK(std::vector<float>(a.image(i), a.image(i) + 36) == expected);
    }
    Tensor untouched = original;
    Rng r4(4);
    augment_batch(untouched, {}, r4);  // inactive: nothing drawn, nothing changed
    CHECK(std::vector<float>(untouched.data(), untouched.data() + untouched.size()) ==
          std::vector<float>(original.data(), original.data() + original.size()));
}

}  // namespace test_augmentation
