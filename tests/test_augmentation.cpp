// Data augmentation (augmentation.hpp): shifts and flips move every pixel exactly where they
// should, with zeros where the shift uncovers; the draws cover the range and follow the seed.
// Random erasing changes exactly one rectangle of the drawn size, shape and share of images, with
// values in the range given; bad settings are refused.

#include <doctest/doctest.h>

#include <prunedef/prunedef.hpp>

#include <cmath>
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

TEST_CASE("random erasing: rectangles of the paper's areas and aspects, inside the image, on a share p of images") {
    const RandomErasing e{0.5};
    const std::size_t H = 28, W = 28;
    Rng rng(3);
    std::size_t erased = 0, draws = 4000;
    double min_fraction = 1, max_fraction = 0, min_aspect = 100, max_aspect = 0;
    std::set<std::size_t> tops, lefts;
    for (std::size_t i = 0; i < draws; ++i) {
        const ErasedRectangle r = draw_erased_rectangle(e, H, W, rng);
        if (r.height == 0) {
            CHECK(r.width == 0);
            continue;
        }
        ++erased;
        CHECK(r.top + r.height <= H);
        CHECK(r.left + r.width <= W);
        const double fraction = double(r.height * r.width) / double(H * W);
        min_fraction = std::min(min_fraction, fraction);
        max_fraction = std::max(max_fraction, fraction);
        min_aspect = std::min(min_aspect, double(r.height) / double(r.width));
        max_aspect = std::max(max_aspect, double(r.height) / double(r.width));
        tops.insert(r.top);
        lefts.insert(r.left);
    }
    // p = 1/2 of 4000: 2000 +- 4.5 standard deviations (31.6)
    CHECK(erased > 1858);
    CHECK(erased < 2142);
    // areas in [0.02, 0.4] and aspects in [0.3, 3.33] of the image, up to rounding to whole pixels
    CHECK(min_fraction >= 0.01);
    CHECK(min_fraction < 0.03);
    CHECK(max_fraction <= 0.45);
    CHECK(max_fraction > 0.33);
    CHECK(min_aspect >= 0.25);
    CHECK(min_aspect < 0.4);
    CHECK(max_aspect <= 4.0);
    CHECK(max_aspect > 2.5);
    CHECK(tops.count(0) == 1);  // every position is drawn, the edges too
    CHECK(lefts.count(0) == 1);
    CHECK(*tops.rbegin() >= H - 3);

    Rng none(3);
    CHECK(draw_erased_rectangle({}, H, W, none).height == 0);  // inactive: no rectangle
    Rng always(3);
    for (int i = 0; i < 50; ++i) CHECK(draw_erased_rectangle({1.0}, H, W, always).height > 0);
    Rng tiny(3);  // a 1x1 image has no rectangle smaller than itself: left as it is
    CHECK(draw_erased_rectangle({1.0}, 1, 1, tiny).height == 0);
}

TEST_CASE("random erasing: a batch changes only inside each drawn rectangle, to values in [low, high], by its seed") {
    Tensor batch(40, {12, 10, 2});
    for (std::size_t i = 0; i < batch.size(); ++i) batch.data()[i] = -5.0f;  // outside [low, high]
    const Tensor original = batch;
    const RandomErasing e{0.7};
    Tensor again = batch;
    Rng rng(8), same(8), replay(8);
    erase_batch(batch, e, 1.0f, 3.0f, rng);
    erase_batch(again, e, 1.0f, 3.0f, same);
    CHECK(std::vector<float>(batch.data(), batch.data() + batch.size()) ==
          std::vector<float>(again.data(), again.data() + again.size()));
    std::size_t images_erased = 0;
    std::set<float> values;
    for (std::size_t i = 0; i < batch.batch(); ++i) {
        const ErasedRectangle r = draw_erased_rectangle(e, 12, 10, replay);
        for (std::size_t k = 0; k < r.height * r.width * 2; ++k) replay.uniform();  // the fill's draws
        images_erased += r.height > 0;
        for (std::size_t y = 0; y < 12; ++y)
            for (std::size_t x = 0; x < 10; ++x)
                for (std::size_t c = 0; c < 2; ++c) {
                    const float v = batch.image(i)[(y * 10 + x) * 2 + c];
                    const bool inside = y >= r.top && y < r.top + r.height && x >= r.left && x < r.left + r.width;
                    if (inside) {
                        CHECK(v >= 1.0f);
                        CHECK(v <= 3.0f);
                        values.insert(v);
                    } else {
                        CHECK(v == original.image(i)[(y * 10 + x) * 2 + c]);
                    }
                }
    }
    CHECK(images_erased > 15);
    CHECK(images_erased < 40);
    CHECK(values.size() > 100);  // random values, not one fill

    CHECK_THROWS_AS(check_random_erasing({1.5}), argument_error);
    CHECK_THROWS_AS(check_random_erasing({-0.1}), argument_error);
    CHECK_THROWS_AS(check_random_erasing({0.5, 0.5, 0.4}), argument_error);  // min area above max
    CHECK_THROWS_AS(check_random_erasing({0.5, 0.0, 0.4}), argument_error);
    CHECK_THROWS_AS(check_random_erasing({0.5, 0.02, 0.4, 0.0}), argument_error);
    CHECK_THROWS_AS(check_random_erasing({0.5, 0.02, 0.4, 1.5}), argument_error);
    CHECK_NOTHROW(check_random_erasing({}));
    Rng r(1);
    CHECK_THROWS_AS(erase_batch(batch, e, 3.0f, 1.0f, r), argument_error);  // low above high
}

}  // namespace test_augmentation
