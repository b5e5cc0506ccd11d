#pragma once
// detail::GraphOp: one layer of a network assembled at run time (model/graph_segment.hpp), type
// erased behind a small virtual interface; detail::LayerOp<L> adapts any concrete layer class of
// layers/ (one input: forward(in, out) or forward(in, out, Workspace&)) and
// detail::MultiInputOp<L> the layers that read several tensors (forward(const
// std::vector<const Tensor*>&, Tensor&)). A virtual call per layer per batch costs nothing next
// to the layer; a std::variant over every layer type would cost compile time instead.

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/core/workspace.hpp>
#include <prunedef/layers/fusion.hpp>
#include <prunedef/layers/layer_base.hpp>
#include <prunedef/layers/maxpool2d.hpp>
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

private:
    std::unique_ptr<GraphOp> first_, second_;
};

}  // namespace detail
}  // namespace prunedef
