#pragma once
// Fine-Pruning (Liu et al., Sec. 4): fine-tune each pruned network B' on the clean validation
// data, keeping its pruned channels at zero, then measure B' and GoodNet<B, B'> again: on the
// test set when given, else on a held-out part of the validation set (never on the images it was
// fine-tuned on, unless the held-out fraction is 0).

#include <prunedef/core/error.hpp>
#include <prunedef/data/array_batch_source.hpp>
#include <prunedef/defense/goodnet.hpp>
#include <prunedef/defense/metrics.hpp>
#include <prunedef/defense/repair.hpp>
#include <prunedef/model/channel_mask.hpp>
#include <prunedef/model/graph_network.hpp>
#include <prunedef/model/layer_spec.hpp>
#include <prunedef/model/predict.hpp>
#include <prunedef/training/augmentation.hpp>
#include <prunedef/training/initializer.hpp>
#include <prunedef/training/optimizer.hpp>
#include <prunedef/training/trainer.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace prunedef {

struct FinePruningOptions {
    // Defaults: what removed the pruning-aware backdoor best on the Fashion-MNIST BadNets of
    // make-badnet (README, "Fine-Pruning"): a high rate that unsettles the backdoor, then a tenth
    // of it to recover clean accuracy.
    std::size_t epochs = 10;
    float learning_rate = 5e-3f;    // Adam
    std::size_t batch_size = 64;
    std::uint64_t seed = 1;
    std::size_t lr_drop = 8;        // from this epoch on, a tenth of the learning rate (0: never)
    bool head_only = false;         // fine-tune only the layers after the pruned one
    /// Decoupled weight decay of Adam (AdamW, optimizer.hpp): every step shrinks each weight by
    /// learning rate x weight_decay of itself; 0: none.
    float weight_decay = 0.0f;
    /// Random shifts (up to augmentation.max_shift pixels, zero padding), horizontal flips and
    /// random erasing of the fine-tuning images (augmentation.hpp); none by default. With
    /// distillation, B sees each image before erasing, so B' learns B's output on the whole image
    /// from a partly erased one.
    Augmentation augmentation{};
    /// FT-SAM: sharpness-aware fine-tuning with this radius (sam.hpp, TrainOptions::sam_rho;
    /// Zhu et al., ICCV 2023); 0: plain steps (the default). About twice the fine-tuning time.
    float sam_rho = 0.0f;
    /// With sam_rho > 0: adaptive SAM (ASAM, sam.hpp), as FT-SAM fine-tunes: each weight perturbed
    /// in proportion to its square, so pruned (zero) weights are not moved.
    bool sam_adaptive = false;
    /// Agreement fine-tuning toward B (distillation.hpp): the loss mixes the label cross-entropy
    /// with weight x T^2 KL(B's softened outputs || B''s) on each (augmented) fine-tuning batch,
    /// B run unpruned; weight 0: plain (the default). About 1.3 times the fine-tuning time.
    Distillation distillation{};
    /// Without a test set, this fraction of the validation set is held out of fine-tuning and the
    /// "after" figures are measured on it (fine_prune_all, holdout_split); 0: none, the figures
    /// are then on the fine-tuning data itself. Ignored when a test set is given.
    double holdout = 0.2;
    /// With a held-out part (holdout > 0, no test set): keep the epoch whose B' classifies the
    /// held-out images best (the latest of equals) instead of the last one (fine_prune_all).
    bool choose_epoch = true;
    std::function<void(const std::string& drop, const EpochReport&)> on_epoch;
};

/// Refuses settings fine-tuning cannot run with (argument_error), before any work: a rate that is
/// not positive, a negative weight decay or SAM radius, adaptive SAM without a radius, a
/// distillation weight outside [0, 1], an erasing probability outside [0, 1].
inline void check_fine_pruning_options(const FinePruningOptions& o) {
    if (!(o.learning_rate > 0.0f) || !std::isfinite(o.learning_rate))
        throw argument_error("fine-pruning: the learning rate must be finite and > 0, got " + std::to_string(o.learning_rate));
    if (o.batch_size == 0) throw argument_error("fine-pruning: the batch size must be positive");
    if (!(o.weight_decay >= 0.0f) || !std::isfinite(o.weight_decay))
        throw argument_error("fine-pruning: the weight decay must be finite and >= 0, got " + std::to_string(o.weight_decay));
    if (!(o.sam_rho >= 0.0f) || !std::isfinite(o.sam_rho))
        throw argument_error("fine-pruning: the SAM radius must be finite and >= 0, got " + std::to_string(o.sam_rho));
    if (o.sam_adaptive && o.sam_rho == 0.0f)
        throw argument_error("fine-pruning: adaptive SAM needs a radius > 0 (sam_rho is 0)");
    check_distillation(o.distillation);
    check_random_erasing(o.augmentation.erasing);
}

/// How a network type is trained when its fast form cannot be (a GraphNetwork with
/// BatchNormalization folded: graph_training_form()): to_training makes the trainable form of a
/// network, to_inference the fast form of a trained one. Empty functions: the network trains as
/// it is.
template <class Net>
struct TrainingForm {
    std::function<Net(const Net&)> to_training, to_inference;
};

/// For GraphNetworks built from spec: trained unfolded and unfused (every BatchNormalization a
/// layer of its own, trained in inference mode: gamma and beta), rebuilt folded afterwards.
inline TrainingForm<GraphNetwork> graph_training_form(const ModelSpec& spec) {
    return {[spec](const GraphNetwork& n) { return rebuild_graph_network(spec, n, false, false); },
            [spec](const GraphNetwork& n) { return rebuild_graph_network(spec, n, true, true); }};
}

namespace detail {
/// B with mask's channels pruned, fine-tuned on clean with them held at zero; epoch_end(net,
/// report) after every epoch (trainer.hpp's train).
template <class Net, class EpochEnd>
Net fine_tune_pruned(const Net& b, const ChannelMask& mask, const LabelledImages& clean, const FinePruningOptions& options,
                     const std::function<void(const EpochReport&)>& on_epoch, EpochEnd&& epoch_end) {
    Net bprime = prune_channels(b, mask);
    Adam adam(options.learning_rate);
    adam.set_weight_decay(options.weight_decay);
    TrainOptions train_options;
    train_options.augmentation = options.augmentation;
    train_options.epochs = options.epochs;
    train_options.batch_size = options.batch_size;
    train_options.seed = options.seed;
    train_options.train_trunk = !options.head_only;
    train_options.on_epoch = on_epoch;
    train_options.sam_rho = options.sam_rho;
    train_options.sam_adaptive = options.sam_adaptive;
    train_options.distillation = options.distillation;
    if (options.distillation.weight > 0.0f)
        train_options.teacher = [&b](const Tensor& images, Tensor& logits) { b.logits(images, logits); };
    if (options.lr_drop > 0)
        train_options.learning_rate = [lr = options.learning_rate, drop = options.lr_drop](std::size_t epoch) {
            return epoch >= drop ? lr / 10 : lr;
        };
    train(bprime, clean, adam, train_options, [&mask](Net& n) { zero_channels(n.pruned_layer(), mask); },
          std::forward<EpochEnd>(epoch_end));
    return bprime;
}
}  // namespace detail

/// B' fine-tuned: B with mask's channels pruned, trained on clean data with them held at zero.
template <class Net>
Net fine_prune(const Net& b, const ChannelMask& mask, const LabelledImages& clean, const FinePruningOptions& options,
               const std::function<void(const EpochReport&)>& on_epoch = {}) {
    return detail::fine_tune_pruned(b, mask, clean, options, on_epoch, NoEpochEnd{});
}

/// A fine-pruned B' chosen among its epochs on held-out images.
template <class Net>
struct EpochChoice {
    Net net;                        // B' as the chosen epoch left it
    std::size_t epoch = 0;          // 1-based
    std::vector<double> accuracy;   // held-out accuracy after each epoch, percent
};

/// fine_prune, keeping the epoch (1 to options.epochs) whose B' classifies held_out best; of
/// equal epochs the latest (it has trained longest at that clean accuracy). held_out must not
/// be part of clean, nor of the data the figures are then reported on.
template <class Net>
EpochChoice<Net> fine_prune_choosing_epoch(const Net& b, const ChannelMask& mask, const LabelledImages& clean,
                                           const LabelledImages& held_out, const FinePruningOptions& options,
                                           const std::function<void(const EpochReport&)>& on_epoch = {}) {
    if (held_out.size() == 0) throw argument_error("fine_prune_choosing_epoch: no held-out images");
    std::optional<Net> best;
    EpochChoice<Net> choice{prune_channels(b, mask), 0, {}};
    double best_accuracy = -1;
    Net last = detail::fine_tune_pruned(b, mask, clean, options, on_epoch, [&](const Net& n, const EpochReport& r) {
        const double a = accuracy(n, held_out);
        choice.accuracy.push_back(a);
        if (a >= best_accuracy) {
            best_accuracy = a;
            best = n;
            choice.epoch = r.epoch;
        }
    });
    choice.net = choice.epoch == options.epochs || !best ? std::move(last) : std::move(*best);
    return choice;
}

/// A validation set split for Fine-Pruning: images fine-tuned on and images held out, each in
/// increasing index order.
struct HoldoutSplit {
    std::vector<std::size_t> tuned, held_out;
};

/// The deterministic split of n images: a Fisher-Yates shuffle of 0..n-1 driven by Rng(seed)
/// (mt19937_64, the same on every platform), whose last round(fraction * n) indices are held out.
/// fraction 0 holds out nothing; otherwise both parts must be non-empty (argument_error).
inline HoldoutSplit holdout_split(std::size_t n, double fraction, std::uint64_t seed) {
    char text[64];
    *std::to_chars(text, text + sizeof text - 1, fraction).ptr = '\0';
    if (!(fraction >= 0) || !(fraction < 1))
        throw argument_error(std::string("fine-pruning: the held-out fraction must be in [0, 1), got ") + text);
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    Rng rng(seed);
    for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
    const auto held = static_cast<std::size_t>(std::llround(fraction * double(n)));
    if (fraction > 0 && (held == 0 || held >= n))
        throw argument_error(std::string("fine-pruning: cannot hold out ") + text + " of a validation set of " +
                             std::to_string(n) + " images (both parts must hold an image)");
    HoldoutSplit split;
    split.tuned.assign(order.begin(), order.end() - static_cast<std::ptrdiff_t>(held));
    split.held_out.assign(order.end() - static_cast<std::ptrdiff_t>(held), order.end());
    std::sort(split.tuned.begin(), split.tuned.end());
    std::sort(split.held_out.begin(), split.held_out.end());
    return split;
}

namespace detail {
inline LabelledImages gather_all(const LabelledImages& data, const std::vector<std::size_t>& indices) {
    LabelledImages out;
    gather(data, indices.data(), indices.size(), out.images, out.labels);
    return out;
}

inline GoodNetCounts goodnet_counts(const std::vector<int>& b, const std::vector<int>& bprime,
                                    const std::vector<int>& labels, int classes) {
    return count_goodnet(combine_goodnet(b, bprime, classes), labels, classes);
}
}  // namespace detail

/// Fine-tunes B' of every threshold of a repair on the validation set and fills each
/// threshold's fine_tuned figures. Returns the fine-tuned networks in threshold order (in their
/// fast form when `form` converts: trained in form.to_training(b), measured and returned after
/// form.to_inference).
///
/// With a test set, B' is fine-tuned on the whole validation set and "after" is measured on the
/// test set. Without one, options.holdout of the validation set (holdout_split with
/// options.seed) is held out: B' is fine-tuned on the rest, and "before" and "after" are measured
/// on the held-out images (FineTuneResult::clean_set says which set).
template <class Net>
std::vector<Net> fine_prune_all(const Net& b, RepairResult& result, const RepairData& data,
                                const FinePruningOptions& options, std::size_t batch_size = 256,
                                const TrainingForm<Net>& form = {}) {
    check_fine_pruning_options(options);
    std::optional<Net> trainable;
    if (form.to_training) trainable = form.to_training(b);
    const LabelledImages all_valid = read_all(*data.valid);
    const bool hold_out = !data.test && options.holdout > 0;
    const HoldoutSplit split = hold_out ? holdout_split(all_valid.size(), options.holdout, options.seed) : HoldoutSplit{};
    const LabelledImages tuned_on = hold_out ? detail::gather_all(all_valid, split.tuned) : LabelledImages{};
    const LabelledImages& clean = hold_out ? tuned_on : all_valid;
    std::optional<ArrayBatchSource> held_out;
    LabelledImages held_images;  // for choosing the epoch
    if (hold_out) {
        LabelledImages h = detail::gather_all(all_valid, split.held_out);
        if (options.choose_epoch) held_images = h;
        held_out.emplace(std::move(h.images), std::move(h.labels), "held-out validation images");
    }
    const int classes = static_cast<int>(result.classes);
    std::vector<int> b_valid = predict_dataset(b, *data.valid, batch_size), b_test, b_held;
    if (data.test) b_test = predict_dataset(b, *data.test, batch_size);
    if (held_out) b_held = predict_dataset(b, *held_out, batch_size);
    const std::vector<NamedSource> poisoned = data.poisoned_list();
    std::vector<std::vector<int>> b_poisoned;
    for (const NamedSource& p : poisoned) b_poisoned.push_back(predict_dataset(b, *p.source, batch_size));
    std::vector<Net> tuned;
    for (auto& t : result.thresholds) {
        const ChannelMask mask = ChannelMask::from_order(result.channels, result.order, t.k);
        const std::string drop = t.drop.label();
        const auto report_epoch = [&](const EpochReport& r) {
            if (options.on_epoch) options.on_epoch(drop, r);
        };
        const Net& start = trainable ? *trainable : b;
        FineTuneResult f;
        std::optional<Net> tuned_net;
        if (hold_out && options.choose_epoch) {
            EpochChoice<Net> choice = fine_prune_choosing_epoch(start, mask, clean, held_images, options, report_epoch);
            f.chosen_epoch = choice.epoch;
            f.holdout_accuracy_per_epoch = std::move(choice.accuracy);
            tuned_net.emplace(std::move(choice.net));
        } else {
            tuned_net.emplace(fine_prune(start, mask, clean, options, report_epoch));
        }
        Net bprime = std::move(*tuned_net);
        if (form.to_inference) bprime = form.to_inference(bprime);
        f.epochs = options.epochs;
        f.learning_rate = options.learning_rate;
        f.lr_drop = options.lr_drop;
        f.head_only = options.head_only;
        f.weight_decay = options.weight_decay;
        f.augment_shift = options.augmentation.max_shift;
        f.augment_flip = options.augmentation.horizontal_flip;
        f.augment_erase = options.augmentation.erasing.probability;
        f.sam_rho = options.sam_rho;
        f.sam_adaptive = options.sam_adaptive;
        f.distill_weight = options.distillation.weight;
        f.distill_temperature = options.distillation.temperature;
        f.batch_size = options.batch_size;
        f.seed = options.seed;
        f.clean_set = data.test ? "test" : hold_out ? "holdout" : "valid";
        f.tuned_images = clean.size();
        f.holdout_fraction = hold_out ? options.holdout : 0.0;
        f.holdout_images = hold_out ? held_out->size() : 0;
        if (held_out) {
            const auto before = predict_dataset(prune_channels(b, mask), *held_out, batch_size);
            const auto after = predict_dataset(bprime, *held_out, batch_size);
            f.holdout_accuracy_before = percent_matching(before, held_out->labels());
            f.holdout_accuracy = percent_matching(after, held_out->labels());
            f.goodnet_holdout = detail::goodnet_counts(b_held, after, held_out->labels(), classes);
        }
        const auto pv = predict_dataset(bprime, *data.valid, batch_size);
        f.valid_accuracy = percent_matching(pv, data.valid->labels());
        f.goodnet_valid = detail::goodnet_counts(b_valid, pv, data.valid->labels(), classes);
        if (data.test) {
            const auto pt = predict_dataset(bprime, *data.test, batch_size);
            f.test_accuracy = percent_matching(pt, data.test->labels());
            f.goodnet_test = detail::goodnet_counts(b_test, pt, data.test->labels(), classes);
        }
        for (std::size_t s = 0; s < poisoned.size(); ++s) {
            const auto pp = predict_dataset(bprime, *poisoned[s].source, batch_size);
            f.poisoned_attack_success.push_back(percent_matching(pp, poisoned[s].source->labels()));
            f.goodnet_poisoned_sets.push_back(
                detail::goodnet_counts(b_poisoned[s], pp, poisoned[s].source->labels(), classes));
        }
        if (!poisoned.empty()) {
            f.attack_success = f.poisoned_attack_success.front();
            f.goodnet_poisoned = f.goodnet_poisoned_sets.front();
        }
        t.fine_tuned = f;
        tuned.push_back(std::move(bprime));
    }
    return tuned;
}

}  // namespace prunedef
