// The one-pass sweep against the reference sweep of ../shared/fmnist_badnet, and against a
// brute-force re-evaluation of the pruned network after every step.

#include "shared_data.hpp"

#include <prunedef/prunedef.hpp>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

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

}  // namespace

TEST_CASE("sweep: fmnist BadNet reproduces the reference sweep and thresholds") {
    const std::string dir = prunedef_test::shared_file("fmnist_badnet");
    if (dir.empty()) return;
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

TEST_CASE("sweep: identical results with 1 and 2 threads") {
    const std::string dir = prunedef_test::shared_file("fmnist_badnet");
    if (dir.empty()) return;
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
