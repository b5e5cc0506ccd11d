// Channel masks: applying to features and baking into weights agree.

#include <doctest/doctest.h>

#include <prunedef/prunedef.hpp>

#include <random>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_channel_mask {

using namespace prunedef;

TEST_CASE("channel mask: apply zeroes the channel at every position") {
    ChannelMask m(3);
    m.prune(1);
    CHECK(m.pruned_count() == 1);
    CHECK(m.pruned_channels() == std::vector<std::size_t>{1});
    Tensor t(2, {2, 2, 3});
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = float(i + 1);
    m.apply(t);
    for (std::size_t i = 0; i < t.size(); ++i) CHECK(t.data()[i] == (i % 3 == 1 ? 0.0f : float(i + 1)));
    CHECK_THROWS_WITH_AS(m.prune(3), "channel 3 out of range: the layer has 3 channels", argument_error);
    Tensor wrong(1, {1, 1, 4});
    CHECK_THROWS_AS(m.apply(wrong), shape_error);
}

TEST_CASE("channel mask: from_order prunes a prefix of the order") {
    const auto m = ChannelMask::from_order(5, {4, 2, 0, 1, 3}, 2);
    CHECK(m.pruned_channels() == std::vector<std::size_t>{2, 4});
    CHECK_THROWS_AS(ChannelMask::from_order(5, {4, 2}, 3), argument_error);
}

TEST_CASE("channel mask: prune_channels zeroes kernel slices and biases, features equal masked features") {
    std::mt19937 rng(3);
    std::normal_distribution<float> normal;
    DeepID net = make_deepid();
    auto fill = [&](std::vector<std::size_t> dims) {
        WeightArray w{"w", dims, {}};
        w.values.resize(w.element_count());
        for (auto& v : w.values) v = normal(rng);
        return w;
    };
    net.stem().layer<0>().set_weights({fill({3, 3, 2, 4}), fill({4})});
    net.stem().layer<2>().set_weights({fill({2, 2, 4, 5}), fill({5})});
    net.pruned_layer().set_weights({fill({2, 2, 5, 6}), fill({6})});
    auto& sum = net.head().layer<0>();
    sum.first().layer<1>().set_weights({fill({24, 7}), fill({7})});
    sum.second().layer<0>().set_weights({fill({2, 2, 6, 2}), fill({2})});
    sum.second().layer<2>().set_weights({fill({2, 7}), fill({7})});
    net.head().layer<2>().set_weights({fill({7, 3}), fill({3})});
    net.bind({24, 24, 2});

    ChannelMask mask(6);
    mask.prune(0);
    mask.prune(4);
    const DeepID pruned = prune_channels(net, mask);
    const auto& k = pruned.pruned_layer().kernel();
    for (std::size_t i = 0; i < k.size(); ++i)
        if (i % 6 == 0 || i % 6 == 4) CHECK(k[i] == 0.0f);
    CHECK(pruned.pruned_layer().bias()[0] == 0.0f);
    CHECK(pruned.pruned_layer().bias()[1] == net.pruned_layer().bias()[1]);

    Tensor images(5, net.input_shape());
    for (std::size_t i = 0; i < images.size(); ++i) images.data()[i] = normal(rng);
    Tensor masked, baked;
    net.features(images, masked);
    mask.apply(masked);
    pruned.features(images, baked);
    for (std::size_t i = 0; i < masked.size(); ++i) CHECK(masked.data()[i] == baked.data()[i]);
}

}  // namespace test_channel_mask
