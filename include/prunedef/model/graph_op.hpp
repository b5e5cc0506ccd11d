#pragma once
// detail::GraphOp: one layer of a network assembled at run time (model/graph_segment.hpp), type
// erased behind a small virtual interface; detail::LayerOp<L> adapts any concrete layer class of
// layers/ (one input: forward(in, out) or forward(in, out, Workspace&)) and
// detail::MultiInputOp<L> the layers that read several tensors (forward(const
// std::vector<const Tensor*>&, Tensor&)). A virtual call per layer per batch costs nothing next
// to the layer; a std::variant over every layer type would cost compile time instead.
//
// Training: backward(in, out, dout, din) is the op's backward pass (layers/layer_backward.hpp):
// it overwrites its parameters' gradients and writes the gradient of each input whose din
// pointer is not null; parameters() lists its trainable arrays. An op without a backward pass
// refuses with argument_error (never a silent zero gradient).

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/core/workspace.hpp>
#include <prunedef/layers/fusion.hpp>
#include <prunedef/layers/layer_backward.hpp>
#include <prunedef/layers/layer_base.hpp>
#include <prunedef/layers/maxpool2d.hpp>
#include <prunedef/layers/parameter_ref.hpp>
#include <prunedef/model/layer_spec.hpp>
#include <prunedef/model/model_weights.hpp>

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace prunedef {
namespace detail {

class GraphOp {
public:
    virtual ~GraphOp() = default;
    virtual std::unique_ptr<GraphOp> clone() const = 0;

    /// The Keras layer this op computes (a Keras layer may become several ops: padding,
    /// convolution, activation; only one of them carries its weights).
    virtual const std::string& name() const = 0;
    /// Number of inputs: 1, or 0 for "two or more" (Add, Concatenate).
    virtual std::size_t arity() const { return 1; }

    virtual ImageShape output_shape(const std::vector<ImageShape>& in) const = 0;
    virtual void forward(const std::vector<const Tensor*>& in, Tensor& out, Workspace& ws) const = 0;

    /// Runs this op then `next` on its output as one fused kernel when the pair allows it
    /// (a Conv2D followed by a MaxPool2D); returns false, having done nothing, otherwise.
    virtual bool forward_fused(const GraphOp& /*next*/, const Tensor& /*in*/, Tensor& /*out*/,
                               Workspace& /*ws*/) const {
        return false;
    }
    virtual bool fuses_with(const GraphOp& /*next*/) const { return false; }

    /// The weights in Keras' terms (names without ":0", Keras' shapes) added under name().
    virtual void keras_weights(ModelWeights& /*out*/) const {}
    /// The kernel (..., cout) and bias (cout) of a Conv2D or Dense, for pruning; null otherwise.
    virtual KernelAndBias* kernel_and_bias() { return nullptr; }
    virtual const KernelAndBias* kernel_and_bias() const { return nullptr; }

    /// Backward pass: in and out as forward() read and wrote them, dout the loss gradient with
    /// respect to out (may be modified); overwrites the parameters' gradients and writes
    /// *din[k] for every non-null din[k].
    virtual void backward(const std::vector<const Tensor*>& /*in*/, const Tensor& /*out*/, Tensor& /*dout*/,
                          const std::vector<Tensor*>& /*din*/) {
        throw argument_error("layer " + name() + ": training (the backward pass) is not implemented for this op");
    }
    /// Appends the op's trainable arrays and their gradients.
    virtual void parameters(std::vector<ParameterRef>& /*out*/) {}
};

template <class L>
using is_kernel_and_bias = std::is_base_of<KernelAndBias, L>;

/// A single-input layer class as a GraphOp.
template <class L>
class LayerOp final : public GraphOp {
public:
    /// write_bias false: a layer that Keras built without a bias (use_bias=False); its bias is
    /// zero and not reported by keras_weights().
    explicit LayerOp(L layer, bool write_bias = true) : layer_(std::move(layer)), write_bias_(write_bias) {}

    const L& layer() const { return layer_; }
    L& layer() { return layer_; }

    std::unique_ptr<GraphOp> clone() const override { return std::make_unique<LayerOp>(*this); }
    const std::string& name() const override { return layer_.name(); }
    ImageShape output_shape(const std::vector<ImageShape>& in) const override { return layer_.output_shape(in.at(0)); }
    void forward(const std::vector<const Tensor*>& in, Tensor& out, Workspace& ws) const override {
        forward_layer(layer_, *in[0], out, ws);
    }

    bool fuses_with(const GraphOp& next) const override {
        if constexpr (detail::fuses_with<L, MaxPool2D>::value)
            return dynamic_cast<const LayerOp<MaxPool2D>*>(&next) != nullptr;
        else
            return (void)next, false;
    }
    bool forward_fused(const GraphOp& next, const Tensor& in, Tensor& out, Workspace& ws) const override {
        if constexpr (detail::fuses_with<L, MaxPool2D>::value) {
            if (const auto* pool = dynamic_cast<const LayerOp<MaxPool2D>*>(&next)) {
                forward_pair(layer_, pool->layer(), in, out, ws);
                return true;
            }
        }
        (void)next, (void)in, (void)out, (void)ws;
        return false;
    }

    void keras_weights(ModelWeights& out) const override {
        if constexpr (L::has_weights) {
            std::vector<WeightArray>& arrays = out[layer_.name()];
            for (WeightArray w : layer_.weights()) {
                w.name = keras_weight_base_name(w.name);
                if (!write_bias_ && w.name == "bias") continue;
                arrays.push_back(std::move(w));
            }
        } else {
            (void)out;
        }
    }
    KernelAndBias* kernel_and_bias() override {
        if constexpr (is_kernel_and_bias<L>::value) return &layer_;
        else return nullptr;
    }
    const KernelAndBias* kernel_and_bias() const override {
        if constexpr (is_kernel_and_bias<L>::value) return &layer_;
        else return nullptr;
    }

    void backward(const std::vector<const Tensor*>& in, const Tensor& out, Tensor& dout,
                  const std::vector<Tensor*>& din) override {
        if constexpr (has_layer_backward<L>::value)
            layer_backward(layer_, *in.at(0), out, dout, din.at(0));
        else
            GraphOp::backward(in, out, dout, din);
    }
    /// A Conv2D's or Dense's kernel and (when Keras has one) bias; a BatchNormalization's gamma
    /// (when scale) and beta (when center).
    void parameters(std::vector<ParameterRef>& out) override {
        if constexpr (is_kernel_and_bias<L>::value) {
            const auto changed = [this] { layer_.weights_changed(); };
            out.push_back({&layer_.kernel(), &layer_.kernel_gradient(), changed});
            if (write_bias_) out.push_back({&layer_.bias(), &layer_.bias_gradient(), changed});
        } else if constexpr (std::is_same_v<L, BatchNormalization>) {
            const auto changed = [this] { layer_.weights_changed(); };
            if (layer_.scale()) out.push_back({&layer_.gamma(), &layer_.gamma_gradient(), changed});
            if (layer_.center()) out.push_back({&layer_.beta(), &layer_.beta_gradient(), changed});
        } else {
            (void)out;
        }
    }

private:
    L layer_;
    bool write_bias_ = true;
};

/// A layer class that reads several tensors (forward(const std::vector<const Tensor*>&, Tensor&),
/// output_shape(const std::vector<ImageShape>&)) as a GraphOp.
template <class L>
class MultiInputOp final : public GraphOp {
public:
    explicit MultiInputOp(L layer) : layer_(std::move(layer)) {}
    std::unique_ptr<GraphOp> clone() const override { return std::make_unique<MultiInputOp>(*this); }
    const std::string& name() const override { return layer_.name(); }
    std::size_t arity() const override { return 0; }
    ImageShape output_shape(const std::vector<ImageShape>& in) const override { return layer_.output_shape(in); }
    void forward(const std::vector<const Tensor*>& in, Tensor& out, Workspace&) const override { layer_.forward(in, out); }
    void backward(const std::vector<const Tensor*>& in, const Tensor& out, Tensor& dout,
                  const std::vector<Tensor*>& din) override {
        if constexpr (has_multi_layer_backward<L>::value)
            layer_backward(layer_, in, out, dout, din);
        else
            GraphOp::backward(in, out, dout, din);
    }

private:
    L layer_;
};

/// Two ops run as one fused kernel (first.fuses_with(second)): the graph's rewrite of a
/// convolution whose only reader is a max pooling.
class FusedPairOp final : public GraphOp {
public:
    FusedPairOp(std::unique_ptr<GraphOp> first, std::unique_ptr<GraphOp> second)
        : first_(std::move(first)), second_(std::move(second)) {}
    std::unique_ptr<GraphOp> clone() const override {
        return std::make_unique<FusedPairOp>(first_->clone(), second_->clone());
    }
    const std::string& name() const override { return second_->name(); }
    ImageShape output_shape(const std::vector<ImageShape>& in) const override {
        return second_->output_shape({first_->output_shape(in)});
    }
    void forward(const std::vector<const Tensor*>& in, Tensor& out, Workspace& ws) const override {
        if (first_->forward_fused(*second_, *in[0], out, ws)) return;
        ScratchFrame frame(ws);
        Tensor& between = frame.tensor();
        first_->forward(in, between, ws);
        second_->forward({&between}, out, ws);
    }
    void keras_weights(ModelWeights& out) const override {
        first_->keras_weights(out);
        second_->keras_weights(out);
    }
    /// Computes the first op's output again (the fused forward pass did not keep it).
    void backward(const std::vector<const Tensor*>& in, const Tensor& out, Tensor& dout,
                  const std::vector<Tensor*>& din) override {
        Workspace ws;
        Tensor between, dbetween;
        first_->forward(in, between, ws);
        second_->backward({&between}, out, dout, {&dbetween});
        first_->backward(in, between, dbetween, din);
    }
    void parameters(std::vector<ParameterRef>& out) override {
        first_->parameters(out);
        second_->parameters(out);
    }

private:
    std::unique_ptr<GraphOp> first_, second_;
};

}  // namespace detail
}  // namespace prunedef
