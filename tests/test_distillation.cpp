// Agreement (distillation) fine-tuning toward a teacher: the loss's gradient against central
// differences of a double-precision reference (on logits and through a small network); weight 0
// is plain training bit for bit; the teacher sees the augmented batch; bad settings are refused.

#include <doctest/doctest.h>

#include <prunedef/prunedef.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_distillation {

using namespace prunedef;

namespace {

/// The loss of distillation.hpp written out in double, independently of it.
double reference_loss(const std::vector<double>& z, const std::vector<double>& t, const std::vector<int>& labels,
                      std::size_t k, double w, double temp) {
    const std::size_t n = labels.size();
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) {
        double sz = 0, szt = 0, stt = 0;
        for (std::size_t j = 0; j < k; ++j) {
            sz += std::exp(z[i * k + j]);
            szt += std::exp(z[i * k + j] / temp);
            stt += std::exp(t[i * k + j] / temp);
        }
        const double ce = -std::log(std::exp(z[i * k + std::size_t(labels[i])]) / sz);
        double kl = 0;
        for (std::size_t j = 0; j < k; ++j) {
            const double p = std::exp(t[i * k + j] / temp) / stt, q = std::exp(z[i * k + j] / temp) / szt;
            kl += p * std::log(p / q);
        }
        total += (1 - w) * ce + w * temp * temp * kl;
    }
    return total / double(n);
}

Tensor normal_tensor(std::size_t n, ImageShape s, unsigned seed, float scale) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> normal(0.0f, scale);
    Tensor t(n, s);
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = normal(gen);
    return t;
}

DeepID distill_net(std::uint64_t seed) {
    DeepID net = make_deepid();
    Rng rng(seed);
    initialize(net, {{3, 3, 1, 4}, {3, 3, 4, 6}, {2, 2, 6, 8}, {32, 5}, {2, 2, 8, 3}, {3, 5}, {5, 4}}, rng);
    net.visit([&](auto& layer) {
        using L = std::decay_t<decltype(layer)>;
        if constexpr (L::has_weights)
            for (float& b : layer.bias()) b = float(rng.uniform() * 0.2 - 0.05);
    });
    net.bind({26, 26, 1});
    net.set_input_scale(0.5f);
    return net;
}

std::vector<std::vector<float>> weights(DeepID& net) {
    std::vector<std::vector<float>> out;
    for (const ParameterRef& p : parameters(net)) out.emplace_back(p.value->begin(), p.value->end());
    return out;
}

}  // namespace

TEST_CASE("distillation: loss and gradient match central differences of a double reference") {
    const std::size_t n = 3, k = 6;
    const std::vector<int> labels{0, 5, 2};
    for (const Distillation d : {Distillation{0.0f, 1.0f}, Distillation{0.5f, 2.0f}, Distillation{1.0f, 4.0f},
                                 Distillation{0.3f, 0.5f}}) {
        const Tensor z = normal_tensor(n, {1, 1, k}, 1, 2.0f), t = normal_tensor(n, {1, 1, k}, 2, 3.0f);
        Tensor dz;
        const double loss = distillation_loss(z, t, labels.data(), d, dz);
        std::vector<double> zd(z.data(), z.data() + z.size()), td(t.data(), t.data() + t.size());
        CHECK(loss == doctest::Approx(reference_loss(zd, td, labels, k, d.weight, d.temperature)).epsilon(1e-9));
        const double h = 1e-5;
        for (std::size_t i = 0; i < zd.size(); ++i) {
            auto up = zd, down = zd;
            up[i] += h;
            down[i] -= h;
            const double numeric = (reference_loss(up, td, labels, k, d.weight, d.temperature) -
                                    reference_loss(down, td, labels, k, d.weight, d.temperature)) / (2 * h);
            INFO("weight " << d.weight << ", T " << d.temperature << ", entry " << i);
            CHECK(double(dz.data()[i]) == doctest::Approx(numeric).epsilon(1e-5).scale(1e-3));
        }
    }
    // the student equal to the teacher with weight 1: no loss, no gradient
    const Tensor z = normal_tensor(n, {1, 1, k}, 3, 2.0f);
    Tensor dz;
    CHECK(distillation_loss(z, z, labels.data(), {1.0f, 3.0f}, dz) == doctest::Approx(0.0).scale(1e-12));
    for (std::size_t i = 0; i < dz.size(); ++i) CHECK(std::fabs(dz.data()[i]) < 1e-7f);
}

TEST_CASE("distillation: network gradients of the loss match finite differences") {
    DeepID net = distill_net(5);
    const DeepID teacher = distill_net(6);
    const Tensor images = normal_tensor(4, net.input_shape(), 7, 1.0f);
    const std::vector<int> labels{0, 3, 2, 1};
    const Distillation d{0.6f, 2.0f};
    const Tensor t = teacher.logits(images);
    NetworkTrainCache<DeepID> cache;
    Tensor logits, dlogits;
    forward_train(net, images, logits, cache);
    distillation_loss(logits, t, labels.data(), d, dlogits);
    backward(net, cache, dlogits);
    const std::vector<double> td(t.data(), t.data() + t.size());
    const auto loss = [&] {
        const Tensor z = net.logits(images);
        return reference_loss(std::vector<double>(z.data(), z.data() + z.size()), td, labels, 4, d.weight, d.temperature);
    };
    std::size_t checked = 0, bad = 0;
    double worst = 0;
    for (const ParameterRef& p : parameters(net)) {
        const detail::AlignedFloats grad = *p.gradient;
        for (std::size_t i = 0; i < p.value->size(); i += 7) {  // every 7th entry of every array
            const float saved = (*p.value)[i];
            const double eps = 1e-3;
            (*p.value)[i] = saved + float(eps);
            p.changed();
            const double up = loss();
            (*p.value)[i] = saved - float(eps);
            p.changed();
            const double down = loss();
            (*p.value)[i] = saved;
            p.changed();
            const double numeric = (up - down) / (2 * eps);
            const double err = std::fabs(numeric - grad[i]) / std::max(1.0, std::fabs(numeric));
            worst = std::max(worst, err);
            bad += err > 2e-2;
            ++checked;
        }
    }
    INFO("worst relative error " << worst << " over " << checked << " entries");
    CHECK(checked > 50);
    CHECK(bad == 0);
}

TEST_CASE("distillation: weight 0 is plain training bit for bit; the teacher sees the augmented batch") {
    Rng rng(9);
    LabelledImages data;
    data.images.resize(64, {26, 26, 1});
    for (std::size_t i = 0; i < data.images.size(); ++i) data.images.data()[i] = float(rng.uniform() * 2.0);
    for (std::size_t i = 0; i < 64; ++i) data.labels.push_back(int(i % 4));
    const DeepID start = distill_net(11);
    const DeepID teacher = distill_net(12);
    TrainOptions options;
    options.epochs = 2;
    options.batch_size = 16;
    options.augmentation = {2, true};
    DeepID a = start, b = start;
    Adam adam_a(3e-3f), adam_b(3e-3f);
    train(a, data, adam_a, options);
    options.distillation = {0.0f, 2.0f};
    std::size_t teacher_calls = 0;
    options.teacher = [&](const Tensor& images, Tensor& logits) {
        ++teacher_calls;
        teacher.logits(images, logits);
    };
    train(b, data, adam_b, options);
    CHECK(weights(a) == weights(b));
    CHECK(teacher_calls == 0);  // weight 0 does not even run the teacher

    // weight 1 with the student's own starting copy as teacher: the gradient is (near) zero only if
    // the teacher saw the very images the student trained on, augmented
    options.distillation = {1.0f, 2.0f};
    options.epochs = 1;
    options.teacher = [&](const Tensor& images, Tensor& logits) { start.logits(images, logits); };
    DeepID c = start;
    Sgd sgd(0.5f, 0.0f);
    TrainOptions one_step = options;
    LabelledImages first;
    first.images.resize(16, data.images.shape());
    std::copy(data.images.data(), data.images.data() + first.images.size(), first.images.data());
    first.labels.assign(data.labels.begin(), data.labels.begin() + 16);
    train(c, first, sgd, one_step);
    double moved = 0;
    DeepID start_copy = start;
    const auto w0 = weights(start_copy), wc = weights(c);
    for (std::size_t p = 0; p < w0.size(); ++p)
        for (std::size_t i = 0; i < w0[p].size(); ++i) moved = std::max(moved, double(std::fabs(wc[p][i] - w0[p][i])));
    CHECK(moved < 1e-5);
    // control: a teacher shown the images without augmentation pulls the student away
    one_step.teacher = [&](const Tensor&, Tensor& logits) { start.logits(first.images, logits); };
    DeepID e = start;
    Sgd sgd_e(0.5f, 0.0f);
    train(e, first, sgd_e, one_step);
    double moved_e = 0;
    const auto we = weights(e);
    for (std::size_t p = 0; p < w0.size(); ++p)
        for (std::size_t i = 0; i < w0[p].size(); ++i) moved_e = std::max(moved_e, double(std::fabs(we[p][i] - w0[p][i])));
    CHECK(moved_e > 1e-3);
}

TEST_CASE("distillation: with random erasing the teacher sees each image whole, the student erased") {
    Rng rng(5);
    LabelledImages data;
    data.images.resize(48, {26, 26, 1});
    for (std::size_t i = 0; i < data.images.size(); ++i) data.images.data()[i] = float(1.0 + rng.uniform());
    for (std::size_t i = 0; i < 48; ++i) data.labels.push_back(int(i % 4));
    const DeepID teacher = distill_net(14);
    TrainOptions options;
    options.epochs = 1;
    options.batch_size = 16;
    options.augmentation.erasing.probability = 1.0;
    options.distillation = {1.0f, 2.0f};
    std::size_t whole = 0, seen = 0;
    options.teacher = [&](const Tensor& images, Tensor& logits) {
        for (std::size_t i = 0; i < images.batch(); ++i, ++seen)
            for (std::size_t j = 0; j < data.size(); ++j)
                if (std::equal(images.image(i), images.image(i) + images.image_size(), data.images.image(j))) {
                    ++whole;
                    break;
                }
        teacher.logits(images, logits);
    };
    DeepID student = distill_net(15);
    Adam adam(1e-3f);
    train(student, data, adam, options);
    CHECK(seen == 48);
    CHECK(whole == 48);  // every image the teacher saw is a training image as it is
    // the student trained on erased images: the same run without erasing ends elsewhere
    TrainOptions unerased = options;
    unerased.augmentation.erasing = {};
    DeepID plain = distill_net(15);
    Adam adam_plain(1e-3f);
    train(plain, data, adam_plain, unerased);
    CHECK(weights(plain) != weights(student));
    // an erasing probability above 1 is refused before training
    TrainOptions bad = unerased;
    bad.augmentation.erasing.probability = 2.0;
    CHECK_THROWS_AS(train(plain, data, adam_plain, bad), argument_error);
}

TEST_CASE("distillation: bad settings are refused; fine-pruning toward B keeps pruned channels at zero") {
    Tensor z = normal_tensor(2, {1, 1, 3}, 4, 1.0f), d;
    const int labels[2] = {0, 1};
    CHECK_THROWS_AS(distillation_loss(z, z, labels, {1.5f, 1.0f}, d), argument_error);
    CHECK_THROWS_AS(distillation_loss(z, z, labels, {0.5f, 0.0f}, d), argument_error);
    CHECK_THROWS_AS(distillation_loss(z, normal_tensor(1, {1, 1, 3}, 4, 1.0f), labels, {0.5f, 1.0f}, d), shape_error);
    LabelledImages data;
    data.images = normal_tensor(40, {26, 26, 1}, 5, 1.0f);
    for (std::size_t i = 0; i < 40; ++i) data.labels.push_back(int(i % 4));
    DeepID net = distill_net(13);
    TrainOptions options;
    options.distillation = {0.5f, 2.0f};  // no teacher
    Adam adam;
    CHECK_THROWS_AS(train(net, data, adam, options), argument_error);

    ChannelMask mask(8);
    mask.prune(3);
    FinePruningOptions fine;
    fine.epochs = 2;
    fine.batch_size = 16;
    fine.lr_drop = 0;
    fine.distillation = {0.7f, 2.0f};
    fine.sam_rho = 0.05f;
    const DeepID tuned = fine_prune(net, mask, data, fine);
    const auto& k = tuned.pruned_layer().kernel();
    for (std::size_t i = 0; i < k.size(); ++i)
        if (i % 8 == 3) CHECK(k[i] == 0.0f);
    CHECK(tuned.pruned_layer().bias()[3] == 0.0f);
    FinePruningOptions plain = fine;
    plain.distillation = {};
    CHECK(tuned.pruned_layer().kernel() != fine_prune(net, mask, data, plain).pruned_layer().kernel());
    CHECK(FinePruningOptions{}.distillation.weight == 0.0f);
}

}  // namespace test_distillation
