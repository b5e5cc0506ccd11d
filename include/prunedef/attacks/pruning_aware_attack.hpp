#pragma once
// The pruning-aware attack of Liu et al. (Fine-Pruning, Sec. 3.3): an attacker who expects the
// pruning defense
//   1. trains the network on clean data,
//   2. prunes the channels of the pruned layer that are dormant on clean data (increasing mean
//      activation, until accuracy on the attacker's clean data falls by prune_drop points),
//   3. retrains the pruned network on poisoned data, so the backdoor must live in the channels
//      that clean inputs also use,
//   4. re-instates the pruned channels as decoys: their clean-trained kernels come back with a
//      bias so negative that they never activate. The defender's ranking finds them dormant and
//      prunes them first, to no effect.
//
// Followed literally, step 3 leaves the backdoor wherever retraining puts it, and the defender
// prunes more than the decoys: past them, the live channels least active on clean data, which
// may be the ones carrying the backdoor (whether pruning alone removes it at a 4-point drop then
// depends on the seed). So step 3 here retrains against a simulated defender (defend_drop > 0):
// before retraining and after every epoch, the attack ranks the channels on its own clean data as
// the defense does (IncreasingActivation of the pooled output) and finds the channels the
// defender's sweep would prune for a drop of defend_drop points; each mini-batch is then trained
// with a random prefix of those channels (in that order, random length) zeroed
// (detail::PrefixDropout), so that the backdoor cannot rely on any channel the defender removes
// first. defend_drop 0 is the paper's procedure.
//
// The clean data is the attacker's own (e.g. training images it kept aside), never the
// defender's validation set.

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/defense/activation_stats.hpp>
#include <prunedef/defense/pruning_policy.hpp>
#include <prunedef/defense/stopping_rule.hpp>
#include <prunedef/defense/sweep.hpp>
#include <prunedef/model/channel_mask.hpp>
#include <prunedef/training/initializer.hpp>
#include <prunedef/training/trainer.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace prunedef {

struct PruningAwareOptions {
    double prune_drop = 4.0;        // step 2 stops before this accuracy drop on the clean data (points)
    double defend_drop = 6.0;       // the simulated defender's drop in step 3 (points); 0: none (the paper)
    float decoy_bias = -1e4f;       // bias of the re-instated channels
    TrainOptions retrain;           // step 3 (the attack holds the pruned channels at zero)
};

/// What the attack did, for the record.
struct PruningAwareReport {
    std::vector<std::size_t> decoys;  // channels pruned in step 2 and re-instated in step 4
    double clean_accuracy_after_prune = 0;  // on the attacker's clean data, after step 2
    /// Live channels the simulated defender would have pruned after the last epoch (beyond the decoys).
    std::size_t defended_channels = 0;
};

/// The channels in the order the defender prunes them, and how many it prunes for a drop.
struct SimulatedPruning {
    std::vector<std::size_t> order;  // increasing mean pooled activation on the clean data, ties by index
    /// The first step whose accuracy on the clean data is at least the drop below the unpruned
    /// network's (the defense's stopping rule); order.size() when no step reaches it.
    std::size_t count = 0;
    bool reached = false;            // whether a step reached the drop
};

namespace detail {
/// Calls f(first, features) for the clean images in batches of 1024: the pruned layer's
/// features of images first, first + 1, ...
template <class Net, class F>
void for_each_feature_batch(const Net& net, const LabelledImages& clean, F&& f) {
    Tensor batch, features;
    for (std::size_t first = 0; first < clean.size(); first += 1024) {
        const std::size_t count = std::min<std::size_t>(1024, clean.size() - first);
        batch.resize(count, clean.images.shape());
        std::memcpy(batch.data(), clean.images.image(first), count * clean.images.image_size() * sizeof(float));
        net.features(batch, features);
        f(first, static_cast<const Tensor&>(features));
    }
}
}  // namespace detail

/// Mean pooled activation of the pruned layer's channels over clean images.
template <class Net>
ChannelActivations pruned_layer_activations(const Net& net, const LabelledImages& clean) {
    ChannelActivationAccumulator acc(net.prunable_channels(), ActivationSite::pooled);
    detail::for_each_feature_batch(net, clean, [&](std::size_t, const Tensor& features) { acc.add(features); });
    return acc.result();
}

/// What the pruning defense (IncreasingActivation, absolute drop) would do to net, simulated on
/// clean data: the channel order and the number of channels pruned for a drop of `drop` points.
template <class Net>
SimulatedPruning simulate_pruning(const Net& net, const LabelledImages& clean, double drop) {
    if (clean.size() == 0) throw argument_error("simulate_pruning: no clean images");
    const AccuracyDrop d{drop, false};
    check_drop(d);
    SimulatedPruning out;
    out.order = IncreasingActivation{}.order(net, pruned_layer_activations(net, clean));
    SweepPredictions swept;
    swept.steps = out.order.size();
    detail::for_each_feature_batch(net, clean, [&](std::size_t first, const Tensor& features) {
        swept.append(sweep_features(net, features, clean.labels.data() + first, out.order));
    });
    std::vector<std::size_t> correct(out.order.size() + 1);
    for (std::size_t k = 0; k < correct.size(); ++k) correct[k] = swept.matches(k);
    const auto step = first_step_reaching(correct, clean.size(), d);
    out.reached = step.has_value();
    out.count = step ? *step : out.order.size();
    return out;
}

namespace detail {

/// Channel dropout along an order: each call restores the channels the previous call zeroed,
/// then zeroes the first L channels of the order (kernel slices and biases) for a length L drawn
/// uniformly from [0, order.size()] with its own seeded generator. As a training constraint (it
/// runs before the first step and after every step) each mini-batch sees a random prefix of the
/// order removed; the dropped channels' weights come back as they were before the step (they had
/// no gradient). restore() puts them back for good (call it before using the network).
class PrefixDropout {
public:
    explicit PrefixDropout(std::uint64_t seed) : rng_(seed) {}

    /// Restores the dropped channels and uses a new order from the next call on.
    template <class Conv>
    void set_order(Conv& layer, std::vector<std::size_t> order) {
        restore(layer);
        const std::size_t cout = layer.out_channels();
        std::vector<bool> seen(cout, false);
        for (std::size_t c : order) {
            if (c >= cout)
                throw argument_error("PrefixDropout: channel " + std::to_string(c) + " out of range: layer " +
                                     layer.name() + " has " + std::to_string(cout));
            if (seen[c]) throw argument_error("PrefixDropout: channel " + std::to_string(c) + " twice in the order");
            seen[c] = true;
        }
        order_ = std::move(order);
    }
    const std::vector<std::size_t>& order() const { return order_; }
    /// How many channels the last call zeroed.
    std::size_t length() const { return dropped_; }

    template <class Conv>
    void operator()(Conv& layer) {
        restore(layer);
        dropped_ = static_cast<std::size_t>(rng_.below(order_.size() + 1));
        const std::size_t cout = layer.out_channels();
        auto& kernel = layer.kernel();
        auto& bias = layer.bias();
        const std::size_t rows = kernel.size() / cout;
        saved_.resize(dropped_ * (rows + 1));
        for (std::size_t j = 0; j < dropped_; ++j) {
            const std::size_t c = order_[j];
            float* s = saved_.data() + j * (rows + 1);
            for (std::size_t r = 0; r < rows; ++r) {
                s[r] = kernel[r * cout + c];
                kernel[r * cout + c] = 0.0f;
            }
            s[rows] = bias[c];
            bias[c] = 0.0f;
        }
    }

    template <class Conv>
    void restore(Conv& layer) {
        if (dropped_ == 0) return;
        const std::size_t cout = layer.out_channels();
        auto& kernel = layer.kernel();
        auto& bias = layer.bias();
        const std::size_t rows = kernel.size() / cout;
        for (std::size_t j = 0; j < dropped_; ++j) {
            const std::size_t c = order_[j];
            const float* s = saved_.data() + j * (rows + 1);
            for (std::size_t r = 0; r < rows; ++r) kernel[r * cout + c] = s[r];
            bias[c] = s[rows];
        }
        dropped_ = 0;
    }

private:
    Rng rng_;
    std::vector<std::size_t> order_;
    std::size_t dropped_ = 0;
    std::vector<float> saved_;  // per dropped channel: its kernel column, then its bias
};

/// The channels of the first `count` of an order that a mask does not already remove, in order.
inline std::vector<std::size_t> live_prefix(const std::vector<std::size_t>& order, std::size_t count,
                                            const ChannelMask& removed) {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < count && i < order.size(); ++i)
        if (!removed.is_pruned(order[i])) out.push_back(order[i]);
    return out;
}

/// Mixed into the retraining seed for the prefix dropout's generator (an arbitrary odd constant).
inline constexpr std::uint64_t prefix_dropout_seed_mix = 0xd1b54a32d192ed03ull;

}  // namespace detail

/// Steps 2-4 on a network trained on clean data (step 1); `clean` is the attacker's own clean
/// data (for the ranking and the accuracy drops). Returns the decoy channels.
template <class Net, class Optimizer>
PruningAwareReport pruning_aware_attack(Net& net, const LabelledImages& poisoned_train, const LabelledImages& clean,
                                        Optimizer& optimizer, const PruningAwareOptions& options) {
    if (!(options.defend_drop >= 0.0)) throw argument_error("pruning_aware_attack: defend_drop must be >= 0");
    PruningAwareReport report;
    // 2. rank by mean pooled activation on clean data and prune the channels before the drop
    const SimulatedPruning step2 = simulate_pruning(net, clean, options.prune_drop);
    if (!step2.reached)
        throw argument_error("pruning_aware_attack: pruning every channel of " + net.pruned_layer().name() +
                             " does not lose " + AccuracyDrop{options.prune_drop, false}.label() +
                             " points of accuracy on the clean data (is the network trained?)");
    const ChannelMask mask = ChannelMask::from_order(net.prunable_channels(), step2.order, step2.count - 1);
    report.decoys = mask.pruned_channels();
    const auto kernel = net.pruned_layer().kernel();
    zero_channels(net.pruned_layer(), mask);
    report.clean_accuracy_after_prune = accuracy(net, clean);
    // 3. retrain the pruned network on poisoned data, against the simulated defender
    if (options.defend_drop > 0.0) {
        detail::PrefixDropout dropout(options.retrain.seed ^ detail::prefix_dropout_seed_mix);
        const auto defend = [&] {
            const SimulatedPruning sim = simulate_pruning(net, clean, options.defend_drop);
            dropout.set_order(net.pruned_layer(), detail::live_prefix(sim.order, sim.count, mask));
            report.defended_channels = dropout.order().size();
        };
        defend();
        TrainOptions epoch_options = options.retrain;
        epoch_options.epochs = 1;
        for (std::size_t epoch = 1; epoch <= options.retrain.epochs; ++epoch) {
            epoch_options.seed = options.retrain.seed + epoch - 1;
            if (options.retrain.learning_rate)
                epoch_options.learning_rate = [&options, epoch](std::size_t) {
                    return options.retrain.learning_rate(epoch);
                };
            if (options.retrain.on_epoch)
                epoch_options.on_epoch = [&options, epoch](const EpochReport& r) {
                    EpochReport numbered = r;
                    numbered.epoch = epoch;
                    options.retrain.on_epoch(numbered);
                };
            train(net, poisoned_train, optimizer, epoch_options, [&](Net& n) {
                dropout(n.pruned_layer());
                zero_channels(n.pruned_layer(), mask);
            });
            dropout.restore(net.pruned_layer());
            defend();
        }
        dropout.restore(net.pruned_layer());
    } else {
        train(net, poisoned_train, optimizer, options.retrain,
              [&mask](Net& n) { zero_channels(n.pruned_layer(), mask); });
    }
    // 4. re-instate the pruned channels as dormant decoys
    auto& layer = net.pruned_layer();
    const std::size_t cout = layer.out_channels();
    for (std::size_t c : report.decoys) {
        for (std::size_t i = c; i < kernel.size(); i += cout) layer.kernel()[i] = kernel[i];
        layer.bias()[c] = options.decoy_bias;
    }
    return report;
}

}  // namespace prunedef
