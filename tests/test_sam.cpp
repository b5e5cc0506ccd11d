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

TEST_CASE("sam: adaptive perturbation (ASAM) moves each weight by rho w^2 g / ||w g||; zero weights stay") {
    detail::AlignedFloats w{1.0f, -2.0f, 0.0f, 0.5f}, g{3.0f, 1.0f, -4.0f, -2.0f}, w2{0.25f}, g2{8.0f};
    const std::vector<ParameterRef> params{{&w, &g}, {&w2, &g2}};
    // ||w g|| = ||(3, -2, 0, -1, 2)|| = sqrt(18)
    const double norm = std::sqrt(18.0), rho = 0.5;
    SamPerturbation s;
    CHECK(s.perturb(params, 0.5f, true) == doctest::Approx(norm));
    REQUIRE(s.perturbed());
    CHECK(double(w[0]) == doctest::Approx(1.0 + rho * 1.0 * 3.0 / norm));
    CHECK(double(w[1]) == doctest::Approx(-2.0 + rho * 4.0 * 1.0 / norm));
    CHECK(w[2] == 0.0f);  // a zero (pruned) weight is not moved, whatever its gradient
    CHECK(double(w[3]) == doctest::Approx(0.5 + rho * 0.25 * -2.0 / norm));
    CHECK(double(w2[0]) == doctest::Approx(0.25 + rho * 0.0625 * 8.0 / norm));
    // the plain perturbation of the same arrays differs: it moves the zero weight
    s.restore(params);
    CHECK(w == detail::AlignedFloats{1.0f, -2.0f, 0.0f, 0.5f});
    CHECK(s.perturb(params, 0.5f, false) == doctest::Approx(std::sqrt(9.0 + 1 + 16 + 4 + 64)));
    CHECK(w[2] != 0.0f);
    s.restore(params);
    // every weight zero: nothing moves
    w = {0.0f, 0.0f, 0.0f, 0.0f};
    w2 = {0.0f};
    CHECK(s.perturb(params, 0.5f, true) == 0.0);
    CHECK_FALSE(s.perturbed());
}

namespace {

/// Fine-pruning of the quadrant DeepID with mask and `options` (2 epochs at
/// 1e-2, batches of 32) on 1 thread and on 2, and with `other` on 2: the three networks.
struct ThreadRuns {
    DeepID one, two, other;
};
ThreadRuns fine_prune_on_threads(const ChannelMask& mask, FinePruningOptions options, FinePruningOptions other) {
    const LabelledImages data = bright_quadrants(120, 8);
    const DeepID net = sam_net(12);
    for (FinePruningOptions* o : {&options, &other}) {
        o->epochs = 2;
        o->learning_rate = 1e-2f;
        o->batch_size = 32;
        o->lr_drop = 0;
    }
    const int threads = thread_count();
    set_thread_count(1);
    DeepID one = fine_prune(net, mask, data, options);
    set_thread_count(2);
    DeepID two = fine_prune(net, mask, data, options);
    DeepID third = fine_prune(net, mask, data, other);
    set_thread_count(threads);
    return {std::move(one), std::move(two), std::move(third)};
}

/// The same weights with 1 and 2 threads, other than `other`'s, and the pruned channels at zero.
void check_runs(const ThreadRuns& r, const ChannelMask& mask) {
    CHECK(r.one.stem().layer<0>().kernel() == r.two.stem().layer<0>().kernel());
    CHECK(r.one.pruned_layer().kernel() == r.two.pruned_layer().kernel());
    CHECK(r.one.head().layer<2>().kernel() == r.two.head().layer<2>().kernel());
    CHECK(r.one.pruned_layer().kernel() != r.other.pruned_layer().kernel());
    const auto& k = r.one.pruned_layer().kernel();
    for (std::size_t i = 0; i < k.size(); ++i)
        if (mask.is_pruned(i % 8)) CHECK(k[i] == 0.0f);
    for (std::size_t c = 0; c < 8; ++c)
        if (mask.is_pruned(c)) CHECK(r.one.pruned_layer().bias()[c] == 0.0f);
}

}  // namespace

TEST_CASE("sam: fine-pruning with SAM gives the same weights with 1 and 2 threads; pruned channels stay zero") {
    ChannelMask mask(8);
    mask.prune(2);
    mask.prune(5);
    FinePruningOptions sharp, plain;
    sharp.sam_rho = 0.05f;
    check_runs(fine_prune_on_threads(mask, sharp, plain), mask);
    CHECK(FinePruningOptions{}.sam_rho == 0.0f);
}

TEST_CASE("sam: adaptive SAM fine-pruning: 1 and 2 threads agree, pruned channels stay zero, differs from plain SAM; "
          "adaptive without a radius is refused") {
    ChannelMask mask(8);
    mask.prune(1);
    mask.prune(6);
    FinePruningOptions adaptive;
    adaptive.sam_rho = 0.5f;
    adaptive.sam_adaptive = true;
    FinePruningOptions plain_sam = adaptive;
    plain_sam.sam_adaptive = false;
    check_runs(fine_prune_on_threads(mask, adaptive, plain_sam), mask);

    FinePruningOptions no_radius;
    no_radius.sam_adaptive = true;
    CHECK_THROWS_WITH_AS(check_fine_pruning_options(no_radius), doctest::Contains("adaptive SAM needs a radius"),
                         argument_error);
    CHECK_FALSE(FinePruningOptions{}.sam_adaptive);
}

}  // namespace test_sam
