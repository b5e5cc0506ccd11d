// Pruning policies: orders, ties by channel index, user rankings, the data-free L1 policy.

#include <doctest/doctest.h>

#include <prunedef/prunedef.hpp>

#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_pruning_policy {

using namespace prunedef;

namespace {
DeepID::pruned_type conv_with_kernel(const std::vector<float>& per_channel_scale) {
    DeepID::pruned_type conv("conv_3");
    const std::size_t cout = per_channel_scale.size();
    WeightArray k{"kernel:0", {1, 1, 2, cout}, std::vector<float>(2 * cout)};
    for (std::size_t i = 0; i < k.values.size(); ++i) k.values[i] = per_channel_scale[i % cout] * (i % 2 ? -1.0f : 1.0f);
    conv.set_weights({k, {"bias:0", {cout}, std::vector<float>(cout, 0.0f)}});
    return conv;
}
}  // namespace

TEST_CASE("pruning policy: increasing and decreasing activation, ties by channel index") {
    ChannelActivations a;
    a.mean = {0.5, 0.0, 2.0, 0.0, 0.5, 1.0};
    DeepID net = make_deepid();
    CHECK(IncreasingActivation{}.order(net, a) == std::vector<std::size_t>{1, 3, 0, 4, 5, 2});
    CHECK(DecreasingActivation{}.order(net, a) == std::vector<std::size_t>{2, 5, 0, 4, 1, 3});
}

TEST_CASE("pruning policy: L1 norm of each channel's kernel slice, data-free") {
    DeepID net = make_deepid();
    net.pruned_layer() = conv_with_kernel({3.0f, 1.0f, 2.0f, 1.0f});
    ChannelActivations none;
    CHECK(KernelL1Norm{}.order(net, none) == std::vector<std::size_t>{1, 3, 2, 0});
    CHECK_FALSE(KernelL1Norm::needs_activations);
}

TEST_CASE("pruning policy: a user ranking is checked against the layer") {
    DeepID net = make_deepid();
    net.pruned_layer() = conv_with_kernel({1, 1, 1});
    ChannelActivations none;
    CHECK(UserRanking{{2, 0}}.order(net, none) == std::vector<std::size_t>{2, 0});
    const UserRanking out_of_range{{0, 3}}, repeated{{1, 1}};
    CHECK_THROWS_WITH_AS(out_of_range.order(net, none), "user ranking names channel 3 but layer conv_3 has 3",
                         argument_error);
    CHECK_THROWS_WITH_AS(repeated.order(net, none), "user ranking names channel 1 twice", argument_error);
}

}  // namespace test_pruning_policy
