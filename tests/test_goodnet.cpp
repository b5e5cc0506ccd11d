// GoodNet<B, B'>: agreement gives B's class, disagreement gives N; the shared-trunk
// specialisation GoodNet<Net, Masked<Net>> follows the same rule for every topology (the
// README's small network and a DeepID, whose heads take different code paths), checked against
// the rule applied to B and a copy of B whose pruned channels' kernel and bias are zeroed here.

#include "reference_pruning.hpp"
#include "shared_data.hpp"
#include "tiny_deepid.hpp"

#include <prunedef/prunedef.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <thread>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_goodnet {

using namespace prunedef;
using prunedef_test::agreement;
using prunedef_test::zeroed_copy;

namespace {

/// A hand-made classifier: predicts a fixed class per image.
struct FixedClassifier {
    std::vector<int> classes;
    std::size_t n_classes = 5;
    ImageShape shape{1, 1, 1};
    const ImageShape& input_shape() const { return shape; }
    std::size_t num_classes() const { return n_classes; }
    std::vector<int> predict(const Tensor& images) const {
        return std::vector<int>(classes.begin(), classes.begin() + static_cast<std::ptrdiff_t>(images.batch()));
    }
};


/// The README's "Other topologies" network, random weights, bound to `input` (height and width
/// at least 10): conv 3x3 -> pool 2 -> conv 3x3 (the pruned layer, 6 channels) -> pool 2 -> dense.
using Small = Network<Sequential<Conv2D<Relu>, MaxPool2D>, Conv2D<Relu>, MaxPool2D, Sequential<Flatten, Dense<Linear>>>;

Small small_network(unsigned seed, const ImageShape& input, std::size_t classes) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 0.4f);
    auto arr = [&](std::vector<std::size_t> dims) {
        WeightArray w{"w", std::move(dims), {}};
        w.values.resize(w.element_count());
        for (auto& v : w.values) v = normal(rng);
        return w;
    };
    Small net(Sequential<Conv2D<Relu>, MaxPool2D>(Conv2D<Relu>("c1"), MaxPool2D("p1")), Conv2D<Relu>("c2"),
              MaxPool2D("p2"), Sequential<Flatten, Dense<Linear>>(Flatten("f"), Dense<Linear>("out")));
    const std::size_t fh = ((input.height - 2) / 2 - 2) / 2, fw = ((input.width - 2) / 2 - 2) / 2;
    net.stem().layer<0>().set_weights({arr({3, 3, input.channels, 4}), arr({4})});
    net.pruned_layer().set_weights({arr({3, 3, 4, 6}), arr({6})});
    net.head().layer<1>().set_weights({arr({fh * fw * 6, classes}), arr({classes})});
    net.bind(input);
    return net;
}

Tensor random_images(std::size_t n, const ImageShape& shape, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    Tensor images(n, shape);
    for (std::size_t i = 0; i < images.size(); ++i) images.data()[i] = normal(rng);
    return images;
}

struct RuleCounts {
    std::size_t agree = 0, disagree = 0;
};

/// GoodNet(net, mask) against the rule on B and the zeroed copy, on batches of several sizes.
template <class Net>
void check_masked_goodnet(const Net& net, const std::vector<std::size_t>& pruned, unsigned seed, RuleCounts& counts) {
    ChannelMask mask(net.prunable_channels());
    for (std::size_t c : pruned) mask.prune(c);
    const Net zeroed = zeroed_copy(net, pruned);
    const GoodNet g(net, mask);
    static_assert(std::is_same_v<std::decay_t<decltype(g)>, GoodNet<Net, Masked<Net>>>);
    const int detected = static_cast<int>(net.num_classes());
    REQUIRE(g.detected_class() == detected);
    for (const std::size_t n : {1, 2, 5, 16, 37}) {
        CAPTURE(n);
        const Tensor images = random_images(n, net.input_shape(), seed + static_cast<unsigned>(n));
        const std::vector<int> pb = net.predict(images), pbp = zeroed.predict(images);
        const std::vector<int> expected = agreement(pb, pbp, detected);
        CHECK(g.predict(images) == expected);
        std::vector<int> gb, gbp;
        g.predict_both(images, gb, gbp);
        CHECK(gb == pb);
        CHECK(gbp == pbp);
        CHECK(g.repaired().predict(images) == pbp);
        for (std::size_t i = 0; i < n; ++i) (pb[i] == pbp[i] ? counts.agree : counts.disagree)++;
    }
}

/// B''s logits from the kept-channel head and from Masked<Net>, for the given affected images.
void check_kept_head(const DeepID& net, const ChannelMask& mask, const Tensor& images,
                     const std::vector<std::size_t>& affected) {
    const detail::KeptChannelHead<DeepID> head(net, mask);
    Tensor features, lb, lbp;
    net.features(images, features);
    head.logits_with_original(features, affected, lb, lbp);
    const Tensor b = net.logits(images), masked = Masked<DeepID>(net, mask).logits(images);
    REQUIRE(lb.size() == b.size());
    CHECK(std::equal(lb.data(), lb.data() + lb.size(), b.data()));  // B's rows bit for bit
    const std::size_t classes = net.num_classes();
    REQUIRE(lbp.batch() == affected.size());
    REQUIRE(lbp.image_size() == classes);
    double worst = 0, changed = 0;
    for (std::size_t j = 0; j < affected.size(); ++j)
        for (std::size_t k = 0; k < classes; ++k) {
            const float got = lbp.image(j)[k], want = masked.image(affected[j])[k];
            worst = std::max(worst, std::fabs(double(got) - want) / std::max(1.0, std::fabs(double(want))));
            changed = std::max(changed, std::fabs(double(want) - b.image(affected[j])[k]));
        }
    CHECK(worst <= 1e-5);
    CHECK(changed > 1e-2);  // the mask changes the logits, so the comparison means something
}
}  // namespace

TEST_CASE("goodnet: agreeing inputs keep the class, disagreeing ones get N") {
    const FixedClassifier b{{0, 1, 2, 3, 4}}, bprime{{0, 2, 2, 1, 4}};
    const GoodNet<FixedClassifier, FixedClassifier> g(b, bprime);
    CHECK(g.detected_class() == 5);
    const Tensor images(5, {1, 1, 1});
    CHECK(g.predict(images) == std::vector<int>{0, 5, 2, 5, 4});
}

TEST_CASE("goodnet: B and B' must have the same classes and input") {
    FixedClassifier b{{0}}, bprime{{0}};
    bprime.n_classes = 6;
    CHECK_THROWS_WITH_AS((GoodNet<FixedClassifier, FixedClassifier>(b, bprime)),
                         "GoodNet: B has 5 classes but B' has 6", shape_error);
    bprime.n_classes = 5;
    bprime.shape = {2, 1, 1};
    CHECK_THROWS_AS((GoodNet<FixedClassifier, FixedClassifier>(b, bprime)), shape_error);
}

TEST_CASE("goodnet: counts of outputs against labels") {
    const auto c = count_goodnet({0, 5, 2, 5, 1}, {0, 1, 3, 5, 1}, 5);
    CHECK(c.images == 5);
    CHECK(c.matched == 2);
    CHECK(c.flagged == 2);
    CHECK(c.other == 1);
    CHECK(c.matched_percent() == doctest::Approx(40.0));
}

TEST_CASE("goodnet: shared trunk equals two full networks on the fmnist BadNet" * doctest::test_suite("shared") *
          doctest::skip(!prunedef_test::shared_available("fmnist_badnet"))) {
    const std::string dir = prunedef_test::shared_path("fmnist_badnet");
    DeepID net = make_deepid();
    load_keras_weights(dir + "/bd_weights.h5", net);
    const DatasetReader poisoned(dir + "/bd_test.h5");
    net.bind(poisoned.image_shape());
    RepairOptions options;
    options.drops = {{10.0, false}};
    const RepairResult r = repair(net, RepairData{&poisoned, nullptr, nullptr}, options);
    const ChannelMask mask = ChannelMask::from_order(r.channels, r.order, 35);

    const GoodNet shared(net, mask);  // GoodNet<DeepID, Masked<DeepID>>
    const GoodNet<DeepID, DeepID> separate(net, prune_channels(net, mask));
    Tensor images;
    poisoned.read(0, 500, images);
    const auto a = shared.predict(images);
    const auto b = separate.predict(images);
    CHECK(a == b);
    std::size_t flagged = 0;
    for (int c : a) flagged += c == 10;
    CHECK(flagged > 0);  // some poisoned inputs are detected

    SUBCASE("a GoodNet file round-trips") {
        const auto scratch = prunedef_test::scratch_dir("goodnet_file");
        const std::string path = (scratch / "goodnet.h5").string();
        save_goodnet(path, net, prune_channels(net, mask), mask.pruned_channels());
        CHECK(is_goodnet_file(path));
        const auto [loaded_b, loaded_bprime] = load_goodnet_networks(path, make_deepid);
        const GoodNet loaded(loaded_b, loaded_bprime);
        CHECK(loaded.predict(images) == a);
        CHECK_FALSE(is_goodnet_file(dir + "/bd_weights.h5"));
        CHECK_THROWS_AS(load_goodnet_networks(dir + "/bd_weights.h5", make_deepid), format_error);
    }
}

TEST_CASE("goodnet: GoodNet<Net, Masked<Net>> of the README's small network follows the agreement rule") {
    static_assert(!detail::has_incremental_head<Small>);
    const Small net = small_network(3, {17, 17, 2}, 5);
    RuleCounts counts;
    const std::vector<std::vector<std::size_t>> masks{{}, {0}, {1, 3}, {0, 2, 4, 5}, {0, 1, 2, 3, 4, 5}};
    for (std::size_t m = 0; m < masks.size(); ++m) {
        CAPTURE(m);
        check_masked_goodnet(net, masks[m], 100 + 10 * static_cast<unsigned>(m), counts);
    }
    MESSAGE("small network: " << counts.agree << " agreeing, " << counts.disagree << " disagreeing inputs");
    CHECK(counts.agree > 0);
    CHECK(counts.disagree > 0);

    SUBCASE("a copy outlives the original") {
        ChannelMask mask(6);
        mask.prune(1);
        mask.prune(3);
        auto original = std::make_unique<GoodNet<Small, Masked<Small>>>(net, mask);
        const GoodNet<Small, Masked<Small>> copy(*original);
        original.reset();
        const Tensor images = random_images(9, net.input_shape(), 5);
        CHECK(copy.predict(images) == agreement(net.predict(images), zeroed_copy(net, {1, 3}).predict(images), 5));
    }
}

TEST_CASE("goodnet: GoodNet<DeepID, Masked<DeepID>> (kept-channel head) follows the agreement rule") {
    static_assert(detail::has_incremental_head<DeepID>);
    DeepID net = prunedef_test::tiny_deepid(21);
    net.bind({55, 47, 3});
    REQUIRE(net.prunable_channels() == 2);
    RuleCounts counts;
    const std::vector<std::vector<std::size_t>> masks{{}, {0}, {1}, {0, 1}};
    for (std::size_t m = 0; m < masks.size(); ++m) {
        CAPTURE(m);
        check_masked_goodnet(net, masks[m], 200 + 10 * static_cast<unsigned>(m), counts);
    }
    MESSAGE("tiny DeepID: " << counts.agree << " agreeing, " << counts.disagree << " disagreeing inputs");
    CHECK(counts.agree > 0);
    CHECK(counts.disagree > 0);

    SUBCASE("a copy outlives the original (the kept-channel head reads the copy's network)") {
        ChannelMask mask(2);
        mask.prune(0);
        auto original = std::make_unique<GoodNet<DeepID, Masked<DeepID>>>(net, mask);
        const GoodNet<DeepID, Masked<DeepID>> copy(*original);
        original.reset();
        const Tensor images = random_images(9, net.input_shape(), 6);
        CHECK(copy.predict(images) == agreement(net.predict(images), zeroed_copy(net, {0}).predict(images), 5));
    }
}

TEST_CASE("goodnet: one GoodNet<DeepID, Masked<DeepID>> called again and from two threads at once gives the same classes") {
    // predict() reuses workspaces from call to call (one per concurrent call): batches of
    // different sizes one after another, and two threads at once, must not see each other's data
    DeepID net = prunedef_test::tiny_deepid(23);
    net.bind({55, 47, 3});
    ChannelMask mask(2);
    mask.prune(1);
    const GoodNet<DeepID, Masked<DeepID>> goodnet(net, mask);
    const DeepID zeroed = zeroed_copy(net, {1});
    std::vector<Tensor> batches;
    std::vector<std::vector<int>> expected;
    for (std::size_t b = 0; b < 6; ++b) {
        batches.push_back(random_images(b % 2 ? 13 : 3, net.input_shape(), 40 + static_cast<unsigned>(b)));
        expected.push_back(agreement(net.predict(batches[b]), zeroed.predict(batches[b]), 5));
    }
    for (int round = 0; round < 2; ++round)
        for (std::size_t b = 0; b < batches.size(); ++b) CHECK(goodnet.predict(batches[b]) == expected[b]);
    std::vector<std::vector<int>> got[2];
    auto run = [&](int t) {
        for (int round = 0; round < 20; ++round)
            for (std::size_t b = 0; b < batches.size(); ++b) got[t].push_back(goodnet.predict(batches[b]));
    };
    std::thread other(run, 1);
    run(0);
    other.join();
    for (int t = 0; t < 2; ++t) {
        REQUIRE(got[t].size() == 20 * batches.size());
        for (std::size_t i = 0; i < got[t].size(); ++i) CHECK(got[t][i] == expected[i % batches.size()]);
    }
}

TEST_CASE("goodnet: the kept-channel head gives Masked<DeepID>'s logits") {
    DeepID net = prunedef_test::tiny_deepid(22);
    net.bind({55, 47, 3});
    const Tensor images = random_images(13, net.input_shape(), 7);
    for (std::size_t c = 0; c < 2; ++c) {
        CAPTURE(c);
        ChannelMask mask(2);
        mask.prune(c);
        check_kept_head(net, mask, images, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
        check_kept_head(net, mask, images, {1, 4, 12});
        check_kept_head(net, mask, images, {7});
    }
}

TEST_CASE("goodnet: GoodNet<B, B'> of two independent networks follows the agreement rule") {
    const ImageShape shape{55, 47, 3};
    DeepID deepid = prunedef_test::tiny_deepid(23);
    deepid.bind(shape);
    const Small small = small_network(4, shape, 5), other = small_network(5, shape, 5);
    RuleCounts counts;
    for (const std::size_t n : {1, 4, 31}) {
        CAPTURE(n);
        const Tensor images = random_images(n, shape, 300 + static_cast<unsigned>(n));
        const GoodNet<Small, DeepID> mixed(small, deepid);
        const std::vector<int> ps = small.predict(images), pd = deepid.predict(images), po = other.predict(images);
        CHECK(mixed.predict(images) == agreement(ps, pd, 5));
        const GoodNet<Small, Small> same_type(small, other);
        CHECK(same_type.predict(images) == agreement(ps, po, 5));
        for (std::size_t i = 0; i < n; ++i) {
            (ps[i] == pd[i] ? counts.agree : counts.disagree)++;
            (ps[i] == po[i] ? counts.agree : counts.disagree)++;
        }
    }
    CHECK(counts.agree > 0);
    CHECK(counts.disagree > 0);
}

}  // namespace test_goodnet
