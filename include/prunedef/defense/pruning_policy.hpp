#pragma once
// Pruning policies: the order in which channels of the pruned layer are removed. A policy is a
// type (chosen at compile time); what it produces is a runtime order of channel indices.
// Ties are always broken by channel index (stable sort), so orders are deterministic.
//
//   IncreasingActivation  least active first (Liu et al.; the default)
//   DecreasingActivation  most active first (as one lab write-up prunes)
//   KernelL1Norm          data-free: smallest L1 norm of the channel's kernel slice and bias first
//   UserRanking           an order the caller supplies

#include <prunedef/core/error.hpp>
#include <prunedef/defense/activation_stats.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

namespace prunedef {

namespace detail {
inline std::vector<std::size_t> stable_order_by(const std::vector<double>& key, bool increasing) {
    std::vector<std::size_t> order(key.size());
    std::iota(order.begin(), order.end(), std::size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return increasing ? key[a] < key[b] : key[a] > key[b];
    });
    return order;
}
}  // namespace detail

struct IncreasingActivation {
    static constexpr std::string_view name = "increasing";
    static constexpr bool needs_activations = true;
    template <class Net>
    std::vector<std::size_t> order(const Net&, const ChannelActivations& a) const {
        return detail::stable_order_by(a.mean, true);
    }
};

struct DecreasingActivation {
    static constexpr std::string_view name = "decreasing";
    static constexpr bool needs_activations = true;
    template <class Net>
    std::vector<std::size_t> order(const Net&, const ChannelActivations& a) const {
        return detail::stable_order_by(a.mean, false);
    }
};

struct KernelL1Norm {
    static constexpr std::string_view name = "l1";
    static constexpr bool needs_activations = false;
    template <class Net>
    std::vector<std::size_t> order(const Net& net, const ChannelActivations&) const {
        const auto& layer = net.pruned_layer();
        const std::size_t cout = layer.out_channels();
        std::vector<double> norm(cout, 0.0);
        const auto& k = layer.kernel();
        for (std::size_t i = 0; i < k.size(); ++i) norm[i % cout] += std::fabs(double(k[i]));
        for (std::size_t c = 0; c < cout; ++c) norm[c] += std::fabs(double(layer.bias()[c]));
        return detail::stable_order_by(norm, true);
    }
};

struct UserRanking {
    static constexpr std::string_view name = "user";
    static constexpr bool needs_activations = false;
    std::vector<std::size_t> ranking;

    template <class Net>
    std::vector<std::size_t> order(const Net& net, const ChannelActivations&) const {
        const std::size_t channels = net.prunable_channels();
        std::vector<char> seen(channels, 0);
        for (auto c : ranking) {
            if (c >= channels)
                throw argument_error("user ranking names channel " + std::to_string(c) + " but layer " +
                                     net.pruned_layer().name() + " has " + std::to_string(channels));
            if (seen[c]) throw argument_error("user ranking names channel " + std::to_string(c) + " twice");
            seen[c] = 1;
        }
        return ranking;
    }
};

}  // namespace prunedef
