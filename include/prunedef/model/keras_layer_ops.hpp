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
//   MaxPooling2D square, valid, stride == pool: MaxPool2D (fuses with the convolution before it)
//   Flatten, Activation, ReLU, Softmax, Add: as their layers; InputLayer, Dropout: no op
//
// Any other class or setting: argument_error naming the layer's class and name and the spec's
// source. Weights come by Keras name without ":0" ("kernel", "bias"); a layer built without a
// bias gets a zero bias that is not written back.

#include <prunedef/core/activation.hpp>
#include <prunedef/core/error.hpp>
#include <prunedef/kernels/elementwise.hpp>
#include <prunedef/layers/activation.hpp>
#include <prunedef/layers/conv2d.hpp>
#include <prunedef/layers/dense.hpp>
#include <prunedef/layers/flatten.hpp>
#include <prunedef/layers/maxpool2d.hpp>
#include <prunedef/model/graph_op.hpp>
#include <prunedef/model/layer_spec.hpp>

#include <algorithm>
#include <memory>
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

/// The classes keras_layer_ops() computes.
inline const std::vector<std::string>& supported_keras_classes() {
    static const std::vector<std::string> classes = {"InputLayer", "Conv2D", "Dense", "MaxPooling2D", "Flatten",
                                                     "Dropout", "Activation", "ReLU", "Softmax", "Add"};
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
    if (a != "linear" && a != "relu" && a != "sigmoid" && a != "tanh" && a != "softmax")
        throw argument_error(spec_where(spec, l) + ": activation " + a + " is not supported");
    if (l.class_name == "Conv2D") {
        if (l.units == 0 || l.kernel_size[0] == 0 || l.kernel_size[1] == 0)
            throw argument_error(spec_where(spec, l) + ": filters and kernel_size must be positive");
        if (l.padding != "valid")
            throw argument_error(spec_where(spec, l) + ": padding " + l.padding + " is not supported");
        if (l.strides[0] != 1 || l.strides[1] != 1)
            throw argument_error(spec_where(spec, l) + ": strides other than 1 are not supported");
    }
    if (l.class_name == "MaxPooling2D") {
        if (l.pool_size[0] == 0 || l.pool_size[0] != l.pool_size[1] || l.padding != "valid" ||
            l.strides != l.pool_size)
            throw argument_error(spec_where(spec, l) + ": only square pools with valid padding and stride = pool size "
                                 "are supported");
    }
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

/// Add over two or more tensors of one shape.
class AddOp final : public GraphOp {
public:
    explicit AddOp(std::string name) : name_(std::move(name)) {}
    std::unique_ptr<GraphOp> clone() const override { return std::make_unique<AddOp>(*this); }
    const std::string& name() const override { return name_; }
    std::size_t arity() const override { return 0; }
    ImageShape output_shape(const std::vector<ImageShape>& in) const override {
        for (const auto& s : in)
            if (s != in[0]) throw shape_error("layer " + name_ + ": inputs " + in[0].str() + " and " + s.str() + " differ");
        return in[0];
    }
    void forward(const std::vector<const Tensor*>& in, Tensor& out, Workspace&) const override {
        add(*in[0], *in[1], out);
        for (std::size_t i = 2; i < in.size(); ++i) add(out, *in[i], out);
    }

private:
    std::string name_;
};

/// The ops computing layer l (in order, each reading the previous; the first reads the layer's
/// inputs); empty for a layer that passes its input through. `activation` replaces the layer's
/// own (the model's final softmax is dropped this way).
inline std::vector<std::unique_ptr<GraphOp>> keras_layer_ops(const ModelSpec& spec, const LayerSpec& l,
                                                             const ModelWeights& weights,
                                                             const std::string& activation) {
    check_layer_supported(spec, l);
    std::vector<std::unique_ptr<GraphOp>> ops;
    const std::string& c = l.class_name;
    if (c != "Conv2D" && c != "Dense") check_no_weights(spec, l, weights);
    if (c == "InputLayer" || c == "Dropout") return ops;

    if (c == "Conv2D" || c == "Dense") {
        const auto it = weights.find(l.name);
        std::size_t cin = 0;  // from the kernel: the spec does not state the input channels
        if (it != weights.end())
            for (const auto& w : it->second)
                if (keras_weight_base_name(w.name) == "kernel" && w.dims.size() == (c == "Conv2D" ? 4u : 2u))
                    cin = w.dims[c == "Conv2D" ? 2 : 0];
        const std::vector<std::size_t> dims =
            c == "Conv2D" ? std::vector<std::size_t>{l.kernel_size[0], l.kernel_size[1], cin, l.units}
                          : std::vector<std::size_t>{cin, l.units};
        auto arrays = kernel_and_bias_arrays(spec, l, weights, dims);
        const bool fused = with_fused_activation(activation, [&](auto tag) {
            using A = typename decltype(tag)::type;
            if (c == "Conv2D") {
                Conv2D<A> layer(l.name);
                layer.set_weights(std::move(arrays));
                ops.push_back(std::make_unique<LayerOp<Conv2D<A>>>(std::move(layer), l.use_bias));
            } else {
                KerasDense<A> layer(l.name);
                layer.set_weights(std::move(arrays));
                ops.push_back(std::make_unique<LayerOp<KerasDense<A>>>(std::move(layer), l.use_bias));
            }
        });
        if (!fused) {
            if (c == "Dense" && activation == "softmax") {
                KerasDense<Softmax> layer(l.name);
                layer.set_weights(std::move(arrays));
                ops.push_back(std::make_unique<LayerOp<KerasDense<Softmax>>>(std::move(layer), l.use_bias));
            } else {
                if (c == "Conv2D") {
                    Conv2D<Linear> layer(l.name);
                    layer.set_weights(std::move(arrays));
                    ops.push_back(std::make_unique<LayerOp<Conv2D<Linear>>>(std::move(layer), l.use_bias));
                } else {
                    KerasDense<Linear> layer(l.name);
                    layer.set_weights(std::move(arrays));
                    ops.push_back(std::make_unique<LayerOp<KerasDense<Linear>>>(std::move(layer), l.use_bias));
                }
                ops.push_back(activation_op(spec, l, l.name + "/" + activation, activation));
            }
        }
        return ops;
    }
    if (c == "MaxPooling2D") {
        ops.push_back(std::make_unique<LayerOp<MaxPool2D>>(MaxPool2D(l.name, l.pool_size[0], l.strides[0])));
    } else if (c == "Flatten") {
        ops.push_back(std::make_unique<LayerOp<Flatten>>(Flatten(l.name)));
    } else if (c == "Activation") {
        if (activation != "linear") ops.push_back(activation_op(spec, l, l.name, activation));
    } else if (c == "ReLU") {
        ops.push_back(activation_op(spec, l, l.name, "relu"));
    } else if (c == "Softmax") {
        ops.push_back(activation_op(spec, l, l.name, "softmax"));
    } else if (c == "Add") {
        ops.push_back(std::make_unique<AddOp>(l.name));
    }
    return ops;
}

}  // namespace detail
}  // namespace prunedef
