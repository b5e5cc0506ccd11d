// The clean floor of attack success (clean_floor.hpp): a clean reference's rate of predicting a
// poisoned set's labels, against a naive count of single-image predictions.

#include "tiny_deepid.hpp"

#include <doctest/doctest.h>

#include <prunedef/prunedef.hpp>

#include <random>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_clean_floor {

using namespace prunedef;

namespace {

/// n random images (pixels 0..1) for net, labelled `target`, except every fifth labelled with
/// what `labeller` predicts for it (so that some, not all, labels are hit).
ArrayBatchSource poisoned_set(const DeepID& net, const DeepID& labeller, std::size_t n, int target, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    Tensor images(n, net.input_shape());
    for (std::size_t i = 0; i < images.size(); ++i) images.data()[i] = u(rng);
    std::vector<int> labels = labeller.predict(images);
    for (std::size_t i = 0; i < n; ++i)
        if (i % 5 != 0) labels[i] = target;
    return ArrayBatchSource(std::move(images), std::move(labels), "poisoned");
}

/// The naive floor: one image at a time, counted in double.
double naive_floor(const DeepID& reference, const ArrayBatchSource& set) {
    double hits = 0;
    Tensor one;
    for (std::size_t i = 0; i < set.size(); ++i) {
        set.read(i, 1, one);
        hits += reference.predict(one).at(0) == set.labels()[i] ? 1.0 : 0.0;
    }
    return 100.0 * hits / double(set.size());
}

}  // namespace

TEST_CASE("clean floor: the reference's rate of predicting the labels equals a naive count") {
    DeepID b = prunedef_test::tiny_deepid(3), reference = prunedef_test::tiny_deepid(4);
    b.bind({55, 47, 3});
    reference.bind({55, 47, 3});
    const ArrayBatchSource first = poisoned_set(reference, reference, 37, 0, 5);
    const ArrayBatchSource second = poisoned_set(reference, b, 23, 2, 6);
    const double f1 = naive_floor(reference, first), f2 = naive_floor(reference, second);
    CHECK(f1 > 0.0);   // the every-fifth labels are hit, so the check compares something
    CHECK(f1 < 100.0);
    // batch sizes that split the sets into full and partial batches give the same count
    for (const std::size_t batch : {std::size_t(1), std::size_t(8), std::size_t(256)}) {
        CAPTURE(batch);
        CHECK(clean_floor(reference, first, batch) == doctest::Approx(f1).epsilon(1e-12));
        CHECK(clean_floor(reference, second, batch) == doctest::Approx(f2).epsilon(1e-12));
    }

    // stored in a repair's result, per named set, in order
    std::mt19937 rng(7);
    Tensor valid_images(30, b.input_shape());
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (std::size_t i = 0; i < valid_images.size(); ++i) valid_images.data()[i] = u(rng);
    std::vector<int> valid_labels = b.predict(valid_images);
    const ArrayBatchSource valid(std::move(valid_images), std::move(valid_labels), "valid");
    RepairData data{&valid, nullptr, nullptr};
    data.poisoned_sets = {{"first", &first}, {"second", &second}};
    RepairResult r = repair(b, data);
    REQUIRE(r.poisoned_sets.size() == 2);
    CHECK_FALSE(r.poisoned_sets[0].clean_floor.has_value());
    add_clean_floors(r, reference, data, 16);
    REQUIRE(r.poisoned_sets[0].clean_floor.has_value());
    REQUIRE(r.poisoned_sets[1].clean_floor.has_value());
    CHECK(*r.poisoned_sets[0].clean_floor == doctest::Approx(f1).epsilon(1e-12));
    CHECK(*r.poisoned_sets[1].clean_floor == doctest::Approx(f2).epsilon(1e-12));
    const std::vector<double> floors = clean_floors(reference, data);
    REQUIRE(floors.size() == 2);
    CHECK(floors[1] == *r.poisoned_sets[1].clean_floor);

    // a result of other sets, or a reference with other classes, is refused
    RepairData swapped{&valid, nullptr, nullptr};
    swapped.poisoned_sets = {{"second", &second}, {"first", &first}};
    CHECK_THROWS_AS(add_clean_floors(r, reference, swapped), argument_error);
    RepairData one{&valid, nullptr, &first};
    CHECK_THROWS_AS(add_clean_floors(r, reference, one), argument_error);
    DeepID other_classes = prunedef_test::tiny_deepid(4, 7);
    other_classes.bind({55, 47, 3});
    CHECK_THROWS_AS(add_clean_floors(r, other_classes, data), argument_error);
}

}  // namespace test_clean_floor
