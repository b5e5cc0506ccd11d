// Per-channel mean activations of the pruned layer.

#include "shared_data.hpp"

#include <prunedef/prunedef.hpp>

#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_activation_stats {

using namespace prunedef;

TEST_CASE("activation stats: accumulator averages over positions, then images") {
    Tensor t(2, {1, 2, 3});
    // image 0: channel c at positions 0 and 1 = c and c + 1; image 1: all 4
    for (std::size_t c = 0; c < 3; ++c) {
        t.at(0, 0, 0, c) = float(c);
        t.at(0, 0, 1, c) = float(c + 1);
        t.at(1, 0, 0, c) = 4;
        t.at(1, 0, 1, c) = 4;
    }
    ChannelActivationAccumulator acc(3, ActivationSite::pooled);
    acc.add(t);
    const auto r = acc.result();
    CHECK(r.images == 2);
    CHECK(r.mean[0] == doctest::Approx((0.5 + 4) / 2));
    CHECK(r.mean[1] == doctest::Approx((1.5 + 4) / 2));
    CHECK(r.mean[2] == doctest::Approx((2.5 + 4) / 2));
}

TEST_CASE("activation stats: lab3 network ranks its 32 dormant conv_3 channels first, in index order" * doctest::test_suite("shared") *
          doctest::skip(!prunedef_test::shared_available("models/csaw/lab3_sunglasses_bd_weights.h5", "data/csaw/clean_samples.h5"))) {
    const std::string model = prunedef_test::shared_path("models/csaw/lab3_sunglasses_bd_weights.h5");
    const std::string data = prunedef_test::shared_path("data/csaw/clean_samples.h5");
    DeepID net = make_deepid();
    load_keras_weights(model, net);
    const DatasetReader valid(data);
    net.bind(valid.image_shape());
    const ChannelActivations a = mean_channel_activations(net, valid);
    const std::vector<std::size_t> expected{0,  2,  6,  9,  12, 13, 14, 15, 17, 24, 25, 26, 27, 30, 31, 33,
                                            34, 36, 37, 38, 39, 40, 41, 44, 45, 47, 48, 49, 50, 53, 55, 59};
    std::size_t zeros = 0;
    for (double m : a.mean) zeros += m == 0.0;
    CHECK(zeros == expected.size());
    const auto order = IncreasingActivation{}.order(net, a);
    REQUIRE(order.size() == 60);
    CHECK(std::vector<std::size_t>(order.begin(), order.begin() + 32) == expected);
    CHECK(a.mean[order[32]] > 0.0);

    SUBCASE("the conv site ranks by the pre-pooling output") {
        const ChannelActivations c = mean_channel_activations(net, valid, ActivationSite::convolution);
        CHECK(c.site == ActivationSite::convolution);
        for (std::size_t ch = 0; ch < 60; ++ch) CHECK(c.mean[ch] <= a.mean[ch] + 1e-9);  // max-pool >= mean
    }
}

}  // namespace test_activation_stats
