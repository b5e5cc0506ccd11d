// data_warnings(): each warning fires on the case it is for, and stays silent on ordinary data
// (B at 90 %, one target label per poisoned set).

#include <doctest/doctest.h>

#include <prunedef/defense/data_warnings.hpp>

#include <string>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_data_warnings {

using namespace prunedef;

namespace {

bool any_contains(const std::vector<std::string>& warnings, const std::string& part) {
    for (const std::string& w : warnings)
        if (w.find(part) != std::string::npos) return true;
    return false;
}

std::vector<int> cycling_labels(std::size_t n, int classes) {
    std::vector<int> l;
    for (std::size_t i = 0; i < n; ++i) l.push_back(int(i % std::size_t(classes)));
    return l;
}

}  // namespace

TEST_CASE("data warnings: the low-accuracy threshold is 3 x chance, at most a quarter of the way to 100 %") {
    CHECK(implausible_accuracy_below(10) == doctest::Approx(30.0));
    CHECK(implausible_accuracy_below(1283) == doctest::Approx(300.0 / 1283));
    CHECK(implausible_accuracy_below(2) == doctest::Approx(62.5));
    CHECK(implausible_accuracy_below(0) == 0);
}

TEST_CASE("data warnings: none for ordinary data, one for each sign") {
    const std::vector<int> clean = cycling_labels(100, 10), target(50, 0), also_target(30, 7);
    DataFacts f;
    f.classes = 10;
    f.valid_accuracy = 90;
    f.valid_labels = &clean;
    f.test_labels = &clean;
    f.poisoned = {{"a", &target, 100.0}, {"b", &also_target, 40.0}};
    CHECK(data_warnings(f).empty());

    DataFacts low = f;
    low.valid_accuracy = 29.9;
    auto w = data_warnings(low);
    REQUIRE(w.size() == 2);  // low, and far below the ASR of 100 % on "a"
    CHECK(any_contains(w, "implausibly low for 10 classes (chance 10.00 %, warned below 30.00 %)"));
    low.valid_accuracy = 30;
    CHECK(!any_contains(data_warnings(low), "implausibly low"));

    DataFacts single = f;
    single.valid_labels = &target;
    w = data_warnings(single);
    REQUIRE(w.size() == 1);
    CHECK(any_contains(w, "every image of the validation set has label 0: a poisoned set passed as --valid"));
    single = f;
    single.test_labels = &target;
    CHECK(any_contains(data_warnings(single), "every image of the test set has label 0"));

    DataFacts varying = f;
    varying.poisoned[1].labels = &clean;
    w = data_warnings(varying);
    REQUIRE(w.size() == 1);
    CHECK(any_contains(w, "poisoned set 'b': its most common label (0) is on only 10.00 %"));
    // exactly half on one label is still a target
    std::vector<int> half(10, 3);
    for (std::size_t i = 5; i < 10; ++i) half[i] = int(i);
    varying.poisoned[1].labels = &half;
    CHECK(data_warnings(varying).empty());

    DataFacts swapped = f;
    swapped.valid_accuracy = 45;  // below half of "a"'s 100 %, above the low-accuracy threshold
    w = data_warnings(swapped);
    REQUIRE(w.size() == 1);
    CHECK(any_contains(w, "far below its attack success on poisoned set 'a' (100.00 %)"));
    swapped.valid_accuracy = 50;
    CHECK(data_warnings(swapped).empty());
}

}  // namespace test_data_warnings
