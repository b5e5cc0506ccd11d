// The one-pass sweep against the reference sweep of ../shared/fmnist_badnet, and against a
// brute-force re-evaluation of the pruned network after every step; repair() on small written
// data sets against a mean activation ranking and masked networks' accuracies computed here.

#include "reference_pruning.hpp"
#include "shared_data.hpp"
#include "tiny_deepid.hpp"

#include <prunedef/prunedef.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_sweep {

using namespace prunedef;

namespace {

struct ReferenceRow {
    std::size_t k;
    int channel;
    double valid, test, asr;
};

std::vector<ReferenceRow> read_reference(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    std::vector<ReferenceRow> rows;
    while (std::getline(in, line)) {
        std::stringstream ss(line);
        std::string cell[5];
        for (auto& c : cell) std::getline(ss, c, ',');
        rows.push_back({std::stoul(cell[0]), cell[1].empty() ? -1 : std::stoi(cell[1]), std::stod(cell[2]),
                        std::stod(cell[3]), std::stod(cell[4])});
    }
    return rows;
}

/// A random DeepID-shaped network for 26x26x1 inputs, 8 channels in the pruned layer.
DeepID random_deepid(std::mt19937& rng) {
    std::normal_distribution<float> normal(0.0f, 0.5f);
    auto arr = [&](std::string name, std::vector<std::size_t> dims) {
        WeightArray w{std::move(name), dims, {}};
        w.values.resize(w.element_count());
        for (auto& v : w.values) v = normal(rng);
        return w;
    };
    DeepID net = make_deepid();
    net.stem().layer<0>().set_weights({arr("kernel:0", {3, 3, 1, 4}), arr("bias:0", {4})});
    net.stem().layer<2>().set_weights({arr("kernel:0", {3, 3, 4, 6}), arr("bias:0", {6})});
    net.pruned_layer().set_weights({arr("kernel:0", {2, 2, 6, 8}), arr("bias:0", {8})});
    auto& sum = net.head().layer<0>();
    sum.first().layer<1>().set_weights({arr("kernel:0", {2 * 2 * 8, 5}), arr("bias:0", {5})});
    sum.second().layer<0>().set_weights({arr("kernel:0", {2, 2, 8, 3}), arr("bias:0", {3})});
    sum.second().layer<2>().set_weights({arr("kernel:0", {3, 5}), arr("bias:0", {5})});
    net.head().layer<2>().set_weights({arr("kernel:0", {5, 4}), arr("bias:0", {4})});
    net.bind({26, 26, 1});
    return net;
}

/// A written data set of n images (integer pixels 0..15) labelled with net's classes, a quarter
/// of them relabelled at random (clean), or all labelled `target` (poisoned).
void write_labelled_set(const DeepID& net, const std::string& path, std::size_t n, std::mt19937& rng,
                        int target = -1) {
    std::uniform_int_distribution<int> pixel(0, 15), cls(0, static_cast<int>(net.num_classes()) - 1);
    Tensor images(n, net.input_shape());
    for (std::size_t i = 0; i < images.size(); ++i) images.data()[i] = static_cast<float>(pixel(rng));
    std::vector<int> labels = net.predict(images);
    for (auto& l : labels)
        if (target >= 0) l = target;
        else if (rng() % 4 == 0) l = cls(rng);
    write_dataset(path, images, labels);
}

std::size_t count_matches(const std::vector<int>& predicted, const std::vector<int>& labels) {
    std::size_t m = 0;
    for (std::size_t i = 0; i < predicted.size(); ++i) m += predicted[i] == labels[i];
    return m;
}

/// repair() on written valid/test/poisoned sets: the order must be the increasing mean pooled
/// activation computed here, every curve point the accuracy of B with the first k channels
/// zeroed, the thresholds the first step that loses X points, and G's counts GoodNet's.
void check_repair_on_written_sets(const DeepID& net, const std::string& name, unsigned seed) {
    std::mt19937 rng(seed);
    const auto scratch = prunedef_test::scratch_dir(name);
    write_labelled_set(net, (scratch / "valid.h5").string(), 150, rng);
    write_labelled_set(net, (scratch / "test.h5").string(), 90, rng);
    write_labelled_set(net, (scratch / "poisoned.h5").string(), 70, rng, 0);
    const DatasetReader valid((scratch / "valid.h5").string()), test((scratch / "test.h5").string()),
        poisoned((scratch / "poisoned.h5").string());
    RepairOptions options;
    options.batch_size = 32;  // several batches and a partial one
    options.drops = {{2.0, false}, {10.0, false}, {5.0, true}};
    const RepairResult r = repair(net, RepairData{&valid, &test, &poisoned}, options);

    // the mean pooled activation of each channel over the validation images, and its ranking
    Tensor valid_images, features;
    valid.read(0, valid.size(), valid_images);
    net.features(valid_images, features);
    const std::size_t C = features.channels(), positions = features.height() * features.width();
    REQUIRE(r.channels == C);
    std::vector<double> mean(C, 0.0);
    for (std::size_t n = 0; n < features.batch(); ++n)
        for (std::size_t p = 0; p < positions; ++p)
            for (std::size_t c = 0; c < C; ++c) mean[c] += features.image(n)[p * C + c];
    for (auto& m : mean) m /= double(features.batch() * positions);
    std::vector<std::size_t> order(C);
    for (std::size_t c = 0; c < C; ++c) order[c] = c;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return mean[a] < mean[b]; });
    REQUIRE(r.activations.mean.size() == C);
    for (std::size_t c = 0; c < C; ++c) CHECK(r.activations.mean[c] == doctest::Approx(mean[c]).epsilon(1e-9));
    CHECK(r.order == order);

    // every step's accuracies from B with the first k channels zeroed, and G = GoodNet<B, B_k>'s
    // figures from B's and B_k's predictions (class N: flagged)
    Tensor test_images, poisoned_images;
    test.read(0, test.size(), test_images);
    poisoned.read(0, poisoned.size(), poisoned_images);
    REQUIRE(r.curve.size() == C + 1);
    REQUIRE(r.poisoned_sets.size() == 1);
    CHECK(r.poisoned_sets[0].name == "poisoned");
    CHECK(r.poisoned_sets[0].images == 70);
    const int N = static_cast<int>(net.num_classes());
    const auto b_valid = net.predict(valid_images), b_test = net.predict(test_images),
               b_poisoned = net.predict(poisoned_images);
    const auto g_percent = [N](const std::vector<int>& g, const std::vector<int>& labels, bool flagged) {
        std::size_t n = 0;
        for (std::size_t i = 0; i < g.size(); ++i) n += flagged ? g[i] == N : g[i] == labels[i];
        return 100.0 * double(n) / double(g.size());
    };
    std::vector<std::size_t> valid_correct;
    for (std::size_t k = 0; k <= C; ++k) {
        CAPTURE(k);
        const std::vector<std::size_t> pruned(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k));
        const DeepID b_k = prunedef_test::zeroed_copy(net, pruned);
        const auto gv = prunedef_test::agreement(b_valid, b_k.predict(valid_images), N);
        const auto gt = prunedef_test::agreement(b_test, b_k.predict(test_images), N);
        const auto gp = prunedef_test::agreement(b_poisoned, b_k.predict(poisoned_images), N);
        CHECK(r.curve[k].goodnet_valid_accuracy == doctest::Approx(g_percent(gv, valid.labels(), false)));
        CHECK(r.curve[k].goodnet_valid_fpr == doctest::Approx(g_percent(gv, valid.labels(), true)));
        CHECK(*r.curve[k].goodnet_test_accuracy == doctest::Approx(g_percent(gt, test.labels(), false)));
        CHECK(*r.curve[k].goodnet_test_fpr == doctest::Approx(g_percent(gt, test.labels(), true)));
        REQUIRE(r.curve[k].poisoned.size() == 1);
        CHECK(r.curve[k].poisoned[0].attack_success == *r.curve[k].attack_success);
        CHECK(r.curve[k].poisoned[0].goodnet_attack_success == doctest::Approx(g_percent(gp, poisoned.labels(), false)));
        CHECK(r.curve[k].poisoned[0].goodnet_detection == doctest::Approx(g_percent(gp, poisoned.labels(), true)));
        // the ROC point of k: false positives on the test set, detection on the poisoned set
        REQUIRE(r.roc.size() == 1);
        const auto point = std::find_if(r.roc[0].points.begin(), r.roc[0].points.end(),
                                        [k](const RocPoint& p) { return p.k == k; });
        REQUIRE(point != r.roc[0].points.end());
        CHECK(point->false_positive == *r.curve[k].goodnet_test_fpr);
        CHECK(point->detection == r.curve[k].poisoned[0].goodnet_detection);
        valid_correct.push_back(count_matches(b_k.predict(valid_images), valid.labels()));
        CHECK(r.curve[k].k == k);
        if (k > 0) CHECK(r.curve[k].channel == order[k - 1]);
        CHECK(r.curve[k].valid_accuracy == doctest::Approx(100.0 * double(valid_correct.back()) / 150.0));
        CHECK(*r.curve[k].test_accuracy ==
              doctest::Approx(100.0 * double(count_matches(b_k.predict(test_images), test.labels())) / 90.0));
        CHECK(*r.curve[k].attack_success ==
              doctest::Approx(100.0 * double(count_matches(b_k.predict(poisoned_images), poisoned.labels())) / 70.0));
    }
    CHECK(*std::min_element(valid_correct.begin(), valid_correct.end()) < valid_correct[0]);  // the curve moves

    // thresholds: the first step whose validation accuracy is X points (or X % of B's) lower
    REQUIRE(r.thresholds.size() == options.drops.size());
    for (std::size_t t = 0; t < options.drops.size(); ++t) {
        CAPTURE(t);
        const AccuracyDrop& d = options.drops[t];
        std::size_t k = 1;
        while (k <= C && 100.0 * (double(valid_correct[0]) - double(valid_correct[k])) <
                             d.x * (d.relative ? double(valid_correct[0]) : 150.0))
            ++k;
        CHECK(r.thresholds[t].reached == (k <= C));
        CHECK(r.thresholds[t].k == std::min(k, C));
        const std::size_t kt = r.thresholds[t].k;
        const std::vector<std::size_t> pruned(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(kt));
        const auto g = prunedef_test::agreement(net.predict(valid_images),
                                                prunedef_test::zeroed_copy(net, pruned).predict(valid_images),
                                                static_cast<int>(net.num_classes()));
        CHECK(r.thresholds[t].goodnet_valid.matched == count_matches(g, valid.labels()));
        CHECK(r.thresholds[t].goodnet_valid.flagged ==
              static_cast<std::size_t>(std::count(g.begin(), g.end(), static_cast<int>(net.num_classes()))));
        REQUIRE(r.thresholds[t].goodnet_poisoned_sets.size() == 1);
        CHECK(r.thresholds[t].goodnet_poisoned_sets[0].flagged == r.thresholds[t].goodnet_poisoned->flagged);
        CHECK(r.thresholds[t].poisoned_attack_success == std::vector<double>{*r.thresholds[t].attack_success});
    }

    // the same result with 1 and 2 threads
    const int before = thread_count();
    set_thread_count(1);
    const RepairResult one = repair(net, RepairData{&valid, &test, &poisoned}, options);
    set_thread_count(2);
    const RepairResult two = repair(net, RepairData{&valid, &test, &poisoned}, options);
    set_thread_count(before);
    CHECK(one.activations.mean == two.activations.mean);
    CHECK(one.order == two.order);
    for (std::size_t k = 0; k <= C; ++k) {
        CHECK(one.curve[k].valid_accuracy == two.curve[k].valid_accuracy);
        CHECK(*one.curve[k].attack_success == *two.curve[k].attack_success);
    }
}

}  // namespace

TEST_CASE("sweep: fmnist BadNet reproduces the reference sweep and thresholds" * doctest::test_suite("shared") *
          doctest::skip(!prunedef_test::shared_available("fmnist_badnet"))) {
    const std::string dir = prunedef_test::shared_path("fmnist_badnet");
    DeepID net = make_deepid();
    load_keras_weights(dir + "/bd_weights.h5", net);
    const DatasetReader valid(dir + "/valid.h5"), test(dir + "/test.h5"), poisoned(dir + "/bd_test.h5");
    net.bind(valid.image_shape());

    const RepairResult r = repair(net, RepairData{&valid, &test, &poisoned});
    const auto ref = read_reference(dir + "/reference_sweep.csv");
    REQUIRE(r.curve.size() == ref.size());
    REQUIRE(r.channels == 64);
    double worst = 0;
    for (std::size_t k = 0; k < ref.size(); ++k) {
        CAPTURE(k);
        CHECK(r.curve[k].k == ref[k].k);
        if (k > 0) CHECK(static_cast<int>(*r.curve[k].channel) == ref[k].channel);
        CHECK(std::fabs(r.curve[k].valid_accuracy - ref[k].valid) <= 0.05);
        CHECK(std::fabs(*r.curve[k].test_accuracy - ref[k].test) <= 0.05);
        CHECK(std::fabs(*r.curve[k].attack_success - ref[k].asr) <= 0.05);
        worst = std::max({worst, std::fabs(r.curve[k].valid_accuracy - ref[k].valid),
                          std::fabs(*r.curve[k].test_accuracy - ref[k].test),
                          std::fabs(*r.curve[k].attack_success - ref[k].asr)});
    }
    MESSAGE("largest difference from the reference sweep: " << worst << " points");
    REQUIRE(r.thresholds.size() == 3);
    CHECK(r.thresholds[0].k == 22);
    CHECK(r.thresholds[1].k == 26);
    CHECK(r.thresholds[2].k == 35);
    for (const auto& t : r.thresholds) CHECK(t.reached);

    SUBCASE("B' written as a Keras file reloads and gives the curve's numbers") {
        const auto scratch = prunedef_test::scratch_dir("sweep_reload");
        for (const auto& t : r.thresholds) {
            const DeepID repaired = prune_channels(net, ChannelMask::from_order(r.channels, r.order, t.k));
            const std::string path = (scratch / ("repaired_" + t.drop.label() + ".h5")).string();
            save_keras_weights(path, repaired);
            DeepID reloaded = make_deepid();
            load_keras_weights(path, reloaded);
            REQUIRE(reloaded.bound());
            std::size_t correct = 0;
            for_each_batch(test, 1000, [&](const Tensor& images, const int* labels, std::size_t) {
                const auto p = reloaded.predict(images);
                for (std::size_t i = 0; i < p.size(); ++i) correct += p[i] == labels[i];
            });
            CHECK(std::fabs(percent_of(correct, test.size()) - *t.test_accuracy) <= 0.05);
        }
    }
}

TEST_CASE("sweep: incremental predictions equal re-evaluating the pruned network at every step") {
    // A small random DeepID-shaped network and random images: every step of the sweep must give
    // the same classes as prune_channels() followed by a full forward pass.
    std::mt19937 rng(7);
    const DeepID net = random_deepid(rng);

    Tensor images(150, net.input_shape());
    std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
    for (std::size_t i = 0; i < images.size(); ++i) images.data()[i] = pixel(rng);
    Tensor features;
    net.features(images, features);
    const std::vector<std::size_t> order{3, 0, 7, 5, 1, 6, 2, 4};
    std::vector<int> labels(images.batch(), 0);
    const SweepPredictions p = sweep_features(net, features, labels.data(), order);
    for (std::size_t k = 0; k <= order.size(); ++k) {
        const DeepID pruned = prune_channels(net, ChannelMask::from_order(8, order, k));
        const auto expected = pruned.predict(images);
        std::size_t same = 0;
        for (std::size_t i = 0; i < images.batch(); ++i) same += p.at(i, k) == expected[i];
        CAPTURE(k);
        CHECK(same == images.batch());
    }
}

TEST_CASE("sweep: identical results with 1 and 2 threads" * doctest::test_suite("shared") *
          doctest::skip(!prunedef_test::shared_available("fmnist_badnet"))) {
    const std::string dir = prunedef_test::shared_path("fmnist_badnet");
    DeepID net = make_deepid();
    load_keras_weights(dir + "/bd_weights.h5", net);
    const DatasetReader valid(dir + "/valid.h5"), poisoned(dir + "/bd_valid.h5");
    net.bind(valid.image_shape());
    const int before = thread_count();
    set_thread_count(1);
    const RepairResult one = repair(net, RepairData{&valid, nullptr, &poisoned});
    set_thread_count(2);
    const RepairResult two = repair(net, RepairData{&valid, nullptr, &poisoned});
    set_thread_count(before);
    CHECK(one.order == two.order);
    CHECK(one.activations.mean == two.activations.mean);
    REQUIRE(one.curve.size() == two.curve.size());
    for (std::size_t k = 0; k < one.curve.size(); ++k) {
        CHECK(one.curve[k].valid_accuracy == two.curve[k].valid_accuracy);
        CHECK(*one.curve[k].attack_success == *two.curve[k].attack_success);
    }
    for (std::size_t t = 0; t < one.thresholds.size(); ++t) CHECK(one.thresholds[t].k == two.thresholds[t].k);
}

TEST_CASE("sweep: a head that is not DeepID-shaped is re-run whole and agrees with re-evaluation") {
    using Head = Sequential<Flatten, Dense<Relu>, Dense<Linear>>;
    using Small = Network<Sequential<Conv2D<Relu>, MaxPool2D>, Conv2D<Relu>, MaxPool2D, Head>;
    static_assert(!detail::has_incremental_head<Small>);
    std::mt19937 rng(11);
    std::normal_distribution<float> normal(0.0f, 0.5f);
    auto arr = [&](std::vector<std::size_t> dims) {
        WeightArray w{"w", dims, {}};
        w.values.resize(w.element_count());
        for (auto& v : w.values) v = normal(rng);
        return w;
    };
    Small net(Sequential<Conv2D<Relu>, MaxPool2D>(Conv2D<Relu>("c1"), MaxPool2D("p1")), Conv2D<Relu>("c2"),
              MaxPool2D("p2"), Head(Flatten("f"), Dense<Relu>("d1"), Dense<Linear>("d2")));
    net.stem().layer<0>().set_weights({arr({3, 3, 2, 5}), arr({5})});
    net.pruned_layer().set_weights({arr({3, 3, 5, 7}), arr({7})});
    net.head().layer<1>().set_weights({arr({2 * 2 * 7, 9}), arr({9})});
    net.head().layer<2>().set_weights({arr({9, 6}), arr({6})});
    net.bind({17, 17, 2});  // conv 15x15, pool 7x7 (floor), conv 5x5, pool 2x2
    REQUIRE(net.feature_shape() == ImageShape{2, 2, 7});

    Tensor images(130, net.input_shape());
    for (std::size_t i = 0; i < images.size(); ++i) images.data()[i] = normal(rng);
    Tensor features;
    net.features(images, features);
    const std::vector<std::size_t> order{6, 2, 0, 5, 3, 1, 4};
    const std::vector<int> labels(images.batch(), 1);
    const SweepPredictions p = sweep_features(net, features, labels.data(), order);
    for (std::size_t k = 0; k <= order.size(); ++k) {
        const auto expected = prune_channels(net, ChannelMask::from_order(7, order, k)).predict(images);
        std::size_t same = 0;
        for (std::size_t i = 0; i < images.batch(); ++i) same += p.at(i, k) == expected[i];
        CAPTURE(k);
        CHECK(same == images.batch());
    }
}

TEST_CASE("sweep: repair() on small written data sets matches rankings and accuracies computed here") {
    SUBCASE("a DeepID with 8 channels in the pruned layer") {
        std::mt19937 rng(31);
        check_repair_on_written_sets(random_deepid(rng), "sweep_written_8", 32);
    }
    SUBCASE("the tiny DeepID of the seed corpora") {
        DeepID net = prunedef_test::tiny_deepid(33);
        net.bind({55, 47, 3});
        check_repair_on_written_sets(net, "sweep_written_tiny", 34);
    }
}

TEST_CASE("sweep: G's counts at every step equal GoodNet's outputs recomputed from the predictions matrix") {
    std::mt19937 rng(41);
    const DeepID net = random_deepid(rng);
    std::uniform_real_distribution<float> u(0.0f, 15.0f);
    Tensor images(150, net.input_shape());
    for (std::size_t i = 0; i < images.size(); ++i) images.data()[i] = u(rng);
    Tensor features;
    net.features(images, features);
    std::vector<int> labels = net.predict(images);
    for (auto& l : labels)
        if (rng() % 3 == 0) l = static_cast<int>(rng() % net.num_classes());
    const std::vector<std::size_t> order{3, 7, 1, 0, 5, 2, 6, 4};
    const SweepPredictions p = sweep_features(net, features, labels.data(), order);
    const int N = static_cast<int>(net.num_classes());
    const std::vector<GoodNetCounts> counts = goodnet_counts_per_step(p, N);
    REQUIRE(counts.size() == order.size() + 1);
    std::size_t flagged_somewhere = 0;
    for (std::size_t k = 0; k <= order.size(); ++k) {
        CAPTURE(k);
        std::size_t matched = 0, flagged = 0, other = 0;
        for (std::size_t i = 0; i < p.images; ++i) {
            const int g = p.at(i, 0) == p.at(i, k) ? p.at(i, 0) : N;  // the rule, spelled out
            if (g == N) ++flagged;
            else if (g == labels[i]) ++matched;
            else ++other;
        }
        CHECK(counts[k].images == 150);
        CHECK(counts[k].matched == matched);
        CHECK(counts[k].flagged == flagged);
        CHECK(counts[k].other == other);
        flagged_somewhere += flagged;
    }
    CHECK(counts[0].flagged == 0);
    CHECK(flagged_somewhere > 0);  // the check compares something
}

TEST_CASE("sweep: repair() with several named poisoned sets reports each as its own run does") {
    std::mt19937 rng(51);
    const DeepID net = random_deepid(rng);
    const auto scratch = prunedef_test::scratch_dir("sweep_several_poisoned");
    write_labelled_set(net, (scratch / "valid.h5").string(), 120, rng);
    write_labelled_set(net, (scratch / "a.h5").string(), 50, rng, 0);
    write_labelled_set(net, (scratch / "b.h5").string(), 40, rng, 2);
    const DatasetReader valid((scratch / "valid.h5").string()), a((scratch / "a.h5").string()),
        b((scratch / "b.h5").string());
    RepairOptions options;
    options.max_fpr = 10;
    RepairData both{&valid, nullptr, nullptr};
    both.poisoned_sets = {{"first", &a}, {"second", &b}};
    const RepairResult r = repair(net, both, options);
    const RepairResult ra = repair(net, RepairData{&valid, nullptr, &a}, options);
    const RepairResult rb = repair(net, RepairData{&valid, nullptr, &b}, options);
    REQUIRE(r.poisoned_sets.size() == 2);
    CHECK(r.poisoned_sets[0].name == "first");
    CHECK(r.poisoned_sets[1].name == "second");
    CHECK(r.poisoned_sets[1].images == 40);
    CHECK(r.poisoned_images == 50);
    REQUIRE(r.roc.size() == 2);
    for (std::size_t k = 0; k < r.curve.size(); ++k) {
        CAPTURE(k);
        REQUIRE(r.curve[k].poisoned.size() == 2);
        CHECK(r.curve[k].poisoned[0].attack_success == ra.curve[k].poisoned[0].attack_success);
        CHECK(r.curve[k].poisoned[1].attack_success == rb.curve[k].poisoned[0].attack_success);
        CHECK(r.curve[k].poisoned[1].goodnet_detection == rb.curve[k].poisoned[0].goodnet_detection);
        CHECK(r.curve[k].poisoned[1].goodnet_attack_success == rb.curve[k].poisoned[0].goodnet_attack_success);
        CHECK(*r.curve[k].attack_success == r.curve[k].poisoned[0].attack_success);
        CHECK(r.curve[k].goodnet_valid_fpr == ra.curve[k].goodnet_valid_fpr);
    }
    CHECK(r.roc[1].auc == rb.roc[0].auc);
    REQUIRE(r.roc[0].chosen.has_value());
    CHECK(r.roc[0].chosen->false_positive <= 10.0);
    for (std::size_t t = 0; t < r.thresholds.size(); ++t) {
        REQUIRE(r.thresholds[t].goodnet_poisoned_sets.size() == 2);
        CHECK(r.thresholds[t].goodnet_poisoned_sets[1].flagged == rb.thresholds[t].goodnet_poisoned->flagged);
        CHECK(r.thresholds[t].poisoned_attack_success[1] == *rb.thresholds[t].attack_success);
    }

    RepairData twice{&valid, nullptr, &a};
    twice.poisoned_sets = {{"poisoned", &b}};
    CHECK_THROWS_WITH_AS(repair(net, twice), "repair: two poisoned sets are named 'poisoned'", argument_error);
    RepairData unnamed{&valid, nullptr, nullptr};
    unnamed.poisoned_sets = {{"", &b}};
    CHECK_THROWS_AS(repair(net, unnamed), argument_error);
    RepairData null_set{&valid, nullptr, nullptr};
    null_set.poisoned_sets = {{"x", nullptr}};
    CHECK_THROWS_AS(repair(net, null_set), argument_error);
}

namespace {

/// Every figure of two repairs that must agree exactly (the order, the curve, the thresholds).
void check_same_repair(const RepairResult& a, const RepairResult& b) {
    CHECK(a.order == b.order);
    CHECK(a.activations.mean == b.activations.mean);
    REQUIRE(a.curve.size() == b.curve.size());
    for (std::size_t k = 0; k < a.curve.size(); ++k) {
        CAPTURE(k);
        CHECK(a.curve[k].valid_accuracy == b.curve[k].valid_accuracy);
        CHECK(a.curve[k].goodnet_valid_fpr == b.curve[k].goodnet_valid_fpr);
        CHECK(a.curve[k].attack_success == b.curve[k].attack_success);
        CHECK(a.curve[k].goodnet_test_fpr == b.curve[k].goodnet_test_fpr);
    }
    REQUIRE(a.thresholds.size() == b.thresholds.size());
    for (std::size_t t = 0; t < a.thresholds.size(); ++t) CHECK(a.thresholds[t].k == b.thresholds[t].k);
}

}  // namespace

TEST_CASE("sweep: validation features over the cache budget are recomputed, with identical results") {
    std::mt19937 rng(61);
    const DeepID net = random_deepid(rng);
    const auto scratch = prunedef_test::scratch_dir("sweep_feature_budget");
    write_labelled_set(net, (scratch / "valid.h5").string(), 300, rng);
    write_labelled_set(net, (scratch / "bd.h5").string(), 70, rng, 1);
    const DatasetReader valid((scratch / "valid.h5").string()), bd((scratch / "bd.h5").string());
    const std::size_t image_bytes = net.feature_shape().size() * sizeof(float), bytes = 300 * image_bytes;
    RepairOptions all;
    all.batch_size = 64;  // several batches, the last one partial
    all.feature_cache_bytes = bytes;  // exactly fits
    const RepairResult a = repair(net, RepairData{&valid, nullptr, &bd}, all);
    CHECK(a.all_features_cached());
    CHECK(a.cached_feature_images == 300);
    CHECK(a.valid_feature_bytes == bytes);
    // one byte short (299 images), inside the second batch (100), none
    for (const std::size_t budget : {bytes - 1, 100 * image_bytes + image_bytes / 2, std::size_t(0)}) {
        CAPTURE(budget);
        RepairOptions part = all;
        part.feature_cache_bytes = budget;
        std::vector<std::string> stages;
        part.progress = [&](const std::string& stage, std::size_t, std::size_t) {
            if (stages.empty() || stages.back() != stage) stages.push_back(stage);
        };
        const RepairResult b = repair(net, RepairData{&valid, nullptr, &bd}, part);
        CHECK_FALSE(b.all_features_cached());
        CHECK(b.cached_feature_images == budget / image_bytes);
        CHECK(b.feature_cache_bytes == budget);
        CHECK(b.valid_images == 300);
        CHECK(std::find(stages.begin(), stages.end(), "validation sweep") != stages.end());
        check_same_repair(a, b);
    }
}

TEST_CASE("sweep: the fmnist BadNet's repair is the same with its features streamed" * doctest::test_suite("shared") *
          doctest::skip(!prunedef_test::shared_available("fmnist_badnet"))) {
    const std::string dir = prunedef_test::shared_path("fmnist_badnet");
    DeepID net = make_deepid();
    load_keras_weights(dir + "/bd_weights.h5", net);
    const DatasetReader valid(dir + "/valid.h5"), test(dir + "/test.h5"), poisoned(dir + "/bd_valid.h5");
    net.bind(valid.image_shape());
    RepairOptions streamed;
    streamed.feature_cache_bytes = 0;
    const RepairResult a = repair(net, RepairData{&valid, &test, &poisoned});
    const RepairResult b = repair(net, RepairData{&valid, &test, &poisoned}, streamed);
    CHECK(a.all_features_cached());
    CHECK(b.cached_feature_images == 0);
    check_same_repair(a, b);
}

}  // namespace test_sweep
