#pragma once
// Pruning orders by name, as the tool (`repair --order`) and the Python module (`order=`) offer
// them: one dispatch, so that both offer the same orders with the same settings.

#include <prunedef/core/error.hpp>
#include <prunedef/defense/channel_lipschitz.hpp>
#include <prunedef/defense/pruning_policy.hpp>
#include <prunedef/defense/repair.hpp>
#include <prunedef/fine_pruning/adversarial_neuron_pruning.hpp>
#include <prunedef/fine_pruning/fine_pruning.hpp>
#include <prunedef/model/graph_network.hpp>
#include <prunedef/model/layer_spec.hpp>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace prunedef {

/// increasing: lowest mean activation first (Liu et al., the default); decreasing; l1: smallest
/// kernel L1 norm first (data-free); clp: largest channel Lipschitz bound first (data-free, Zheng
/// et al. ECCV 2022); anp: lowest mask learnt under adversarial neuron perturbation on the
/// validation set first (Wu and Wang, NeurIPS 2021).
inline constexpr std::array<std::string_view, 5> pruning_order_names{"increasing", "decreasing", "l1", "clp", "anp"};

inline bool is_pruning_order_name(std::string_view name) {
    return std::find(pruning_order_names.begin(), pruning_order_names.end(), name) != pruning_order_names.end();
}

/// What an order needs besides the network and the data.
struct NamedOrderSettings {
    /// A graph network's configuration, when it has one: CLP reads the scale of a
    /// BatchNormalization after the pruned layer from it, ANP trains the graph's trainable form.
    const ModelSpec* spec = nullptr;
    AnpOptions anp{};  // order "anp"
};

/// A repair by a named order, and what the order learnt on the way.
struct NamedOrderRepair {
    RepairResult result;
    std::vector<double> anp_masks;  // order "anp": each channel's learnt mask (empty otherwise)
};

/// repair(net, data, options, policy) with the policy that `order` names (pruning_order_names);
/// anything else is refused with argument_error. ANP learns its masks on the whole validation
/// set (the same on every rank).
template <class Net>
NamedOrderRepair repair_with_order(const Net& net, const RepairData& data, const RepairOptions& options,
                                   std::string_view order, const NamedOrderSettings& settings = {}) {
    NamedOrderRepair out;
    if (order == "increasing") {
        out.result = repair<IncreasingActivation>(net, data, options);
    } else if (order == "decreasing") {
        out.result = repair<DecreasingActivation>(net, data, options);
    } else if (order == "l1") {
        out.result = repair<KernelL1Norm>(net, data, options);
    } else if (order == "clp") {
        ChannelLipschitz clp;
        if constexpr (std::is_same_v<Net, GraphNetwork>)
            if (settings.spec)
                clp.channel_scale = following_batch_norm_scale(*settings.spec, graph_weights(net), net.pruned_layer().name())
                                        .value_or(std::vector<double>{});
        out.result = repair(net, data, options, clp);
    } else if (order == "anp") {
        if (!data.valid) throw argument_error("order 'anp': no validation set to learn the masks on");
        AdversarialNeuronPruning anp;
        anp.options = settings.anp;
        const LabelledImages clean = read_all(*data.valid);
        if constexpr (std::is_same_v<Net, GraphNetwork>) {
            if (!settings.spec) throw argument_error("order 'anp': the network has no model configuration to train from");
            anp.masks = anp_masks(graph_training_form(*settings.spec).to_training(net), clean, anp.options);
        } else {
            anp.masks = anp_masks(net, clean, anp.options);
        }
        out.result = repair(net, data, options, anp);
        out.anp_masks = anp.masks;
    } else {
        std::string names;
        for (std::string_view n : pruning_order_names) names += (names.empty() ? "" : ", ") + std::string(n);
        throw argument_error("order '" + std::string(order) + "': expected one of " + names);
    }
    return out;
}

}  // namespace prunedef
