// GoodNet<B, B'>: agreement gives B's class, disagreement gives N; the shared-trunk
// specialisation equals the general one.

#include "shared_data.hpp"

#include <prunedef/prunedef.hpp>

#include <vector>

using namespace prunedef;

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

TEST_CASE("goodnet: shared trunk equals two full networks on the fmnist BadNet") {
    const std::string dir = prunedef_test::shared_file("fmnist_badnet");
    if (dir.empty()) return;
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
