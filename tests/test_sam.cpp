// Sharpness-aware fine-tuning (FT-SAM): one step against a reference computed by hand from two
// gradient evaluations; rho 0 is the plain step bit for bit; the same weights with 1 and 2
// threads; pruned channels stay zero.

#include "quadrant_task.hpp"

#include <doctest/doctest.h>

#include <prunedef/prunedef.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_sam {

using namespace prunedef;

namespace {

DeepID sam_net(std::uint64_t seed) { return prunedef_test::quadrant_deepid(seed, true); }
using prunedef_test::bright_quadrants;

/// The cross-entropy gradient of net on data (one batch), every trained array in visit order.
std::vector<std::vector<double>> gradient(DeepID& net, const LabelledImages& data) {
    NetworkTrainCache<DeepID> cache;
    Tensor logits, dlogits;
    forward_train(net, data.images, logits, cache);
    softmax_cross_entropy(logits, data.labels.data(), dlogits);
    backward(net, cache, dlogits);
    std::vector<std::vector<double>> out;
    for (const ParameterRef& p : parameters(net)) out.emplace_back(p.gradient->begin(), p.gradient->end());
    return out;
}

std::vector<std::vector<float>> weights(DeepID& net) {
    std::vector<std::vector<float>> out;
    for (const ParameterRef& p : parameters(net)) out.emplace_back(p.value->begin(), p.value->end());
    return out;
}

}  // namespace

TEST_CASE("sam: one SAM step equals the step by hand: gradient at w + rho g/||g||, applied at w") {
    const LabelledImages data = bright_quadrants(1, 3);  // one image: the shuffle cannot reorder the batch
    const float lr = 0.05f, rho = 0.5f;
    DeepID start = sam_net(7);

    // by hand: g1 at w, w' = w + rho g1 / ||g1|| (double), g2 at w', then SGD without momentum from w
    DeepID probe = start;
    const auto g1 = gradient(probe, data);
    double sum = 0;
    for (const auto& a : g1)
        for (double g : a) sum += g * g;
    const double norm = std::sqrt(sum);
    REQUIRE(norm > 0);
    DeepID moved = start;
    {
        const auto params = parameters(moved);
        for (std::size_t p = 0; p < params.size(); ++p) {
            for (std::size_t i = 0; i < params[p].value->size(); ++i)
                (*params[p].value)[i] = float(double((*params[p].value)[i]) + rho / norm * g1[p][i]);
            params[p].changed();
        }
    }
    const auto g2 = gradient(moved, data);
    const auto w0 = weights(start);

    TrainOptions options;
    options.epochs = 1;
    options.batch_size = 1;
    options.sam_rho = rho;
    DeepID sam = start;
    Sgd sgd(lr, 0.0f);
    train(sam, data, sgd, options);
    DeepID plain = start;
    Sgd sgd_plain(lr, 0.0f);
    TrainOptions plain_options = options;
    plain_options.sam_rho = 0;
    train(plain, data, sgd_plain, plain_options);

    const auto ws = weights(sam), wp = weights(plain);
    std::size_t bad = 0, differs = 0;
    double worst = 0;
    for (std::size_t p = 0; p < w0.size(); ++p)
        for (std::size_t i = 0; i < w0[p].size(); ++i) {
            const double expected = double(w0[p][i]) - double(lr) * g2[p][i];
            const double err = std::fabs(double(ws[p][i]) - expected);
            worst = std::max(worst, err);
            if (err > 1e-6 + 1e-5 * std::fabs(expected)) ++bad;
            // the plain step (gradient g1) is told apart from SAM's
            if (std::fabs(double(wp[p][i]) - expected) > 1e-4) ++differs;
        }
    INFO("worst absolute error " << worst);
    CHECK(bad == 0);
    CHECK(differs > 10);
}

TEST_CASE("sam: rho 0 is the plain optimizer step, bit for bit; negative or non-finite rho is refused") {
    const LabelledImages data = bright_quadrants(90, 5);
    TrainOptions options;
    options.epochs = 2;
    options.batch_size = 16;
    options.seed = 4;
    DeepID a = sam_net(9), b = a;
    Adam adam_a(3e-3f), adam_b(3e-3f);
    train(a, data, adam_a, options);
    options.sam_rho = 0.0f;
    train(b, data, adam_b, options);
    CHECK(weights(a) == weights(b));

    DeepID c = sam_net(9);
    Adam adam_c(3e-3f);
    options.sam_rho = -0.1f;
    CHECK_THROWS_AS(train(c, data, adam_c, options), argument_error);
    options.sam_rho = std::nanf("");
    CHECK_THROWS_AS(train(c, data, adam_c, options), argument_error);
    SamPerturbation s;
    std::vector<ParameterRef> none;
    CHECK_THROWS_AS(s.perturb(none, -1.0f), argument_error);
}

TEST_CASE("sam: perturb moves the weights by exactly rho in norm, restore puts them back bit for bit") {
    detail::AlignedFloats w{1.0f, -2.0f, 0.5f}, g{3.0f, 0.0f, -4.0f}, w2{0.25f}, g2{0.0f};
    const std::vector<ParameterRef> params{{&w, &g}, {&w2, &g2}};
    SamPerturbation s;
    CHECK(s.perturb(params, 0.5f) == doctest::Approx(5.0));
    CHECK(s.perturbed());
    CHECK(double(w[0]) == doctest::Approx(1.0 + 0.5 * 3.0 / 5.0));
    CHECK(w[1] == -2.0f);
    CHECK(double(w[2]) == doctest::Approx(0.5 - 0.5 * 4.0 / 5.0));
    CHECK(w2[0] == 0.25f);
    s.restore(params);
    CHECK(w == detail::AlignedFloats{1.0f, -2.0f, 0.5f});
    CHECK_FALSE(s.perturbed());
    // a zero gradient: nothing moves
    g = {0.0f, 0.0f, 0.0f};
    CHECK(s.perturb(params, 0.5f) == 0.0);
    CHECK_FALSE(s.perturbed());
    CHECK(w == detail::AlignedFloats{1.0f, -2.0f, 0.5f});
}

TEST_CASE("sam: fine-pruning with SAM gives the same weights with 1 and 2 threads; pruned channels stay zero") {
    const LabelledImages data = bright_quadrants(120, 8);
    const DeepID net = sam_net(12);
    ChannelMask mask(8);
    mask.prune(2);
    mask.prune(5);
    FinePruningOptions options;
    options.epochs = 2;
    options.learning_rate = 1e-2f;
    options.batch_size = 32;
    options.lr_drop = 0;
    options.sam_rho = 0.05f;
    const int threads = thread_count();
    set_thread_count(1);
    const DeepID one = fine_prune(net, mask, data, options);
    set_thread_count(2);
    const DeepID two = fine_prune(net, mask, data, options);
    FinePruningOptions plain = options;
    plain.sam_rho = 0;
    const DeepID unsharp = fine_prune(net, mask, data, plain);
    set_thread_count(threads);
    CHECK(one.stem().layer<0>().kernel() == two.stem().layer<0>().kernel());
    CHECK(one.pruned_layer().kernel() == two.pruned_layer().kernel());
    CHECK(one.head().layer<2>().kernel() == two.head().layer<2>().kernel());
    CHECK(one.pruned_layer().kernel() != unsharp.pruned_layer().kernel());
    const auto& k = one.pruned_layer().kernel();
    for (std::size_t i = 0; i < k.size(); ++i)
        if (mask.is_pruned(i % 8)) CHECK(k[i] == 0.0f);
    CHECK(one.pruned_layer().bias()[2] == 0.0f);
    CHECK(one.pruned_layer().bias()[5] == 0.0f);
    CHECK(FinePruningOptions{}.sam_rho == 0.0f);
}

}  // namespace test_sam
