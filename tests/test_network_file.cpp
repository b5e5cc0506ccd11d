// io/network_file.hpp: a model file of any kind as the network that runs it, and networks
// derived from it written back as files of its kind.

#include "shared_data.hpp"
#include "tiny_deepid.hpp"

#include <doctest/doctest.h>

#include <prunedef/io/network_file.hpp>
#include <prunedef/prunedef.hpp>

#include <random>
#include <variant>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_network_file {

using namespace prunedef;
using prunedef_test::scratch_dir;
using prunedef_test::tiny_deepid;

namespace {

Tensor random_images(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(0.0f, 255.0f);
    Tensor t(n, {55, 47, 3});
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = dist(rng);
    return t;
}

template <class Net>
void check_same_logits(const AnyNetwork& any, const Net& expected, const Tensor& images) {
    const Tensor want = expected.logits(images);
    const Tensor got = std::visit([&](const auto& n) { return n.logits(images); }, any);
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) CHECK(got.data()[i] == want.data()[i]);
}

}  // namespace

TEST_CASE("network file: weights-only, full-model and split files run as the network written") {
    const auto dir = scratch_dir("network_file");
    DeepID b = tiny_deepid(7);
    b.bind({55, 47, 3});
    b.set_input_scale(1.0f / 255.0f);
    const Tensor images = random_images(6, 3);
    const std::string weights_only = (dir / "b_weights.h5").string();
    save_keras_weights(weights_only, b);

    // a weights-only file: DeepID assumed; the shape and scale prunedef stored with it applied
    NetworkFile w = load_network(weights_only);
    CHECK(w.architecture_assumed);
    CHECK(w.file.kind == KerasFileKind::weights_only);
    REQUIRE(std::holds_alternative<DeepID>(w.net));
    CHECK(std::get<DeepID>(w.net).bound());
    CHECK(std::get<DeepID>(w.net).input_scale() == b.input_scale());
    CHECK(w.file.weights.empty());  // moved into the network
    check_same_logits(w.net, b, images);
    CHECK_THROWS_AS(load_network(weights_only, {"", "conv_2", true, ""}), argument_error);

    // B' written as a full model (the CSAW configuration), with its shape and scale
    const DeepID bprime = prune_channels(b, ChannelMask::from_order(2, {1, 0}, 1));
    const std::string full = (dir / "bprime.h5").string();
    save_derived_model(full, w.file, bprime);
    NetworkFile f = load_network(full);
    CHECK_FALSE(f.architecture_assumed);
    CHECK(f.file.kind == KerasFileKind::full_model);
    REQUIRE(std::holds_alternative<DeepID>(f.net));
    CHECK(std::get<DeepID>(f.net).bound());
    CHECK(std::get<DeepID>(f.net).input_scale() == b.input_scale());
    check_same_logits(f.net, bprime, images);

    // the same file split at another layer: a graph network giving the same logits
    NetworkFile g = load_network(full, {"", "conv_2", true, ""});
    REQUIRE(std::holds_alternative<GraphNetwork>(g.net));
    CHECK(std::get<GraphNetwork>(g.net).pruned_layer().name() == "conv_2");
    const Tensor want = bprime.logits(images), got = std::get<GraphNetwork>(g.net).logits(images);
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) CHECK(got.data()[i] == doctest::Approx(want.data()[i]).epsilon(1e-5));

    // written back weights-only, and a GoodNet file of B and B'
    const std::string again = (dir / "again.h5").string();
    save_derived_model(again, f.file, std::get<DeepID>(f.net), /*weights_only=*/true);
    CHECK(read_keras_model(again).kind == KerasFileKind::weights_only);
    const std::string goodnet = (dir / "goodnet.h5").string();
    save_derived_goodnet(goodnet, f.file, b, bprime, {1});
    CHECK(is_goodnet_file(goodnet));
    CHECK_THROWS_AS(load_network((dir / "missing.h5").string()), io_error);
}

}  // namespace test_network_file
