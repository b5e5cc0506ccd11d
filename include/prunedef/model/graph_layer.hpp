#pragma once
// GraphLayer: one Keras layer of a network assembled at run time, as a layer of its own: the
// pruned layer (a Conv2D of any activation, or a Dense) and the Reduce (a pooling, or identity)
// of a GraphNetwork (model/graph_network.hpp). It holds the ops the Keras layer became (e.g.
// ZeroPadding2D, Conv2D<Linear>, ELU for a 'same' convolution with activation elu).
//
// zero_channels(GraphLayer&, mask) zeroes the masked channels' kernel slices and biases, as the
// compile-time zero_channels does; the activation is known only at run time, so a layer whose
// activation is not zero-preserving (f(0) != 0: sigmoid, softmax) is refused with an
// argument_error instead of a static_assert.

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/core/workspace.hpp>
#include <prunedef/layers/runtime_activation.hpp>
#include <prunedef/model/channel_mask.hpp>
#include <prunedef/model/graph_segment.hpp>

#include <string>
#include <utility>

namespace prunedef {

class GraphLayer {
public:
    static constexpr bool has_weights = false;  // its ops carry the weights (see keras_weights())

    /// Identity: passes its input through.
    explicit GraphLayer(std::string name = "identity") : name_(std::move(name)), ops_(name_) { ops_.finish(); }
    /// A Keras layer of the given class computed by a chain of ops (each reads the previous
    /// one's output; the first reads the layer's input).
    GraphLayer(std::string name, std::string class_name, std::string activation, GraphSegment chain)
        : name_(std::move(name)), class_name_(std::move(class_name)), activation_(std::move(activation)),
          ops_(std::move(chain)) {
        ops_.finish();
    }

    const std::string& name() const { return name_; }
    /// Keras class ("Conv2D", "Dense", "MaxPooling2D", ...); "Identity" for the identity.
    const std::string& class_name() const { return class_name_; }
    /// The Keras activation fused into the layer ("linear" for layers without one).
    const std::string& activation() const { return activation_; }
    /// f(0) == 0: only then does zeroing a channel's weights and bias remove the channel.
    bool zero_preserving() const { return prunedef::zero_preserving(activation_kind_from_keras(activation_)); }
    bool is_identity() const { return ops_.empty(); }
    const GraphSegment& ops() const { return ops_; }

    /// Output channels (Conv2D filters, Dense units); 0 for a layer without weights.
    std::size_t out_channels() const { return weighted() ? weighted()->bias().size() : 0; }
    /// Kernel (..., cout) row-major and bias (cout) of a Conv2D or Dense; empty otherwise.
    const detail::AlignedFloats& kernel() const { return weighted() ? weighted()->kernel() : empty(); }
    const detail::AlignedFloats& bias() const { return weighted() ? weighted()->bias() : empty(); }
    /// The weighted op's kernel and bias for writing (null for a layer without weights).
    detail::KernelAndBias* weighted() {
        for (std::size_t i = 0; i < ops_.size(); ++i)
            if (auto* kb = ops_.op(i).kernel_and_bias()) return kb;
        return nullptr;
    }
    const detail::KernelAndBias* weighted() const {
        for (std::size_t i = 0; i < ops_.size(); ++i)
            if (const auto* kb = ops_.op(i).kernel_and_bias()) return kb;
        return nullptr;
    }

    ImageShape output_shape(const ImageShape& in) const { return ops_.output_shape(in); }
    void forward(const Tensor& in, Tensor& out, Workspace& ws) const { ops_.forward(in, out, ws); }
    void forward(const Tensor& in, Tensor& out) const {
        Workspace ws;
        forward(in, out, ws);
    }
    /// This layer then `next` as one fused kernel when both are single ops that fuse (a Conv2D
    /// and a MaxPool2D); false, having done nothing, otherwise (see layers/fusion.hpp).
    bool forward_fused(const GraphLayer& next, const Tensor& in, Tensor& out, Workspace& ws) const {
        if (ops_.size() != 1 || next.ops_.size() != 1) return false;
        return ops_.op(0).forward_fused(next.ops_.op(0), in, out, ws);
    }

    void keras_weights(ModelWeights& out) const { ops_.keras_weights(out); }

    /// Training (see GraphSegment): forward keeping every op's output, backward, parameters.
    void forward_train(const Tensor& in, Tensor& out, GraphSegment::Trace& trace) const {
        ops_.forward_train(in, out, trace);
    }
    void backward(GraphSegment::Trace& trace, Tensor& dout, Tensor* din) { ops_.backward(trace, dout, din); }
    std::vector<ParameterRef> parameters() { return ops_.parameters(); }

private:
    static const detail::AlignedFloats& empty() {
        static const detail::AlignedFloats none;
        return none;
    }

    std::string name_;
    std::string class_name_ = "Identity";
    std::string activation_ = "linear";
    GraphSegment ops_;
};

/// Zeroes the kernel slices and biases of the masked channels of a GraphLayer (a Conv2D's
/// filters, a Dense layer's units). Throws argument_error when the layer's activation is not
/// zero-preserving (then mask the features: Masked<Net>) and when it has no weights.
inline void zero_channels(GraphLayer& layer, const ChannelMask& mask) {
    if (!layer.zero_preserving())
        throw argument_error("zero_channels / prune_channels: layer " + layer.name() + " (" + layer.class_name() +
                             ") has activation " + layer.activation() +
                             ", which is not zero-preserving (f(0) != 0), so zeroing a channel's weights would not "
                             "remove it; mask the features instead (Masked<Net>, ChannelMask::apply)");
    detail::KernelAndBias* kb = layer.weighted();
    if (!kb) throw argument_error("zero_channels: layer " + layer.name() + " (" + layer.class_name() + ") has no weights");
    const std::size_t cout = layer.out_channels();
    if (mask.channels() != cout)
        throw shape_error("channel mask for " + std::to_string(mask.channels()) + " channels, but layer " +
                          layer.name() + " has " + std::to_string(cout));
    auto& kernel = kb->kernel();  // write access: counts a new generation, the layer repacks
    auto& bias = kb->bias();
    for (std::size_t c = 0; c < cout; ++c) {
        if (!mask.is_pruned(c)) continue;
        for (std::size_t i = c; i < kernel.size(); i += cout) kernel[i] = 0.0f;
        bias[c] = 0.0f;
    }
}

}  // namespace prunedef
