// The stopping rule at exact boundaries, absolute and relative.

#include <doctest/doctest.h>

#include <prunedef/defense/stopping_rule.hpp>

#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_stopping_rule {

using namespace prunedef;

TEST_CASE("stopping rule: absolute drop is reached exactly at the boundary") {
    // 1000 images, 900 correct originally (90%). X = 2 points: stop at <= 88% (880 correct).
    const std::vector<std::size_t> correct{900, 900, 885, 881, 880, 870};
    CHECK(first_step_reaching(correct, 1000, {2.0, false}) == 4u);
    CHECK(first_step_reaching(correct, 1000, {1.9, false}) == 3u);  // 881 is exactly 1.9 below
    CHECK(first_step_reaching(correct, 1000, {1.5, false}) == 2u);
    CHECK(first_step_reaching(correct, 1000, {3.0, false}) == 5u);
    CHECK_FALSE(first_step_reaching(correct, 1000, {3.1, false}).has_value());
    CHECK(drop_reached(900, 880, 1000, {2.0, false}));
    CHECK_FALSE(drop_reached(900, 881, 1000, {2.0, false}));
}

TEST_CASE("stopping rule: relative drop is a percentage of the original accuracy") {
    // 800 of 1000 correct (80%). X = 10 percent relative: stop at <= 72% (720 correct).
    const std::vector<std::size_t> correct{800, 790, 721, 720};
    CHECK(first_step_reaching(correct, 1000, {10.0, true}) == 3u);
    CHECK(first_step_reaching(correct, 1000, {10.0, false}) == std::nullopt);  // needs <= 70%
    CHECK(drop_reached(800, 720, 1000, {10.0, true}));
    CHECK_FALSE(drop_reached(800, 721, 1000, {10.0, true}));
}

TEST_CASE("stopping rule: k = 0 never counts and bad thresholds are refused") {
    CHECK(first_step_reaching({500}, 1000, {2.0, false}) == std::nullopt);
    CHECK_THROWS_WITH_AS(first_step_reaching({1, 1}, 1, {0.0, false}), "accuracy drop must be in (0, 100], got 0.000000",
                         argument_error);
    CHECK_THROWS_AS(first_step_reaching({1, 1}, 1, {101.0, false}), argument_error);
    CHECK(AccuracyDrop{2.0, false}.label() == "2");
    CHECK(AccuracyDrop{2.5, true}.label() == "2.5");
}

}  // namespace test_stopping_rule
