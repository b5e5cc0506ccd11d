#pragma once
// The pruning-aware attack of Liu et al. (Fine-Pruning, Sec. 3.3): an attacker who expects the
// pruning defense
//   1. trains the network on clean data,
//   2. prunes the channels of the pruned layer that are dormant on clean data (increasing mean
//      activation, until validation accuracy falls by prune_drop points),
//   3. retrains the pruned network on poisoned data, so the backdoor must live in the channels
//      that clean inputs also use,
//   4. re-instates the pruned channels as decoys: their clean-trained kernels come back with a
//      bias so negative that they never activate. The defender's ranking finds them dormant and
//      prunes them first, to no effect.

#include <prunedef/core/tensor.hpp>
#include <prunedef/defense/activation_stats.hpp>
#include <prunedef/defense/pruning_policy.hpp>
#include <prunedef/model/channel_mask.hpp>
#include <prunedef/training/trainer.hpp>

#include <algorithm>
#include <cstring>
#include <vector>

namespace prunedef {

struct PruningAwareOptions {
    double prune_drop = 4.0;        // step 2 stops at this validation accuracy drop (points)
    float decoy_bias = -1e4f;       // bias of the re-instated channels
    TrainOptions retrain;           // step 3 (the attack holds the pruned channels at zero)
};

/// What the attack did, for the record.
struct PruningAwareReport {
    std::vector<std::size_t> decoys;  // channels pruned in step 2 and re-instated in step 4
    double clean_accuracy_after_prune = 0;
};

/// Steps 2-4 on a network trained on clean data (step 1). Returns the decoy channels.
template <class Net, class Optimizer>
PruningAwareReport pruning_aware_attack(Net& net, const LabelledImages& poisoned_train, const LabelledImages& valid,
                                        Optimizer& optimizer, const PruningAwareOptions& options) {
    PruningAwareReport report;
    // 2. rank by mean pooled activation on clean validation data and prune until the drop
    ChannelActivationAccumulator acc(net.prunable_channels(), ActivationSite::pooled);
    Tensor batch_features;
    for (std::size_t first = 0; first < valid.size(); first += 1024) {
        const std::size_t count = std::min<std::size_t>(1024, valid.size() - first);
        Tensor batch(count, valid.images.shape());
        std::memcpy(batch.data(), valid.images.image(first), count * valid.images.image_size() * sizeof(float));
        net.features(batch, batch_features);
        acc.add(batch_features);
    }
    const auto order = IncreasingActivation{}.order(net, acc.result());
    const double base = accuracy(net, valid);
    std::size_t k = 0;
    for (; k < order.size(); ++k) {
        const Net trial = prune_channels(net, ChannelMask::from_order(net.prunable_channels(), order, k + 1));
        if (base - accuracy(trial, valid) >= options.prune_drop) break;
    }
    const ChannelMask mask = ChannelMask::from_order(net.prunable_channels(), order, k);
    report.decoys = mask.pruned_channels();
    const auto kernel = net.pruned_layer().kernel(), bias = net.pruned_layer().bias();
    zero_channels(net.pruned_layer(), mask);
    report.clean_accuracy_after_prune = accuracy(net, valid);
    // 3. retrain the pruned network on poisoned data
    train(net, poisoned_train, optimizer, options.retrain, [&mask](Net& n) { zero_channels(n.pruned_layer(), mask); });
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
