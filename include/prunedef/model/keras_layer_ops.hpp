#pragma once
// The ops (model/graph_op.hpp) that compute one Keras layer of a ModelSpec, on prunedef's
// kernels; the layer classes and settings prunedef can compute exactly, and nothing else:
//
//   Conv2D, stride 1, valid      Conv2D<Act> (the fast packed kernel; Act linear/relu/sigmoid/tanh)
//   Conv2D, 'same'               ZeroPadding2D (Keras' split of the padding) + the valid convolution
//   Conv2D, strides > 1          StridedConv2D<Act>
//   Conv2D/Dense, elu, softmax   the layer with a linear activation + an activation op
//   Dense                        Dense<Act> on a 1x1xn input (Keras applies it per position
//                                otherwise: refused when the shapes are bound)
//   MaxPooling2D square, valid, stride == pool: MaxPool2D (fuses with the convolution before it);
//                                other max and average poolings: Pooling2D<MaxPooling/AveragePooling>
//   GlobalMax/AveragePooling2D   GlobalPooling2D<MaxPooling/AveragePooling>
//   BatchNormalization           BatchNormalization (inference), or folded into the Conv2D / Dense
//                                before it by the graph builder (model/batch_norm_folding.hpp)
//   Activation, ReLU, Softmax, LeakyReLU: Activation<Act> or RuntimeActivation (elu, leaky_relu)
//   ZeroPadding2D, Flatten, Add, Concatenate: as their layers; InputLayer, Dropout: no op
//
// Any other class or setting: argument_error naming the layer's class and name and the spec's
// source. Weights come by Keras name without ":0" ("kernel", "bias"); a layer built without a
// bias gets a zero bias that is not written back.

#include <prunedef/core/activation.hpp>
#include <prunedef/core/error.hpp>
#include <prunedef/kernels/elementwise.hpp>
#include <prunedef/layers/activation.hpp>
#include <prunedef/layers/add.hpp>
#include <prunedef/layers/batch_normalization.hpp>
#include <prunedef/layers/concatenate.hpp>
#include <prunedef/layers/conv2d.hpp>
#include <prunedef/layers/dense.hpp>
#include <prunedef/layers/flatten.hpp>
#include <prunedef/layers/global_pooling2d.hpp>
#include <prunedef/layers/maxpool2d.hpp>
#include <prunedef/layers/padding.hpp>
#include <prunedef/layers/pooling2d.hpp>
#include <prunedef/layers/runtime_activation.hpp>
#include <prunedef/layers/strided_conv2d.hpp>
#include <prunedef/layers/zero_padding2d.hpp>
#include <prunedef/model/graph_op.hpp>
#include <prunedef/model/layer_spec.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace prunedef {
namespace detail {

template <class T>
struct Tag {
    using type = T;
};

/// "model.h5: attribute /model_config: layer conv_3 (Conv2D)": where a message points.
inline std::string spec_where(const ModelSpec& spec, const LayerSpec& layer) {
    return (spec.source.empty() ? std::string("model") : spec.source) + ": layer " + layer.name + " (" +
           layer.class_name + ")";
}

inline bool is_pooling_class(const std::string& c) {
    return c == "MaxPooling2D" || c == "AveragePooling2D" || c == "GlobalAveragePooling2D" ||
           c == "GlobalMaxPooling2D";
}
inline bool reads_several(const std::string& c) { return c == "Add" || c == "Concatenate"; }

/// The classes keras_layer_ops() computes.
inline const std::vector<std::string>& supported_keras_classes() {
    static const std::vector<std::string> classes = {
        "InputLayer", "Conv2D",  "Dense", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
        "GlobalMaxPooling2D", "ZeroPadding2D", "Flatten", "Dropout", "Activation", "ReLU", "LeakyReLU", "Softmax",
        "BatchNormalization", "Add", "Concatenate"};
    return classes;
}

inline bool is_supported_keras_class(const std::string& c) {
    const auto& s = supported_keras_classes();
    return std::find(s.begin(), s.end(), c) != s.end();
}

/// Refuses a layer whose class or settings prunedef cannot compute exactly.
inline void check_layer_supported(const ModelSpec& spec, const LayerSpec& l) {
    if (!is_supported_keras_class(l.class_name)) {
        std::string list;
        for (const auto& c : supported_keras_classes()) list += (list.empty() ? "" : ", ") + c;
        throw argument_error(spec_where(spec, l) + ": class " + l.class_name + " is not supported (supported: " + list +
                             ")");
    }
    const std::string& a = l.activation;
    if (a != "linear" && a != "relu" && a != "sigmoid" && a != "tanh" && a != "softmax" && a != "elu")
        throw argument_error(spec_where(spec, l) + ": activation " + a +
                             " is not supported (supported: linear, relu, sigmoid, tanh, softmax, elu)");
    const std::string& c = l.class_name;
    if (c == "Conv2D" || c == "MaxPooling2D" || c == "AveragePooling2D") {
        if (l.padding != "valid" && l.padding != "same")
            throw argument_error(spec_where(spec, l) + ": padding " + l.padding + " is not supported (valid, same)");
        if (l.strides[0] == 0 || l.strides[1] == 0)
            throw argument_error(spec_where(spec, l) + ": strides must be positive");
    }
    if (c == "Conv2D" && (l.units == 0 || l.kernel_size[0] == 0 || l.kernel_size[1] == 0))
        throw argument_error(spec_where(spec, l) + ": filters and kernel_size must be positive");
    if ((c == "MaxPooling2D" || c == "AveragePooling2D") && (l.pool_size[0] == 0 || l.pool_size[1] == 0))
        throw argument_error(spec_where(spec, l) + ": pool_size must be positive");
    if (c == "Dense" && l.units == 0) throw argument_error(spec_where(spec, l) + ": units must be positive");
    if (c == "BatchNormalization" && (!std::isfinite(l.epsilon) || l.epsilon < 0))
        throw argument_error(spec_where(spec, l) + ": epsilon must be finite and not negative");
    if (c == "LeakyReLU" && !std::isfinite(l.alpha))
        throw argument_error(spec_where(spec, l) + ": negative slope " + std::to_string(l.alpha) + " is not supported");
}

/// Calls f(Tag<Act>{}) for an activation fused into Conv2D and Dense kernels; false when there
/// is none for that name.
template <class F>
bool with_fused_activation(const std::string& name, F&& f) {
    if (name == "linear") return f(Tag<Linear>{}), true;
    if (name == "relu") return f(Tag<Relu>{}), true;
    if (name == "sigmoid") return f(Tag<Sigmoid>{}), true;
    if (name == "tanh") return f(Tag<Tanh>{}), true;
    return false;
}

/// An activation as a stand-alone op.
inline std::unique_ptr<GraphOp> activation_op(const ModelSpec& spec, const LayerSpec& l, const std::string& name,
                                              const std::string& activation) {
    std::unique_ptr<GraphOp> op;
    if (activation == "softmax") return std::make_unique<LayerOp<Activation<Softmax>>>(Activation<Softmax>(name));
    with_fused_activation(activation, [&](auto tag) {
        using A = typename decltype(tag)::type;
        op = std::make_unique<LayerOp<Activation<A>>>(Activation<A>(name));
    });
    if (!op && activation == "elu")  // Keras' "elu" activation: alpha 1
        op = std::make_unique<LayerOp<RuntimeActivation>>(RuntimeActivation(name, ActivationKind::elu));
    if (!op) throw argument_error(spec_where(spec, l) + ": activation " + activation + " is not supported");
    return op;
}

/// [kernel, bias] of a Conv2D or Dense as its set_weights() takes them ("kernel:0", "bias:0"),
/// a zero bias when the layer has none; checks the names and the kernel's shape against the spec.
inline std::vector<WeightArray> kernel_and_bias_arrays(const ModelSpec& spec, const LayerSpec& l,
                                                       const ModelWeights& weights,
                                                       const std::vector<std::size_t>& kernel_dims) {
    const auto it = weights.find(l.name);
    if (it == weights.end() || it->second.empty())
        throw format_error(spec_where(spec, l) + ": no weights for this layer");
    const WeightArray* kernel = nullptr;
    const WeightArray* bias = nullptr;
    for (const WeightArray& w : it->second) {
        const std::string base = keras_weight_base_name(w.name);
        if (base == "kernel" && !kernel) kernel = &w;
        else if (base == "bias" && l.use_bias && !bias) bias = &w;
        else
            throw format_error(spec_where(spec, l) + ": unexpected weight " + w.name + " (expected kernel" +
                               (l.use_bias ? " and bias)" : ", the layer has no bias)"));
    }
    if (!kernel) throw format_error(spec_where(spec, l) + ": weight kernel missing");
    if (l.use_bias && !bias) throw format_error(spec_where(spec, l) + ": weight bias missing");
    if (kernel->dims != kernel_dims)
        throw format_error(spec_where(spec, l) + ": kernel has shape " + dims_str(kernel->dims) +
                           " but the configuration implies " + dims_str(kernel_dims));
    std::vector<WeightArray> out{*kernel, bias ? *bias : WeightArray{"bias", {kernel_dims.back()}, {}}};
    out[0].name = "kernel:0";
    out[1].name = "bias:0";
    if (!bias) out[1].values.assign(kernel_dims.back(), 0.0f);
    return out;
}

/// Refuses weights given for a layer without weights.
inline void check_no_weights(const ModelSpec& spec, const LayerSpec& l, const ModelWeights& weights) {
    const auto it = weights.find(l.name);
    if (it != weights.end() && !it->second.empty())
        throw format_error(spec_where(spec, l) + ": has weights (" + it->second.front().name +
                           ", ...) but the class has none");
}

/// A Keras Dense layer: Keras applies Dense to the last axis at every position of a HxWxC input;
/// prunedef computes it on 1x1xn inputs only (after Flatten or global pooling) and refuses others.
template <class A>
class KerasDense : public Dense<A> {
public:
    using Dense<A>::Dense;
    ImageShape output_shape(const ImageShape& in) const {
        if (in.height != 1 || in.width != 1)
            throw shape_error("layer " + this->name() + ": Dense on a " + in.str() +
                              " input (Keras applies it at every position) is not supported: only on 1x1xn inputs "
                              "(after Flatten or global pooling)");
        return Dense<A>::output_shape(in);
    }
};

/// Keras' 'same' padding of a window moved by strides, computed from the input's shape when it
/// runs (for strides above 1 it depends on the input's size), then the valid operation follows.
class SamePaddingOp final : public GraphOp {
public:
    SamePaddingOp(std::string name, std::array<std::size_t, 2> window, std::array<std::size_t, 2> strides)
        : name_(std::move(name)), window_(window), strides_(strides) {}
    std::unique_ptr<GraphOp> clone() const override { return std::make_unique<SamePaddingOp>(*this); }
    const std::string& name() const override { return name_; }
    ImageShape output_shape(const std::vector<ImageShape>& in) const override { return padding(in.at(0)).output_shape(in[0]); }
    void forward(const std::vector<const Tensor*>& in, Tensor& out, Workspace&) const override {
        padding(in[0]->shape()).forward(*in[0], out);
    }
    void backward(const std::vector<const Tensor*>& in, const Tensor& out, Tensor& dout,
                  const std::vector<Tensor*>& din) override {
        ZeroPadding2D p = padding(in.at(0)->shape());
        layer_backward(p, *in[0], out, dout, din.at(0));
    }

private:
    ZeroPadding2D padding(const ImageShape& in) const {
        const auto p = same_padding(in, window_, strides_);
        return ZeroPadding2D(name_, p[0], p[1], p[2], p[3]);
    }
    std::string name_;
    std::array<std::size_t, 2> window_, strides_;
};

/// The arrays of a BatchNormalization in its set_weights() order (gamma if scale, beta if center,
/// moving_mean, moving_variance), found by name.
inline BatchNormalization batch_norm_layer(const ModelSpec& spec, const LayerSpec& l, const ModelWeights& weights) {
    const auto it = weights.find(l.name);
    if (it == weights.end() || it->second.empty()) throw format_error(spec_where(spec, l) + ": no weights for this layer");
    std::vector<std::string> names;
    if (l.scale) names.push_back("gamma");
    if (l.center) names.push_back("beta");
    names.push_back("moving_mean");
    names.push_back("moving_variance");
    std::vector<WeightArray> arrays;
    for (const auto& want : names) {
        const WeightArray* found = nullptr;
        for (const WeightArray& w : it->second)
            if (keras_weight_base_name(w.name) == want) found = &w;
        if (!found) throw format_error(spec_where(spec, l) + ": weight " + want + " missing");
        arrays.push_back(*found);
        arrays.back().name = want;
    }
    if (it->second.size() != arrays.size())
        throw format_error(spec_where(spec, l) + ": has " + std::to_string(it->second.size()) +
                           " weight arrays, expected " + std::to_string(arrays.size()) + " (" +
                           (l.scale ? "gamma, " : "") + (l.center ? "beta, " : "") + "moving_mean, moving_variance)");
    BatchNormalization bn(l.name, l.epsilon, l.center, l.scale);
    bn.set_weights(std::move(arrays));
    return bn;
}

/// A Conv2D (any strides) with a fused activation A and the given [kernel, bias].
template <class A>
std::unique_ptr<GraphOp> conv_op(const LayerSpec& l, std::vector<WeightArray> arrays, bool write_bias) {
    if (l.strides[0] == 1 && l.strides[1] == 1) {
        Conv2D<A> layer(l.name);
        layer.set_weights(std::move(arrays));
        return std::make_unique<LayerOp<Conv2D<A>>>(std::move(layer), write_bias);
    }
    StridedConv2D<A> layer(l.name, l.strides[0], l.strides[1]);
    layer.set_weights(std::move(arrays));
    return std::make_unique<LayerOp<StridedConv2D<A>>>(std::move(layer), write_bias);
}
template <class A>
std::unique_ptr<GraphOp> dense_op(const LayerSpec& l, std::vector<WeightArray> arrays, bool write_bias) {
    KerasDense<A> layer(l.name);
    layer.set_weights(std::move(arrays));
    return std::make_unique<LayerOp<KerasDense<A>>>(std::move(layer), write_bias);
}

/// The kernel shape a Conv2D or Dense spec implies, the input channels taken from the kernel
/// given (the spec does not state them).
inline std::vector<std::size_t> implied_kernel_dims(const LayerSpec& l, const ModelWeights& weights) {
    const bool conv = l.class_name == "Conv2D";
    std::size_t cin = 0;
    const auto it = weights.find(l.name);
    if (it != weights.end())
        for (const auto& w : it->second)
            if (keras_weight_base_name(w.name) == "kernel" && w.dims.size() == (conv ? 4u : 2u)) cin = w.dims[conv ? 2 : 0];
    return conv ? std::vector<std::size_t>{l.kernel_size[0], l.kernel_size[1], cin, l.units}
                : std::vector<std::size_t>{cin, l.units};
}

/// The ops of a Conv2D or Dense layer from its [kernel, bias] ("kernel:0", "bias:0"): padding for
/// 'same', the layer with the activation fused when a kernel has it, else a linear layer and
/// the activation after it. write_bias false: the layer has no bias in Keras (arrays[1] zero).
inline std::vector<std::unique_ptr<GraphOp>> weighted_layer_ops(const ModelSpec& spec, const LayerSpec& l,
                                                                std::vector<WeightArray> arrays, bool write_bias,
                                                                const std::string& activation) {
    std::vector<std::unique_ptr<GraphOp>> ops;
    const bool conv = l.class_name == "Conv2D";
    if (conv && l.padding == "same")
        ops.push_back(std::make_unique<SamePaddingOp>(l.name + "/same_padding", l.kernel_size, l.strides));
    const bool fused = with_fused_activation(activation, [&](auto tag) {
        using A = typename decltype(tag)::type;
        ops.push_back(conv ? conv_op<A>(l, std::move(arrays), write_bias) : dense_op<A>(l, std::move(arrays), write_bias));
    });
    if (fused) return ops;
    if (!conv && activation == "softmax") {
        ops.push_back(dense_op<Softmax>(l, std::move(arrays), write_bias));
        return ops;
    }
    ops.push_back(conv ? conv_op<Linear>(l, std::move(arrays), write_bias)
                       : dense_op<Linear>(l, std::move(arrays), write_bias));
    ops.push_back(activation_op(spec, l, l.name + "/" + activation, activation));
    return ops;
}

/// The ops computing layer l (in order, each reading the previous; the first reads the layer's
/// inputs); empty for a layer that passes its input through. `activation` replaces the layer's
/// own (the model's final softmax is dropped this way).
inline std::vector<std::unique_ptr<GraphOp>> keras_layer_ops(const ModelSpec& spec, const LayerSpec& l,
                                                             const ModelWeights& weights,
                                                             const std::string& activation) {
    check_layer_supported(spec, l);
    std::vector<std::unique_ptr<GraphOp>> ops;
    const std::string& c = l.class_name;
    if (c != "Conv2D" && c != "Dense" && c != "BatchNormalization") check_no_weights(spec, l, weights);
    if (c == "InputLayer" || c == "Dropout") return ops;
    if (c == "Conv2D" || c == "Dense")
        return weighted_layer_ops(spec, l, kernel_and_bias_arrays(spec, l, weights, implied_kernel_dims(l, weights)),
                                  l.use_bias, activation);

    const Padding padding = c == "MaxPooling2D" || c == "AveragePooling2D" ? padding_from_keras(l.padding) : Padding::valid;
    if (c == "MaxPooling2D") {
        if (l.pool_size[0] == l.pool_size[1] && l.strides == l.pool_size && padding == Padding::valid)
            ops.push_back(std::make_unique<LayerOp<MaxPool2D>>(MaxPool2D(l.name, l.pool_size[0], l.strides[0])));
        else
            ops.push_back(std::make_unique<LayerOp<Pooling2D<MaxPooling>>>(
                Pooling2D<MaxPooling>(l.name, l.pool_size, l.strides, padding)));
    } else if (c == "AveragePooling2D") {
        ops.push_back(std::make_unique<LayerOp<Pooling2D<AveragePooling>>>(
            Pooling2D<AveragePooling>(l.name, l.pool_size, l.strides, padding)));
    } else if (c == "GlobalMaxPooling2D") {
        ops.push_back(std::make_unique<LayerOp<GlobalPooling2D<MaxPooling>>>(GlobalPooling2D<MaxPooling>(l.name)));
    } else if (c == "GlobalAveragePooling2D") {
        ops.push_back(std::make_unique<LayerOp<GlobalPooling2D<AveragePooling>>>(GlobalPooling2D<AveragePooling>(l.name)));
    } else if (c == "ZeroPadding2D") {
        const auto& z = l.zero_padding;
        ops.push_back(std::make_unique<LayerOp<ZeroPadding2D>>(ZeroPadding2D(l.name, z[0], z[1], z[2], z[3])));
    } else if (c == "BatchNormalization") {
        ops.push_back(std::make_unique<LayerOp<BatchNormalization>>(batch_norm_layer(spec, l, weights)));
    } else if (c == "Flatten") {
        ops.push_back(std::make_unique<LayerOp<Flatten>>(Flatten(l.name)));
    } else if (c == "Activation") {
        if (activation != "linear") ops.push_back(activation_op(spec, l, l.name, activation));
    } else if (c == "ReLU") {
        ops.push_back(activation_op(spec, l, l.name, "relu"));
    } else if (c == "Softmax") {
        ops.push_back(activation_op(spec, l, l.name, "softmax"));
    } else if (c == "LeakyReLU") {
        ops.push_back(std::make_unique<LayerOp<RuntimeActivation>>(
            RuntimeActivation(l.name, ActivationKind::leaky_relu, l.alpha)));
    } else if (c == "Add") {
        ops.push_back(std::make_unique<MultiInputOp<Add>>(Add(l.name)));
    } else if (c == "Concatenate") {
        ops.push_back(std::make_unique<MultiInputOp<Concatenate>>(Concatenate(l.name)));
    }
    return ops;
}

}  // namespace detail
}  // namespace prunedef
