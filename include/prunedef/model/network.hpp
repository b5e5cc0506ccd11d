#pragma once
// Network<Stem, PrunedConv, Reduce, Head>: a classifier split at the layer the pruning defense
// acts on. The split is part of the type:
//
//   input -> (x input_scale) -> Stem -> PrunedConv -> Reduce -> features -> Head -> logits
//
// PrunedConv is the last convolution (conv_3 in DeepID); Reduce is the pooling whose output feeds
// the dense layers (pool_3), or Identity. "features" is what the defense ranks, caches and masks.
// Sizes are runtime values read from the weights; bind() checks that they fit an input shape.
//
// Scratch memory: every forward method has an overload taking a Workspace (core/workspace.hpp)
// that holds the intermediate tensors; the overloads without one borrow a workspace from the
// network's own pool for the call. Const methods may therefore be called from several threads at
// once (each concurrent call uses its own workspace; pass one workspace per thread to control the
// memory yourself); a Workspace serves one call at a time.

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/core/workspace.hpp>
#include <prunedef/kernels/elementwise.hpp>
#include <prunedef/layers/fusion.hpp>

#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace prunedef {

template <class Stem, class PrunedConv, class Reduce, class Head>
class Network {
public:
    using stem_type = Stem;
    using pruned_type = PrunedConv;
    using reduce_type = Reduce;
    using head_type = Head;

    Network() = default;
    Network(Stem stem, PrunedConv pruned, Reduce reduce, Head head, std::vector<std::string> layer_order = {})
        : stem_(std::move(stem)), pruned_(std::move(pruned)), reduce_(std::move(reduce)), head_(std::move(head)),
          layer_order_(std::move(layer_order)) {}

    Stem& stem() { return stem_; }
    const Stem& stem() const { return stem_; }
    PrunedConv& pruned_layer() { return pruned_; }
    const PrunedConv& pruned_layer() const { return pruned_; }
    Reduce& reduce() { return reduce_; }
    const Reduce& reduce() const { return reduce_; }
    Head& head() { return head_; }
    const Head& head() const { return head_; }

    /// Factor applied to every input value before the first layer (1 for raw pixels, 1/255 ...).
    float input_scale() const { return input_scale_; }
    void set_input_scale(float s) {
        if (!(s > 0.0f) || !std::isfinite(s))
            throw argument_error("input scale must be a positive finite number, got " + std::to_string(s));
        input_scale_ = s;
    }

    /// The Keras layer order used when writing weight files (all layer names, weightless ones
    /// too); empty means the order in which visit() meets the layers.
    const std::vector<std::string>& layer_order() const { return layer_order_; }

    /// Checks every layer against an input shape and remembers it. Throws shape_error naming the
    /// first layer that does not fit.
    void bind(const ImageShape& input) {
        if (input.size() == 0) throw shape_error("input shape " + input.str() + " is empty");
        const ImageShape conv_out = pruned_.output_shape(stem_.output_shape(input));
        const ImageShape features = reduce_.output_shape(conv_out);
        const ImageShape out = head_.output_shape(features);
        input_shape_ = input;
        conv_shape_ = conv_out;
        feature_shape_ = features;
        classes_ = out.size();
    }
    bool bound() const { return input_shape_.has_value(); }
    const ImageShape& input_shape() const { return checked(input_shape_); }
    /// Shape of the pruned convolution's output (before Reduce).
    const ImageShape& conv_shape() const { checked(input_shape_); return conv_shape_; }
    /// Shape of the features the head reads (after Reduce).
    const ImageShape& feature_shape() const { checked(input_shape_); return feature_shape_; }
    std::size_t num_classes() const { checked(input_shape_); return classes_; }
    /// Channels of the pruned layer: the candidates for pruning.
    std::size_t prunable_channels() const { return pruned_.out_channels(); }

    /// Runs the network up to the pruned convolution's output (scaled input, Stem, PrunedConv).
    void conv_output(const Tensor& images, Tensor& out, Workspace& ws) const {
        detail::ScratchFrame frame(ws);
        detail::forward_layer(pruned_, stem_output(images, frame), out, ws);
    }
    void conv_output(const Tensor& images, Tensor& out) const { conv_output(images, out, *pool_.acquire()); }
    /// Runs the network up to the features the defense works on (PrunedConv and Reduce fused
    /// when they can be).
    void features(const Tensor& images, Tensor& out, Workspace& ws) const {
        detail::ScratchFrame frame(ws);
        detail::forward_pair(pruned_, reduce_, stem_output(images, frame), out, ws);
    }
    void features(const Tensor& images, Tensor& out) const { features(images, out, *pool_.acquire()); }
    /// Runs the head on features (possibly masked).
    void head_logits(const Tensor& features, Tensor& logits, Workspace& ws) const {
        detail::forward_layer(head_, features, logits, ws);
    }
    void head_logits(const Tensor& features, Tensor& logits) const { head_logits(features, logits, *pool_.acquire()); }

    /// Pre-softmax outputs, one row per image.
    void logits(const Tensor& images, Tensor& out, Workspace& ws) const {
        detail::ScratchFrame frame(ws);
        Tensor& f = frame.tensor();
        features(images, f, ws);
        head_logits(f, out, ws);
    }
    void logits(const Tensor& images, Tensor& out) const { logits(images, out, *pool_.acquire()); }
    Tensor logits(const Tensor& images) const {
        Tensor out;
        logits(images, out);
        return out;
    }
    /// The predicted class of each image.
    std::vector<int> predict(const Tensor& images) const { return argmax(logits(images)); }

    template <class F>
    void visit(F&& f) {
        stem_.visit(f);
        pruned_.visit(f);
        reduce_.visit(f);
        head_.visit(f);
    }
    template <class F>
    void visit(F&& f) const {
        stem_.visit(f);
        pruned_.visit(f);
        reduce_.visit(f);
        head_.visit(f);
    }

private:
    static const ImageShape& checked(const std::optional<ImageShape>& s) {
        if (!s) throw shape_error("network has no input shape: call bind() after loading weights");
        return *s;
    }
    /// The stem's output for the scaled images, in scratch taken from the caller's frame.
    const Tensor& stem_output(const Tensor& images, detail::ScratchFrame& frame) const {
        check_input(images);
        Tensor& trunk = frame.tensor();
        if (input_scale_ != 1.0f) {
            Tensor& scaled = frame.tensor();
            scaled.resize(images.batch(), images.shape());
            const float* src = images.data();
            float* p = scaled.data();
            for (std::size_t i = 0, n = scaled.size(); i < n; ++i) p[i] = src[i] * input_scale_;
            detail::forward_layer(stem_, scaled, trunk, frame.workspace());
        } else {
            detail::forward_layer(stem_, images, trunk, frame.workspace());
        }
        return trunk;
    }
    void check_input(const Tensor& images) const {
        if (images.shape() != input_shape())
            throw shape_error("network input is " + input_shape().str() + " but the images are " +
                              images.shape().str());
    }

    Stem stem_;
    PrunedConv pruned_;
    Reduce reduce_;
    Head head_;
    std::vector<std::string> layer_order_;
    float input_scale_ = 1.0f;
    std::optional<ImageShape> input_shape_;
    ImageShape conv_shape_{}, feature_shape_{};
    std::size_t classes_ = 0;
    detail::WorkspacePool pool_;  // lent to the calls made without a workspace
};

}  // namespace prunedef
