#pragma once
// BatchNormalization folded into the Conv2D or Dense layer before it (inference): when a layer
// with a linear activation is read only by a BatchNormalization, y = inv * (x W + b) + shift per
// output channel c (inv = gamma / sqrt(moving_variance + epsilon), shift = beta - moving_mean *
// inv) is one layer with kernel W[..., c] * inv[c] and bias b[c] * inv[c] + shift[c]: one pass
// over the data instead of two, the same values up to float rounding.
//
// The folded op reports the two layers' original weights (keras_weights()), so a network written
// back carries the model's own arrays. The pruned layer is never folded (zeroing its channels
// must give zero outputs); the graph builder (model/graph_network.hpp) decides where to fold.

#include <prunedef/model/graph_op.hpp>
#include <prunedef/model/keras_layer_ops.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace prunedef {
namespace detail {

/// An op that computes as `inner` but reports fixed Keras weights (and offers no kernel to write).
class KerasWeightsAsOp final : public GraphOp {
public:
    KerasWeightsAsOp(std::unique_ptr<GraphOp> inner, ModelWeights report)
        : inner_(std::move(inner)), report_(std::move(report)) {}
    std::unique_ptr<GraphOp> clone() const override { return std::make_unique<KerasWeightsAsOp>(inner_->clone(), report_); }
    const std::string& name() const override { return inner_->name(); }
    std::size_t arity() const override { return inner_->arity(); }
    ImageShape output_shape(const std::vector<ImageShape>& in) const override { return inner_->output_shape(in); }
    void forward(const std::vector<const Tensor*>& in, Tensor& out, Workspace& ws) const override {
        inner_->forward(in, out, ws);
    }
    bool fuses_with(const GraphOp& next) const override { return inner_->fuses_with(next); }
    bool forward_fused(const GraphOp& next, const Tensor& in, Tensor& out, Workspace& ws) const override {
        return inner_->forward_fused(next, in, out, ws);
    }
    void keras_weights(ModelWeights& out) const override {
        for (const auto& [name, arrays] : report_) out[name] = arrays;
    }
    /// A folded layer has no parameters in Keras' terms to train: refused.
    void backward(const std::vector<const Tensor*>&, const Tensor&, Tensor&, const std::vector<Tensor*>&) override {
        refuse();
    }
    void parameters(std::vector<ParameterRef>&) override { refuse(); }

private:
    [[noreturn]] void refuse() const {
        throw argument_error("layer " + name() +
                             " has a BatchNormalization folded into it, which cannot be trained in Keras' terms: "
                             "build the network for training with GraphSplit::fold_batch_norm = false");
    }
    std::unique_ptr<GraphOp> inner_;
    ModelWeights report_;
};

/// The ops of Conv2D / Dense layer l with the BatchNormalization bn_spec folded in; none when the
/// sizes do not match (the unfolded layers then report the mismatch when the network is bound).
inline std::optional<std::vector<std::unique_ptr<GraphOp>>> folded_batch_norm_ops(const ModelSpec& spec,
                                                                                  const LayerSpec& l,
                                                                                  const LayerSpec& bn_spec,
                                                                                  const ModelWeights& weights) {
    std::vector<WeightArray> arrays = kernel_and_bias_arrays(spec, l, weights, implied_kernel_dims(l, weights));
    const BatchNormalization bn = batch_norm_layer(spec, bn_spec, weights);
    const std::size_t cout = arrays[1].values.size();
    if (bn.channels() != cout) return std::nullopt;

    ModelWeights report;
    report[l.name] = arrays;
    for (auto& w : report[l.name]) w.name = keras_weight_base_name(w.name);
    if (!l.use_bias) report[l.name].pop_back();
    report[bn_spec.name] = bn.weights();
    for (auto& w : report[bn_spec.name]) w.name = keras_weight_base_name(w.name);

    const std::vector<float>& inv = bn.multipliers();
    const std::vector<float>& shift = bn.offsets();
    std::vector<float>& kernel = arrays[0].values;
    std::vector<float>& bias = arrays[1].values;
    for (std::size_t i = 0; i < kernel.size(); ++i) kernel[i] *= inv[i % cout];
    for (std::size_t c = 0; c < cout; ++c) bias[c] = bias[c] * inv[c] + shift[c];

    std::vector<std::unique_ptr<GraphOp>> ops = weighted_layer_ops(spec, l, std::move(arrays), true, "linear");
    for (auto& op : ops)
        if (op->kernel_and_bias()) op = std::make_unique<KerasWeightsAsOp>(std::move(op), std::move(report));
    return ops;
}

}  // namespace detail
}  // namespace prunedef
