// The trainer: it learns, it is deterministic for a seed, it keeps masked channels at zero;
// Fine-Pruning keeps them zero too.

#include "quadrant_task.hpp"

#include <doctest/doctest.h>

#include <prunedef/prunedef.hpp>

#include <algorithm>
#include <cmath>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_trainer {

using namespace prunedef;

namespace {

/// A 26x26x1 DeepID with 4 classes and a data set whose class is which quadrant is bright.
DeepID small_net(std::uint64_t seed) { return prunedef_test::quadrant_deepid(seed); }
LabelledImages quadrants(std::size_t n, std::uint64_t seed) { return prunedef_test::bright_quadrants(n, seed); }

}  // namespace

TEST_CASE("trainer: Adam learns a simple task, deterministically for a seed") {
    const LabelledImages data = quadrants(400, 1), held_out = quadrants(200, 2);
    DeepID a = small_net(7), b = small_net(7);
    const double before = accuracy(a, held_out);
    Adam opt_a(3e-3f), opt_b(3e-3f);
    TrainOptions options;
    options.epochs = 4;
    options.batch_size = 32;
    options.seed = 5;
    const auto reports = train(a, data, opt_a, options);
    train(b, data, opt_b, options);
    REQUIRE(reports.size() == 4);
    CHECK(reports.back().loss < reports.front().loss);
    const double after = accuracy(a, held_out);
    INFO("held-out accuracy before " << before << " %, after " << after << " %");
    CHECK(after >= 90.0);
    CHECK(a.pruned_layer().kernel() == b.pruned_layer().kernel());
    CHECK(a.head().layer<2>().kernel() == b.head().layer<2>().kernel());
}

TEST_CASE("trainer: SGD with momentum also learns it") {
    const LabelledImages data = quadrants(400, 3);
    DeepID net = small_net(9);
    Sgd sgd(0.05f, 0.9f);
    TrainOptions options;
    options.epochs = 5;
    options.batch_size = 32;
    const auto reports = train(net, data, sgd, options);
    CHECK(reports.back().loss < reports.front().loss);
}

TEST_CASE("trainer: masked channels stay zero while training and fine-pruning; head-only leaves the trunk") {
    const LabelledImages data = quadrants(200, 4);
    DeepID net = small_net(11);
    ChannelMask mask(8);
    mask.prune(1);
    mask.prune(6);
    FinePruningOptions options;
    options.epochs = 2;
    options.learning_rate = 1e-2f;
    options.batch_size = 32;
    options.lr_drop = 0;
    const DeepID tuned = fine_prune(net, mask, data, options);
    const auto& k = tuned.pruned_layer().kernel();
    for (std::size_t i = 0; i < k.size(); ++i)
        if (i % 8 == 1 || i % 8 == 6) CHECK(k[i] == 0.0f);
    CHECK(tuned.pruned_layer().bias()[1] == 0.0f);
    CHECK(tuned.pruned_layer().kernel() != net.pruned_layer().kernel());  // the rest did train

    options.head_only = true;
    const DeepID head_only = fine_prune(net, mask, data, options);
    CHECK(head_only.stem().layer<0>().kernel() == net.stem().layer<0>().kernel());
    CHECK(head_only.head().layer<2>().kernel() != net.head().layer<2>().kernel());
}

TEST_CASE("trainer: the constraint runs before the first step and after every step, on the trained network") {
    const LabelledImages data = quadrants(70, 6);
    DeepID net = small_net(13);
    Adam adam(1e-3f);
    TrainOptions options;
    options.epochs = 2;
    options.batch_size = 32;  // 3 steps per epoch (32, 32, 6)
    std::size_t calls = 0;
    const float* bias = &net.pruned_layer().bias()[0];
    const auto kernel = net.pruned_layer().kernel();
    train(net, data, adam, options, [&](DeepID& n) {
        CHECK(&n.pruned_layer().bias()[0] == bias);
        n.pruned_layer().bias()[0] = 0.0f;
        ++calls;
    });
    CHECK(calls == 1 + 2 * 3);
    CHECK(net.pruned_layer().bias()[0] == 0.0f);
    CHECK(net.pruned_layer().kernel() != kernel);  // the network did train
}

TEST_CASE("trainer: bad labels are refused before training") {
    LabelledImages data = quadrants(10, 5);
    data.labels[3] = 7;
    DeepID net = small_net(1);
    Adam adam;
    CHECK_THROWS_WITH_AS(train(net, data, adam, TrainOptions{}),
                         "train: label 7 of image 3 is not a class of the network (4)", argument_error);
}

TEST_CASE("fine-pruning: holdout_split is a deterministic partition, the last fraction of a seeded shuffle") {
    const HoldoutSplit a = holdout_split(100, 0.2, 7), b = holdout_split(100, 0.2, 7), c = holdout_split(100, 0.2, 8);
    CHECK(a.held_out.size() == 20);
    CHECK(a.tuned.size() == 80);
    CHECK(a.held_out == b.held_out);
    CHECK(a.held_out != c.held_out);  // another seed, another split
    std::vector<std::size_t> all = a.tuned;
    all.insert(all.end(), a.held_out.begin(), a.held_out.end());
    std::sort(all.begin(), all.end());
    for (std::size_t i = 0; i < all.size(); ++i) CHECK(all[i] == i);  // every image once
    CHECK(std::is_sorted(a.held_out.begin(), a.held_out.end()));
    // not simply the last images: the shuffle mixes them
    CHECK(a.held_out != std::vector<std::size_t>{80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99});
    CHECK(holdout_split(10, 0.25, 1).held_out.size() == 3);  // round(2.5) = 3
    CHECK(holdout_split(10, 0, 1).held_out.empty());
    CHECK_THROWS_AS(holdout_split(2, 0.1, 1), argument_error);  // rounds to no image
    CHECK_THROWS_AS(holdout_split(10, 1.0, 1), argument_error);
}

TEST_CASE("fine-pruning: without a test set the figures after fine-tuning are on held-out validation images") {
    const LabelledImages data = quadrants(100, 12);
    const DeepID net = small_net(13);
    ArrayBatchSource valid(data.images, data.labels, "valid");
    RepairOptions ro;
    ro.drops = {{4.0, false}};
    RepairResult result = repair(net, RepairData{&valid, nullptr, nullptr}, ro);
    FinePruningOptions options;
    options.epochs = 1;
    options.batch_size = 32;
    options.lr_drop = 0;
    options.seed = 3;
    const std::vector<DeepID> tuned = fine_prune_all(net, result, RepairData{&valid, nullptr, nullptr}, options);
    REQUIRE(tuned.size() == 1);
    const ThresholdResult& t = result.thresholds[0];
    REQUIRE(t.fine_tuned);
    const FineTuneResult& f = *t.fine_tuned;
    CHECK(f.clean_set == "holdout");
    CHECK(f.holdout_images == 20);
    CHECK(f.tuned_images == 80);
    // the figures are B' (tuned, and pruned before tuning) on exactly the held-out images
    const HoldoutSplit split = holdout_split(100, 0.2, 3);
    LabelledImages held;
    gather(data, split.held_out.data(), split.held_out.size(), held.images, held.labels);
    REQUIRE(f.holdout_accuracy);
    CHECK(*f.holdout_accuracy == doctest::Approx(accuracy(tuned[0], held)));
    const DeepID pruned = prune_channels(net, ChannelMask::from_order(result.channels, result.order, t.k));
    REQUIRE(f.holdout_accuracy_before);
    CHECK(*f.holdout_accuracy_before == doctest::Approx(accuracy(pruned, held)));
    REQUIRE(f.goodnet_holdout);
    CHECK(f.goodnet_holdout->images == 20);

    // with a test set: tuned on the whole validation set, figures on the test set
    const LabelledImages test_data = quadrants(40, 14);
    ArrayBatchSource test(test_data.images, test_data.labels, "test");
    RepairResult with_test = repair(net, RepairData{&valid, &test, nullptr}, ro);
    fine_prune_all(net, with_test, RepairData{&valid, &test, nullptr}, options);
    const FineTuneResult& g = *with_test.thresholds[0].fine_tuned;
    CHECK(g.clean_set == "test");
    CHECK(g.tuned_images == 100);
    CHECK(g.holdout_images == 0);
    CHECK(!g.holdout_accuracy);
    CHECK(g.test_accuracy);
}

namespace {
bool same_weights(const DeepID& a, const DeepID& b) {
    return a.stem().layer<0>().kernel() == b.stem().layer<0>().kernel() &&
           a.pruned_layer().kernel() == b.pruned_layer().kernel() &&
           a.head().layer<2>().kernel() == b.head().layer<2>().kernel();
}
}  // namespace

TEST_CASE("trainer: epoch_end sees the network as each epoch leaves it") {
    const LabelledImages data = quadrants(120, 21);
    Adam adam(1e-2f);
    TrainOptions options;
    options.epochs = 3;
    options.batch_size = 32;
    options.seed = 5;
    DeepID net = small_net(22);
    std::vector<DeepID> after;
    train(net, data, adam, options, NoConstraint{}, [&](const DeepID& n, const EpochReport& r) {
        CHECK(r.epoch == after.size() + 1);
        after.push_back(n);
    });
    REQUIRE(after.size() == 3);
    CHECK(same_weights(after.back(), net));
    // the network after epoch 2 of a 3-epoch run is the network of a 2-epoch run
    DeepID two = small_net(22);
    Adam adam2(1e-2f);
    options.epochs = 2;
    train(two, data, adam2, options);
    CHECK(same_weights(after[1], two));
    CHECK_FALSE(same_weights(after[1], after[2]));
}

TEST_CASE("fine-pruning: the epoch kept is the one best on the held-out images, the latest of equals") {
    const LabelledImages tune = quadrants(120, 31), held = quadrants(60, 32);
    const DeepID net = small_net(33);
    ChannelMask mask(8);
    mask.prune(2);
    mask.prune(5);
    FinePruningOptions options;
    options.epochs = 5;
    options.learning_rate = 2e-2f;
    options.batch_size = 32;
    options.lr_drop = 4;
    const EpochChoice<DeepID> choice = fine_prune_choosing_epoch(net, mask, tune, held, options);
    REQUIRE(choice.accuracy.size() == 5);
    REQUIRE(choice.epoch >= 1);
    REQUIRE(choice.epoch <= 5);
    const double best = *std::max_element(choice.accuracy.begin(), choice.accuracy.end());
    CHECK(choice.accuracy[choice.epoch - 1] == best);
    for (std::size_t e = choice.epoch; e < choice.accuracy.size(); ++e) CHECK(choice.accuracy[e] < best);
    CHECK(accuracy(choice.net, held) == doctest::Approx(best));
    // the kept network is the one a run of exactly that many epochs gives (same schedule, same shuffles)
    FinePruningOptions shorter = options;
    shorter.epochs = choice.epoch;
    CHECK(same_weights(choice.net, fine_prune(net, mask, tune, shorter)));
    CHECK_THROWS_AS(fine_prune_choosing_epoch(net, mask, tune, LabelledImages{}, options), argument_error);
}

TEST_CASE("fine-pruning: fine_prune_all keeps the best held-out epoch unless choose_epoch is off") {
    const LabelledImages data = quadrants(100, 41);
    const DeepID net = small_net(42);
    ArrayBatchSource valid(data.images, data.labels, "valid");
    RepairOptions ro;
    ro.drops = {{4.0, false}};
    FinePruningOptions options;
    options.epochs = 3;
    options.batch_size = 32;
    options.lr_drop = 0;
    options.seed = 4;
    RepairResult chosen = repair(net, RepairData{&valid, nullptr, nullptr}, ro);
    fine_prune_all(net, chosen, RepairData{&valid, nullptr, nullptr}, options);
    const FineTuneResult& f = *chosen.thresholds[0].fine_tuned;
    REQUIRE(f.chosen_epoch);
    REQUIRE(f.holdout_accuracy_per_epoch.size() == 3);
    REQUIRE(f.holdout_accuracy);
    CHECK(*f.holdout_accuracy == doctest::Approx(f.holdout_accuracy_per_epoch[*f.chosen_epoch - 1]));
    CHECK(*f.holdout_accuracy ==
          doctest::Approx(*std::max_element(f.holdout_accuracy_per_epoch.begin(), f.holdout_accuracy_per_epoch.end())));

    options.choose_epoch = false;
    RepairResult last = repair(net, RepairData{&valid, nullptr, nullptr}, ro);
    fine_prune_all(net, last, RepairData{&valid, nullptr, nullptr}, options);
    CHECK_FALSE(last.thresholds[0].fine_tuned->chosen_epoch);
    CHECK(last.thresholds[0].fine_tuned->holdout_accuracy_per_epoch.empty());
}

TEST_CASE("trainer: decoupled weight decay shrinks each weight by lr x lambda before the gradient step") {
    // one parameter array of two weights, a gradient on the first only
    detail::AlignedFloats w{2.0f, -1.0f}, g{0.4f, 0.0f};
    const std::vector<ParameterRef> params{{&w, &g}};
    Adam adam(0.1f);
    adam.set_weight_decay(0.5f);
    CHECK(adam.weight_decay() == 0.5f);
    adam.step(params);
    // by hand, in double: w * (1 - 0.1 * 0.5), then Adam's first step with m = 0.1 g, v = 0.001 g^2,
    // lr_t = 0.1 sqrt(1 - 0.999) / (1 - 0.9)
    const double lr_t = 0.1 * std::sqrt(1.0 - 0.999) / (1.0 - 0.9);
    const double m = 0.1 * 0.4, v = 0.001 * 0.4 * 0.4;
    CHECK(double(w[0]) == doctest::Approx(2.0 * 0.95 - lr_t * m / (std::sqrt(v) + 1e-7)).epsilon(1e-6));
    CHECK(double(w[1]) == doctest::Approx(-0.95).epsilon(1e-7));  // no gradient: only the decay
    // the decay follows the scheduled rate and stays out of the moments: a second step with lr 0.01
    adam.set_learning_rate(0.01f);
    const double w0 = w[0], w1 = w[1];
    g = {0.0f, 0.0f};
    adam.step(params);
    const double lr2 = 0.01 * std::sqrt(1.0 - 0.999 * 0.999) / (1.0 - 0.9 * 0.9);
    const double m2 = 0.9 * m, v2 = 0.999 * v;
    CHECK(double(w[0]) == doctest::Approx(w0 * (1 - 0.01 * 0.5) - lr2 * m2 / (std::sqrt(v2) + 1e-7)).epsilon(1e-6));
    CHECK(double(w[1]) == doctest::Approx(w1 * (1 - 0.01 * 0.5)).epsilon(1e-7));

    // SGD: w * (1 - lr lambda), then v = -lr g
    detail::AlignedFloats ws{2.0f}, gs{0.4f};
    Sgd sgd(0.1f, 0.9f);
    sgd.set_weight_decay(0.5f);
    sgd.step({{&ws, &gs}});
    CHECK(double(ws[0]) == doctest::Approx(2.0 * 0.95 - 0.1 * 0.4).epsilon(1e-7));
    // 0 (the default) is the optimizer as before, bit for bit
    detail::AlignedFloats a{2.0f}, b{2.0f}, ga{0.4f}, gb{0.4f};
    Adam plain(0.1f), zero(0.1f);
    zero.set_weight_decay(0.0f);
    plain.step({{&a, &ga}});
    zero.step({{&b, &gb}});
    CHECK(a[0] == b[0]);
    CHECK(Adam().weight_decay() == 0.0f);
}

TEST_CASE("trainer: augmentation is seeded, changes training, and gives the same weights with 1 and 2 threads") {
    const LabelledImages data = quadrants(120, 21);
    TrainOptions options;
    options.epochs = 2;
    options.batch_size = 32;
    options.seed = 3;
    options.augmentation = {2, true};
    const int threads = thread_count();
    auto run = [&](int n, const TrainOptions& o) {
        set_thread_count(n);
        DeepID net = small_net(23);
        Adam adam(3e-3f);
        adam.set_weight_decay(1e-2f);
        train(net, data, adam, o);
        return net;
    };
    const DeepID one = run(1, options), two = run(2, options);
    TrainOptions plain = options;
    plain.augmentation = {};
    const DeepID unaugmented = run(2, plain);
    set_thread_count(threads);
    CHECK(one.stem().layer<0>().kernel() == two.stem().layer<0>().kernel());
    CHECK(one.pruned_layer().kernel() == two.pruned_layer().kernel());
    CHECK(one.head().layer<2>().kernel() == two.head().layer<2>().kernel());
    CHECK(one.pruned_layer().kernel() != unaugmented.pruned_layer().kernel());
}

TEST_CASE("fine-pruning: with weight decay and augmentation, pruned channels stay exactly zero") {
    const LabelledImages data = quadrants(150, 31);
    DeepID net = small_net(33);
    ChannelMask mask(8);
    mask.prune(0);
    mask.prune(4);
    mask.prune(7);
    FinePruningOptions options;
    options.epochs = 2;
    options.learning_rate = 1e-2f;
    options.batch_size = 32;
    options.lr_drop = 0;
    options.weight_decay = 5e-2f;
    options.augmentation = {3, true};
    const DeepID tuned = fine_prune(net, mask, data, options);
    const auto& k = tuned.pruned_layer().kernel();
    for (std::size_t i = 0; i < k.size(); ++i)
        if (mask.is_pruned(i % 8)) CHECK(k[i] == 0.0f);
    for (const std::size_t c : {0, 4, 7}) CHECK(tuned.pruned_layer().bias()[c] == 0.0f);
    FinePruningOptions plain = options;
    plain.weight_decay = 0;
    plain.augmentation = {};
    CHECK(tuned.pruned_layer().kernel() != fine_prune(net, mask, data, plain).pruned_layer().kernel());
    // the defaults are unchanged: no decay, no augmentation
    CHECK(FinePruningOptions{}.weight_decay == 0.0f);
    CHECK_FALSE(FinePruningOptions{}.augmentation.active());
}

}  // namespace test_trainer
