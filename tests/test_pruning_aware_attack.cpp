// The pruning-aware attack: the prefix dropout of its retraining, the simulated defender's
// sweep, and what the attack leaves (dormant decoys that the defender's ranking puts first).

#include <doctest/doctest.h>

#include <prunedef/prunedef.hpp>

#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_pruning_aware_attack {

using namespace prunedef;

namespace {

/// Three classes told apart by where a bright block sits; raw pixel values as Fashion-MNIST's.
LabelledImages blocks(std::size_t n, std::uint64_t seed) {
    Rng rng(seed);
    LabelledImages d;
    d.images.resize(n, {28, 28, 1});
    const std::size_t corner[3][2] = {{2, 2}, {2, 15}, {15, 2}};
    for (std::size_t i = 0; i < n; ++i) {
        const int label = int(i % 3);
        d.labels.push_back(label);
        float* img = d.images.image(i);
        for (std::size_t p = 0; p < 28 * 28; ++p) img[p] = float(30.0 * rng.uniform());
        for (std::size_t y = 0; y < 9; ++y)
            for (std::size_t x = 0; x < 9; ++x)
                img[(corner[label][0] + y) * 28 + corner[label][1] + x] = float(150.0 + 100.0 * rng.uniform());
    }
    return d;
}

/// A DeepID-shaped network for 28x28x1 inputs with 12 channels in conv_3, 3 classes.
DeepID small_deepid(std::uint64_t seed) {
    Rng rng(seed);
    DeepID net = make_deepid();
    initialize(net, {{3, 3, 1, 4}, {3, 3, 4, 8}, {2, 2, 8, 12}, {48, 16}, {2, 2, 12, 8}, {8, 16}, {16, 3}}, rng);
    net.bind({28, 28, 1});
    return net;
}

/// small_deepid trained on clean blocks for a few epochs.
DeepID trained_small_deepid(const LabelledImages& data) {
    DeepID net = small_deepid(5);
    Adam adam(0.003f);
    TrainOptions options;
    options.epochs = 3;
    options.batch_size = 32;
    options.seed = 7;
    train(net, data, adam, options);
    return net;
}

Conv2D<Relu> conv_with_weights() {
    Conv2D<Relu> conv("conv_3");
    WeightArray k{"kernel:0", {2, 2, 3, 6}, {}}, b{"bias:0", {6}, {}};
    for (std::size_t i = 0; i < k.element_count(); ++i) k.values.push_back(float(i % 7) + 1.0f);
    for (std::size_t c = 0; c < 6; ++c) b.values.push_back(0.5f + float(c));
    conv.set_weights({k, b});
    return conv;
}

bool channel_zero(const Conv2D<Relu>& conv, std::size_t c) {
    const std::size_t cout = conv.out_channels();
    for (std::size_t i = c; i < conv.kernel().size(); i += cout)
        if (conv.kernel()[i] != 0.0f) return false;
    return conv.bias()[c] == 0.0f;
}

bool channel_equal(const Conv2D<Relu>& a, const Conv2D<Relu>& b, std::size_t c) {
    const std::size_t cout = a.out_channels();
    for (std::size_t i = c; i < a.kernel().size(); i += cout)
        if (a.kernel()[i] != b.kernel()[i]) return false;
    return a.bias()[c] == b.bias()[c];
}

}  // namespace

TEST_CASE("pruning-aware attack: the prefix dropout zeroes exactly a prefix of the order, then restores it") {
    const Conv2D<Relu> original = conv_with_weights();
    Conv2D<Relu> conv = original;
    const std::vector<std::size_t> order = {4, 1, 5, 0};
    detail::PrefixDropout dropout(11);
    dropout.set_order(conv, order);
    std::set<std::size_t> lengths;
    for (int call = 0; call < 40; ++call) {
        dropout(conv);
        const std::size_t length = dropout.length();
        REQUIRE(length <= order.size());
        lengths.insert(length);
        for (std::size_t c = 0; c < 6; ++c) {
            const auto at = std::find(order.begin(), order.end(), c);
            const bool dropped = at != order.end() && std::size_t(at - order.begin()) < length;
            CHECK(channel_zero(conv, c) == dropped);
            if (!dropped) CHECK(channel_equal(conv, original, c));
        }
    }
    CHECK(lengths == std::set<std::size_t>{0, 1, 2, 3, 4});  // every length in [0, 4] drawn in 40 calls
    dropout.restore(conv);
    for (std::size_t c = 0; c < 6; ++c) CHECK(channel_equal(conv, original, c));

    CHECK_THROWS_WITH_AS(dropout.set_order(conv, {1, 6}), "PrefixDropout: channel 6 out of range: layer conv_3 has 6",
                         argument_error);
    CHECK_THROWS_WITH_AS(dropout.set_order(conv, {2, 2}), "PrefixDropout: channel 2 twice in the order",
                         argument_error);
}

TEST_CASE("pruning-aware attack: the prefix dropout is deterministic for a seed") {
    auto lengths = [](std::uint64_t seed) {
        Conv2D<Relu> conv = conv_with_weights();
        detail::PrefixDropout dropout(seed);
        dropout.set_order(conv, {0, 1, 2, 3, 4, 5});
        std::vector<std::size_t> out;
        for (int call = 0; call < 30; ++call) {
            dropout(conv);
            out.push_back(dropout.length());
        }
        return out;
    };
    CHECK(lengths(3) == lengths(3));
    CHECK(lengths(3) != lengths(4));
}

TEST_CASE("pruning-aware attack: live_prefix skips the channels a mask removes") {
    ChannelMask removed(6);
    removed.prune(1);
    removed.prune(3);
    CHECK(detail::live_prefix({3, 1, 0, 5, 2, 4}, 4, removed) == std::vector<std::size_t>{0, 5});
    CHECK(detail::live_prefix({3, 1, 0, 5, 2, 4}, 9, removed) == std::vector<std::size_t>{0, 5, 2, 4});
}

TEST_CASE("pruning-aware attack: simulate_pruning's count is the first step a naive loop finds") {
    const LabelledImages data = blocks(300, 21);
    const DeepID net = trained_small_deepid(data);
    const LabelledImages clean = blocks(200, 22);
    const auto order = IncreasingActivation{}.order(net, pruned_layer_activations(net, clean));
    const double base = accuracy(net, clean);
    REQUIRE(base > 60.0);
    // drops that are not multiples of 0.5 (200 images): no accuracy sits exactly on a boundary
    for (double drop : {1.25, 4.75, 20.25, 99.75}) {
        CAPTURE(drop);
        const SimulatedPruning sim = simulate_pruning(net, clean, drop);
        CHECK(sim.order == order);
        std::size_t naive = order.size();
        bool reached = false;
        for (std::size_t k = 1; k <= order.size() && !reached; ++k) {
            const DeepID pruned = prune_channels(net, ChannelMask::from_order(net.prunable_channels(), order, k));
            if (base - accuracy(pruned, clean) >= drop) {
                naive = k;
                reached = true;
            }
        }
        CHECK(sim.reached == reached);
        CHECK(sim.count == naive);
    }
    CHECK_FALSE(simulate_pruning(net, clean, 99.75).reached);  // accuracy never falls below 0.25 %
    CHECK_THROWS_AS(simulate_pruning(net, clean, 0.0), argument_error);
}

TEST_CASE("pruning-aware attack: the decoys are dormant and the defender's ranking puts them first") {
    const LabelledImages data = blocks(600, 31);
    DeepID net = trained_small_deepid(data);
    const auto clean_kernel = net.pruned_layer().weights()[0].values;
    Rng rng(2);
    const LabelledImages poisoned = poison(data, SquareTrigger::parse("square:4@23,23"), 0, 0.1, rng);
    const LabelledImages clean = blocks(200, 32);
    PruningAwareOptions options;
    options.prune_drop = 10.0;
    options.defend_drop = 15.0;
    options.decoy_bias = -2e4f;
    options.retrain.epochs = 2;
    options.retrain.batch_size = 32;
    options.retrain.seed = 9;
    Adam adam(0.003f);
    const PruningAwareReport report = pruning_aware_attack(net, poisoned, clean, adam, options);
    REQUIRE_FALSE(report.decoys.empty());

    const auto& conv = net.pruned_layer();
    const std::size_t cout = conv.out_channels();
    const ChannelActivations act = pruned_layer_activations(net, clean);
    const std::set<std::size_t> decoys(report.decoys.begin(), report.decoys.end());
    for (std::size_t c : report.decoys) {
        CAPTURE(c);
        CHECK(conv.bias()[c] == -2e4f);
        CHECK(act.mean[c] == 0.0);
        for (std::size_t i = c; i < clean_kernel.size(); i += cout) CHECK(conv.kernel()[i] == clean_kernel[i]);
    }
    // the other channels were retrained and left whole (the dropout restored them)
    std::size_t active = 0;
    for (std::size_t c = 0; c < cout; ++c) {
        if (decoys.count(c)) continue;
        bool nonzero = false;
        for (std::size_t i = c; i < conv.kernel().size(); i += cout) nonzero |= conv.kernel()[i] != 0.0f;
        CHECK(nonzero);
        active += act.mean[c] > 0.0;
    }
    REQUIRE(active > 0);
    const auto order = IncreasingActivation{}.order(net, act);
    std::size_t last_decoy = 0, first_active = order.size();
    for (std::size_t i = 0; i < order.size(); ++i) {
        if (decoys.count(order[i])) last_decoy = i;
        if (act.mean[order[i]] > 0.0) first_active = std::min(first_active, i);
    }
    CHECK(last_decoy < first_active);
}

TEST_CASE("pruning-aware attack: a network that no pruning hurts is refused") {
    // a network that predicts class 0 for everything keeps 100 % on all-0 labels whatever is pruned
    DeepID net = small_deepid(5);
    auto& output = net.head().layer<2>();
    for (auto& v : output.kernel()) v = 0.0f;
    for (std::size_t c = 0; c < 3; ++c) output.bias()[c] = c == 0 ? 1.0f : 0.0f;
    LabelledImages clean = blocks(60, 41);
    std::fill(clean.labels.begin(), clean.labels.end(), 0);
    PruningAwareOptions options;
    Adam adam(0.003f);
    CHECK_THROWS_WITH_AS(pruning_aware_attack(net, clean, clean, adam, options),
                         "pruning_aware_attack: pruning every channel of conv_3 does not lose 4 points of accuracy on "
                         "the clean data (is the network trained?)",
                         argument_error);
}

}  // namespace test_pruning_aware_attack
