// named_order.hpp: every name of pruning_order_names gives the repair its policy gives (the same
// order and thresholds), ANP with the settings' options; unknown names and an ANP without what
// it needs are refused.

#include "tiny_deepid.hpp"

#include <doctest/doctest.h>

#include <prunedef/prunedef.hpp>

#include <string>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_named_order {

using namespace prunedef;

namespace {

struct Case {
    DeepID net;
    LabelledImages valid;
};

Case make_case() {
    Case c{prunedef_test::tiny_deepid(3, 5), {}};
    c.net.bind({55, 47, 3});
    c.net.set_input_scale(1.0f / 255.0f);
    Rng rng(9);
    c.valid.images.resize(40, {55, 47, 3});
    for (std::size_t i = 0; i < c.valid.images.size(); ++i) c.valid.images.data()[i] = float(rng.uniform() * 255.0);
    for (std::size_t i = 0; i < 40; ++i) c.valid.labels.push_back(int(i % 5));
    return c;
}

void check_same(const RepairResult& a, const RepairResult& b) {
    CHECK(a.policy == b.policy);
    CHECK(a.order == b.order);
    REQUIRE(a.thresholds.size() == b.thresholds.size());
    for (std::size_t i = 0; i < a.thresholds.size(); ++i) {
        CHECK(a.thresholds[i].k == b.thresholds[i].k);
        CHECK(a.thresholds[i].valid_accuracy == b.thresholds[i].valid_accuracy);
    }
}

}  // namespace

TEST_CASE("named order: each name repairs as its policy does") {
    const Case c = make_case();
    const ArrayBatchSource valid(c.valid.images, c.valid.labels);
    const RepairData data{&valid, nullptr, nullptr};
    RepairOptions options;
    options.drops = {{2.0, false}, {10.0, false}};

    check_same(repair_with_order(c.net, data, options, "increasing").result, repair<IncreasingActivation>(c.net, data, options));
    check_same(repair_with_order(c.net, data, options, "decreasing").result, repair<DecreasingActivation>(c.net, data, options));
    check_same(repair_with_order(c.net, data, options, "l1").result, repair<KernelL1Norm>(c.net, data, options));
    check_same(repair_with_order(c.net, data, options, "clp").result, repair(c.net, data, options, ChannelLipschitz{}));
    CHECK(repair_with_order(c.net, data, options, "clp").result.policy == "clp");

    NamedOrderSettings settings;
    settings.anp.iterations = 6;
    settings.anp.batch_size = 8;
    settings.anp.epsilon = 0.3f;
    const NamedOrderRepair anp = repair_with_order(c.net, data, options, "anp", settings);
    AdversarialNeuronPruning direct;
    direct.options = settings.anp;
    direct.masks = anp_masks(c.net, c.valid, settings.anp);
    CHECK(anp.anp_masks == direct.masks);
    check_same(anp.result, repair(c.net, data, options, direct));
    CHECK(anp.result.policy == "anp");
    CHECK(repair_with_order(c.net, data, options, "l1").anp_masks.empty());

    for (std::string_view name : pruning_order_names) CHECK(is_pruning_order_name(name));
    CHECK_FALSE(is_pruning_order_name("random"));
}

TEST_CASE("named order: an unknown name and an ANP without what it needs are refused") {
    const Case c = make_case();
    const ArrayBatchSource valid(c.valid.images, c.valid.labels);
    const RepairData data{&valid, nullptr, nullptr};
    CHECK_THROWS_WITH_AS(repair_with_order(c.net, data, RepairOptions{}, "Increasing"),
                         "order 'Increasing': expected one of increasing, decreasing, l1, clp, anp", argument_error);
    NamedOrderSettings bad;
    bad.anp.epsilon = 2.0f;
    CHECK_THROWS_WITH_AS(repair_with_order(c.net, data, RepairOptions{}, "anp", bad), doctest::Contains("ANP: epsilon"),
                         argument_error);
    const RepairData no_valid{nullptr, nullptr, nullptr};
    CHECK_THROWS_WITH_AS(repair_with_order(c.net, no_valid, RepairOptions{}, "anp"),
                         "order 'anp': no validation set to learn the masks on", argument_error);
}

}  // namespace test_named_order
