// BadNet poisoning: the trigger, the poisoned training set and the backdoor test set.

#include <doctest/doctest.h>

#include <prunedef/prunedef.hpp>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_badnet {

using namespace prunedef;

namespace {
LabelledImages small_set(std::size_t n) {
    LabelledImages d;
    d.images.resize(n, {8, 8, 1});
    for (std::size_t i = 0; i < d.images.size(); ++i) d.images.data()[i] = 10.0f;
    for (std::size_t i = 0; i < n; ++i) d.labels.push_back(int(i % 3));
    return d;
}
}  // namespace

TEST_CASE("badnet: a square trigger is parsed, checked and stamped") {
    const SquareTrigger t = SquareTrigger::parse("square:2@5,6");
    CHECK(t.size == 2);
    CHECK(t.row == 5);
    CHECK(t.col == 6);
    CHECK_THROWS_WITH_AS(SquareTrigger::parse("circle:3"), "trigger 'circle:3': expected square:SIZE@ROW,COL, e.g. square:4@23,23",
                         argument_error);
    CHECK_THROWS_AS(SquareTrigger::parse("square:0@1,1"), argument_error);
    CHECK_THROWS_AS(SquareTrigger::parse("square:2@1,1x"), argument_error);
    CHECK_THROWS_WITH_AS(t.check_fits({6, 8, 1}), "trigger of size 2 at (5, 6) does not fit a 6x8x1 image", argument_error);
    Tensor image(1, {8, 8, 1});
    t.stamp(image.data(), image.shape());
    for (std::size_t y = 0; y < 8; ++y)
        for (std::size_t x = 0; x < 8; ++x)
            CHECK(image.at(0, y, x, 0) == ((y >= 5 && y < 7 && x >= 6 && x < 8) ? 255.0f : 0.0f));
}

TEST_CASE("badnet: poisoning stamps and relabels the requested fraction") {
    const LabelledImages clean = small_set(50);
    Rng rng(3);
    const SquareTrigger t = SquareTrigger::parse("square:2@0,0");
    const LabelledImages p = poison(clean, t, 2, 0.2, rng);
    std::size_t stamped = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
        const bool has_trigger = p.images.at(i, 0, 0, 0) == 255.0f;
        stamped += has_trigger;
        if (has_trigger) CHECK(p.labels[i] == 2);
        else CHECK(p.labels[i] == clean.labels[i]);
    }
    CHECK(stamped == 10);
    CHECK_THROWS_AS(poison(clean, t, 2, 1.5, rng), argument_error);
}

TEST_CASE("badnet: the backdoor set holds every non-target image, stamped, labelled target") {
    const LabelledImages clean = small_set(30);  // labels 0, 1, 2 repeating
    const LabelledImages bd = backdoor_set(clean, SquareTrigger::parse("square:3@4,4"), 1);
    CHECK(bd.size() == 20);
    for (std::size_t i = 0; i < bd.size(); ++i) {
        CHECK(bd.labels[i] == 1);
        CHECK(bd.images.at(i, 5, 5, 0) == 255.0f);
        CHECK(bd.images.at(i, 0, 0, 0) == 10.0f);
    }
}

}  // namespace test_badnet
