// ANP (adversarial_neuron_pruning.hpp): the gradient in the channels' weight and bias factors
// against central finite differences; the masks stay in [0, 1], move away from 1, and are the same
// with 1 and 2 threads; the order is a permutation by increasing mask, reproducible for a seed;
// repair() with the policy; the options' checks; a GraphNetwork learns the DeepID's masks.

#include "quadrant_task.hpp"
#include "tiny_deepid.hpp"

#include <doctest/doctest.h>

#include <prunedef/prunedef.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_adversarial_neuron_pruning {

using namespace prunedef;

namespace {

DeepID anp_net(std::uint64_t seed) { return prunedef_test::quadrant_deepid(seed, true); }
LabelledImages quadrant_images(std::size_t n, std::uint64_t seed) { return prunedef_test::bright_quadrants(n, seed); }

/// The network trained a little on the quadrant task, so that the masks have something to keep.
DeepID trained_net() {
    DeepID net = anp_net(5);
    Adam adam(3e-3f);
    TrainOptions t;
    t.epochs = 3;
    t.batch_size = 16;
    train(net, quadrant_images(256, 11), adam, t);
    return net;
}

}  // namespace

TEST_CASE("anp: the gradient in the weight and bias factors equals central finite differences") {
    const DeepID net = anp_net(3);
    const LabelledImages data = quadrant_images(12, 4);
    detail::AnpBatchLoss<DeepID> loss(net);
    REQUIRE(loss.channels() == 8);
    loss.set_batch(data.images, data.labels);
    Rng rng(9);
    std::vector<double> s(8), t(8);
    for (auto& v : s) v = 0.5 + rng.uniform() * 0.8;  // m + delta away from 1, some above it
    for (auto& v : t) v = 0.6 + rng.uniform() * 0.8;
    std::vector<double> ds, dt;
    const double l0 = loss(s, t, &ds, &dt);
    REQUIRE(ds.size() == 8);
    REQUIRE(dt.size() == 8);
    CHECK(l0 == doctest::Approx(loss(s, t, nullptr, nullptr)).epsilon(1e-12));  // no state kept between calls
    const double h = 1e-3;
    double largest = 0;
    for (std::size_t c = 0; c < 8; ++c) {
        for (int which = 0; which < 2; ++which) {
            std::vector<double> up = which ? t : s, down = up;
            up[c] += h;
            down[c] -= h;
            const double numeric = which ? (loss(s, up, nullptr, nullptr) - loss(s, down, nullptr, nullptr)) / (2 * h)
                                         : (loss(up, t, nullptr, nullptr) - loss(down, t, nullptr, nullptr)) / (2 * h);
            const double analytic = which ? dt[c] : ds[c];
            largest = std::max(largest, std::fabs(analytic));
            INFO("channel " << c << (which ? " bias factor" : " weight factor"));
            CHECK(analytic == doctest::Approx(numeric).epsilon(0.02).scale(0.05));
        }
    }
    CHECK(largest > 1e-3);  // the check above compares gradients that are not all zero
}

TEST_CASE("anp: masks stay in [0, 1], leave 1, and are the same with 1 and 2 threads; the order is reproducible") {
    // an untrained network: perturbing its channels raises the loss of some of them, whose masks
    // fall (a trained tiny network keeps every mask at 1: each of its 8 channels helps)
    const DeepID net = anp_net(3);
    const LabelledImages clean = quadrant_images(200, 21);
    AnpOptions o;
    o.iterations = 60;
    o.batch_size = 32;
    const int threads = thread_count();
    set_thread_count(1);
    const std::vector<double> one = anp_masks(net, clean, o);
    set_thread_count(2);
    const std::vector<double> two = anp_masks(net, clean, o);
    set_thread_count(threads);
    REQUIRE(one.size() == 8);
    CHECK(one == two);  // bit for bit
    std::size_t moved = 0;
    for (double m : one) {
        CHECK(m >= 0.0);
        CHECK(m <= 1.0);
        moved += m < 1.0;
    }
    CHECK(moved > 0);

    AdversarialNeuronPruning anp;
    anp.options = o;
    anp.clean = &clean;
    std::size_t iterations_seen = 0;
    o.progress = [&](std::size_t done, std::size_t total) {
        CHECK(total == 60);
        iterations_seen = done;
    };
    const std::vector<std::size_t> order = anp.order(net, ChannelActivations{});
    CHECK(iterations_seen == 0);  // anp.options was copied before the callback was set
    std::vector<std::size_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::size_t> all(8);
    std::iota(all.begin(), all.end(), std::size_t(0));
    CHECK(sorted == all);
    for (std::size_t i = 1; i < order.size(); ++i) CHECK(one[order[i - 1]] <= one[order[i]]);
    CHECK(anp.order(net, ChannelActivations{}) == order);

    anp.options.seed = 2;  // another seed: other batches and starts, other masks
    CHECK(anp_masks(net, clean, anp.options) != one);
    anp_masks(net, clean, o);
    CHECK(iterations_seen == 60);
}

TEST_CASE("anp: given masks order the channels, lowest first, ties by index; a wrong count is refused") {
    const DeepID net = anp_net(3);
    AdversarialNeuronPruning anp;
    anp.masks = {0.9, 0.1, 1.0, 0.1, 0.0, 1.0, 0.5, 0.7};
    CHECK(anp.order(net, ChannelActivations{}) == std::vector<std::size_t>{4, 1, 3, 6, 7, 0, 2, 5});
    anp.masks.pop_back();
    CHECK_THROWS_WITH_AS(anp.order(net, ChannelActivations{}), "ANP: 7 masks for a layer of 8 channels", argument_error);
    AdversarialNeuronPruning none;
    CHECK_THROWS_WITH_AS(none.order(net, ChannelActivations{}), "ANP: neither masks nor clean images given",
                         argument_error);
}

TEST_CASE("anp: options outside the method's domain and bad data are refused") {
    const DeepID net = anp_net(3);
    const LabelledImages clean = quadrant_images(4, 1);
    AnpOptions o;
    o.epsilon = 1.5f;
    CHECK_THROWS_WITH_AS(anp_masks(net, clean, o), "ANP: epsilon must be in [0, 1], got 1.500000", argument_error);
    o = {};
    o.iterations = 0;
    CHECK_THROWS_WITH_AS(anp_masks(net, clean, o), "ANP: at least one iteration is needed", argument_error);
    o = {};
    o.alpha = -0.1f;
    CHECK_THROWS_AS(anp_masks(net, clean, o), argument_error);
    CHECK_THROWS_WITH_AS(anp_masks(net, LabelledImages{}, AnpOptions{}), "ANP: no clean images", argument_error);
    LabelledImages bad = clean;
    bad.labels[2] = 7;
    CHECK_THROWS_WITH_AS(anp_masks(net, bad, AnpOptions{}),
                         "ANP: label 7 of image 2 is not a class of the network (4)", argument_error);
}

TEST_CASE("anp: repair() with the policy prunes in the learnt order") {
    const DeepID net = trained_net();
    const LabelledImages clean = quadrant_images(200, 21);
    AdversarialNeuronPruning anp;
    anp.options.iterations = 30;
    anp.options.batch_size = 32;
    anp.clean = &clean;
    const std::vector<double> masks = anp_masks(net, clean, anp.options);
    const ArrayBatchSource valid(clean.images, clean.labels);
    RepairData data{&valid, nullptr, nullptr};
    RepairOptions options;
    options.drops = {{4.0, false}};
    const RepairResult r = repair(net, data, options, anp);
    CHECK(r.order == detail::stable_order_by(masks, true));
    REQUIRE(r.thresholds.size() == 1);
}

TEST_CASE("anp: a GraphNetwork's training form learns the compile-time DeepID's masks") {
    DeepID deepid = prunedef_test::tiny_deepid(11, 5);
    deepid.bind({55, 47, 3});
    deepid.set_input_scale(0.5f);
    const ModelSpec spec = parse_keras_config(deepid_keras_config(collect_weights(deepid), {55, 47, 3}), "deepid");
    GraphNetwork fast = build_graph_network(spec, collect_weights(deepid));
    fast.set_input_scale(0.5f);
    const GraphNetwork graph = graph_training_form(spec).to_training(fast);
    Rng rng(6);
    LabelledImages data;
    data.images.resize(24, {55, 47, 3});
    for (std::size_t i = 0; i < data.images.size(); ++i) data.images.data()[i] = float(rng.uniform() * 2.0 - 1.0);
    for (std::size_t i = 0; i < 24; ++i) data.labels.push_back(int(i % 5));
    AnpOptions o;
    o.iterations = 10;
    o.batch_size = 8;
    detail::AnpBatchLoss<DeepID> ld(deepid);
    detail::AnpBatchLoss<GraphNetwork> lg(graph);
    ld.set_batch(data.images, data.labels);
    lg.set_batch(data.images, data.labels);
    const std::vector<double> s{0.7, 1.2}, t{0.9, 1.3};
    std::vector<double> dsd, dtd, dsg, dtg;
    CHECK(ld(s, t, &dsd, &dtd) == doctest::Approx(lg(s, t, &dsg, &dtg)).epsilon(1e-6));
    REQUIRE(dsg.size() == 2);
    for (std::size_t c = 0; c < 2; ++c) {
        CHECK(dsd[c] == doctest::Approx(dsg[c]).epsilon(1e-5));
        CHECK(dtd[c] == doctest::Approx(dtg[c]).epsilon(1e-5));
    }
    CHECK(std::fabs(dsd[0]) + std::fabs(dsd[1]) > 0.0);
    const std::vector<double> a = anp_masks(deepid, data, o), b = anp_masks(graph, data, o);
    REQUIRE(a.size() == 2);
    for (std::size_t c = 0; c < 2; ++c) CHECK(a[c] == doctest::Approx(b[c]).epsilon(1e-5));
}

}  // namespace test_adversarial_neuron_pruning
