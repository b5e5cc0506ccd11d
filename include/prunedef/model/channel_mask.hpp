#pragma once
// ChannelMask: which channels of the pruned layer are removed. Applying it to features zeroes
// those channels; prune_channels() bakes it into a network by zeroing the channels' kernel
// slices and biases, which gives exactly the same outputs when the layer's activation is
// zero-preserving (ReLU(0) = 0 and max-pooling of zeros is zero); it refuses other activations
// at compile time.

#include <prunedef/core/activation.hpp>
#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace prunedef {

class ChannelMask {
public:
    ChannelMask() = default;
    explicit ChannelMask(std::size_t channels) : pruned_(channels, 0) {}

    std::size_t channels() const { return pruned_.size(); }
    bool is_pruned(std::size_t c) const { return pruned_.at(c) != 0; }
    void prune(std::size_t c) {
        if (c >= pruned_.size())
            throw argument_error("channel " + std::to_string(c) + " out of range: the layer has " +
                                 std::to_string(pruned_.size()) + " channels");
        pruned_[c] = 1;
    }
    std::size_t pruned_count() const {
        std::size_t n = 0;
        for (auto p : pruned_) n += p;
        return n;
    }
    /// The pruned channels in increasing index order.
    std::vector<std::size_t> pruned_channels() const {
        std::vector<std::size_t> out;
        for (std::size_t c = 0; c < pruned_.size(); ++c)
            if (pruned_[c]) out.push_back(c);
        return out;
    }
    /// The mask that prunes the first k channels of an order.
    static ChannelMask from_order(std::size_t channels, const std::vector<std::size_t>& order, std::size_t k) {
        if (k > order.size())
            throw argument_error("cannot prune " + std::to_string(k) + " channels of an order of " +
                                 std::to_string(order.size()));
        ChannelMask m(channels);
        for (std::size_t i = 0; i < k; ++i) m.prune(order[i]);
        return m;
    }

    /// Zeroes the pruned channels (the last axis) of every position of every image.
    void apply(Tensor& features) const {
        if (features.channels() != pruned_.size())
            throw shape_error("channel mask for " + std::to_string(pruned_.size()) + " channels applied to features with " +
                              std::to_string(features.channels()));
        const std::size_t C = pruned_.size();
        float* p = features.data();
        for (std::size_t i = 0, n = features.size(); i < n; i += C)
            for (std::size_t c = 0; c < C; ++c)
                if (pruned_[c]) p[i + c] = 0.0f;
    }

private:
    std::vector<std::uint8_t> pruned_;
};

/// Zeroes the kernel slices and biases of the masked channels of a convolution, in place.
template <class Conv>
void zero_channels(Conv& layer, const ChannelMask& mask) {
    // A zeroed channel outputs f(0); it is removed only when f(0) == 0 (not Sigmoid: 0.5).
    static_assert(detail::activation_traits<typename Conv::activation>::zero_preserving,
                  "zero_channels / prune_channels: the pruned layer's activation is not zero-preserving (f(0) != 0, "
                  "e.g. Conv2D<Sigmoid>), so zeroing a channel's weights would not remove it; mask the features "
                  "instead (Masked<Net>, ChannelMask::apply)");
    const std::size_t cout = layer.out_channels();
    if (mask.channels() != cout)
        throw shape_error("channel mask for " + std::to_string(mask.channels()) + " channels, but layer " +
                          layer.name() + " has " + std::to_string(cout));
    auto& kernel = layer.kernel();
    for (std::size_t c = 0; c < cout; ++c) {
        if (!mask.is_pruned(c)) continue;
        for (std::size_t i = c; i < kernel.size(); i += cout) kernel[i] = 0.0f;
        layer.bias()[c] = 0.0f;
    }
}

/// A copy of net whose pruned layer has the masked channels' kernel slices and biases zeroed.
template <class Net>
Net prune_channels(const Net& net, const ChannelMask& mask) {
    Net out = net;
    zero_channels(out.pruned_layer(), mask);
    return out;
}

}  // namespace prunedef
