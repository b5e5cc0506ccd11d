#pragma once
// detail::OnnxGraphBuilder: a network's Keras layers (a ModelSpec and its ModelWeights) written as
// ONNX nodes (opset 13) into an onnx::GraphProto built with ONNX's own generated protobuf classes
// (Debian libonnx-dev; part prunedef::onnx). io/onnx_export.hpp puts models together from it.
//
// Layout: the graph computes in NCHW (ONNX's convention) while prunedef and Keras compute in
// NHWC, so kernels are transposed ((kh, kw, cin, cout) -> (cout, cin, kh, kw)) and a Flatten of an
// image, which Keras takes in H, W, C order, is either folded into the rows of the Dense layers
// reading it (Gemm) or, when something else reads it, preceded by a Transpose to NHWC.
// 'same' padding becomes explicit pads (Keras' split: the extra row or column at the end; average
// pooling with count_include_pad = 0, TensorFlow's border counts). The model's final softmax is
// left out as in model/graph_network.hpp: the outputs are pre-softmax logits. Anything the graph
// builder refuses is refused here with the same message (layer name and class).

#include <prunedef/core/error.hpp>
#include <prunedef/core/shape.hpp>
#include <prunedef/layers/padding.hpp>
#include <prunedef/model/graph_network.hpp>
#include <prunedef/model/keras_layer_ops.hpp>
#include <prunedef/model/layer_spec.hpp>

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace prunedef {
namespace detail {

/// A tensor of the exported graph: its name and shape (an image: channels, height, width in
/// NCHW; a vector: c only). flatten_of: the vector is the NCHW flattening (C, H, W order) of an
/// image of that shape, not Keras' (H, W, C) order; only Dense layers may read it (they permute
/// their kernel rows).
struct OnnxValue {
    std::string name;
    bool image = true;
    std::size_t h = 0, w = 0, c = 0;
    std::optional<ImageShape> flatten_of;
};

/// The weight arrays of a layer by Keras name ("kernel", "bias", "gamma", ...), or null.
inline const WeightArray* onnx_find_weight(const ModelWeights& weights, const std::string& layer, const std::string& name) {
    const auto it = weights.find(layer);
    if (it == weights.end()) return nullptr;
    for (const WeightArray& w : it->second)
        if (keras_weight_base_name(w.name) == name) return &w;
    return nullptr;
}

/// Whether a layer's weights are bitwise the same in a and b (both absent counts as the same).
inline bool same_layer_weights(const ModelWeights& a, const ModelWeights& b, const std::string& layer) {
    const auto ia = a.find(layer), ib = b.find(layer);
    const bool ha = ia != a.end() && !ia->second.empty(), hb = ib != b.end() && !ib->second.empty();
    if (!ha || !hb) return ha == hb;
    if (ia->second.size() != ib->second.size()) return false;
    for (std::size_t i = 0; i < ia->second.size(); ++i) {
        const WeightArray &x = ia->second[i], &y = ib->second[i];
        if (keras_weight_base_name(x.name) != keras_weight_base_name(y.name) || x.dims != y.dims ||
            x.values.size() != y.values.size() ||
            std::memcmp(x.values.data(), y.values.data(), x.values.size() * sizeof(float)) != 0)
            return false;
    }
    return true;
}

class OnnxGraphBuilder {
public:
    explicit OnnxGraphBuilder(onnx::GraphProto& graph) : g_(graph) {}

    onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& in, const std::string& out,
                          const std::string& name) {
        onnx::NodeProto& n = *g_.add_node();
        n.set_op_type(op);
        n.set_name(name);
        for (const auto& i : in) n.add_input(i);
        n.add_output(out);
        return n;
    }
    static void attr(onnx::NodeProto& n, const std::string& name, std::int64_t v) {
        onnx::AttributeProto& a = *n.add_attribute();
        a.set_name(name);
        a.set_type(onnx::AttributeProto::INT);
        a.set_i(v);
    }
    static void attr(onnx::NodeProto& n, const std::string& name, float v) {
        onnx::AttributeProto& a = *n.add_attribute();
        a.set_name(name);
        a.set_type(onnx::AttributeProto::FLOAT);
        a.set_f(v);
    }
    static void attr(onnx::NodeProto& n, const std::string& name, const std::vector<std::int64_t>& v) {
        onnx::AttributeProto& a = *n.add_attribute();
        a.set_name(name);
        a.set_type(onnx::AttributeProto::INTS);
        for (auto x : v) a.add_ints(x);
    }
    /// A float32 initializer (values in row-major order of dims).
    const std::string& constant(const std::string& name, const std::vector<std::int64_t>& dims, const std::vector<float>& values) {
        onnx::TensorProto& t = *g_.add_initializer();
        t.set_name(name);
        t.set_data_type(onnx::TensorProto::FLOAT);
        for (auto d : dims) t.add_dims(d);
        t.mutable_float_data()->Reserve(static_cast<int>(values.size()));
        for (float v : values) t.add_float_data(v);
        return t.name();
    }
    const std::string& constant_int64(const std::string& name, const std::vector<std::int64_t>& dims,
                                      const std::vector<std::int64_t>& values) {
        onnx::TensorProto& t = *g_.add_initializer();
        t.set_name(name);
        t.set_data_type(onnx::TensorProto::INT64);
        for (auto d : dims) t.add_dims(d);
        for (auto v : values) t.add_int64_data(v);
        return t.name();
    }

    /// Writes every live layer of spec except the input. `values` holds the input layer's value
    /// (and, for B' of a GoodNet, the values of the layers it shares with B); prefix names the
    /// nodes and tensors. Returns the logits' value (the model's output without a final softmax).
    OnnxValue add_network(const ModelSpec& spec, const ModelWeights& weights, std::map<std::string, OnnxValue>& values,
                          const std::string& prefix) {
        const SpecGraph g = spec_graph(spec);
        check_weights_match(g, weights);
        for (std::size_t i = 1; i < spec.layers.size(); ++i) {
            if (!g.live[i]) {
                check_layer_supported(spec, spec.layers[i]);
                continue;
            }
            const LayerSpec& l = spec.layers[i];
            if (values.count(l.name)) continue;  // shared with the network written before
            std::vector<OnnxValue> in;
            for (auto j : g.inputs[i]) in.push_back(values.at(g.layer(j).name));
            values[l.name] = add_layer(g, i, weights, in, prefix);
        }
        OnnxValue out = values.at(g.layer(g.output).name);
        if (out.image) throw argument_error(g.where() + ": the output " + g.layer(g.output).name + " is an image, not a vector of logits");
        if (out.flatten_of) out = to_keras_order(out, prefix + g.layer(g.output).name + "/nhwc");
        return out;
    }

private:
    using i64 = std::int64_t;

    /// Output size and pads (top, left, bottom, right) of a window over an image.
    static std::array<std::size_t, 4> window(const SpecGraph& g, const LayerSpec& l, const OnnxValue& x,
                                             std::array<std::size_t, 2> k, std::size_t& oh, std::size_t& ow) {
        if (l.padding == "same") {
            oh = (x.h + l.strides[0] - 1) / l.strides[0];
            ow = (x.w + l.strides[1] - 1) / l.strides[1];
            const auto p = same_padding(ImageShape{x.h, x.w, 1}, k, l.strides);  // top, bottom, left, right
            return {p[0], p[2], p[1], p[3]};
        }
        if (x.h < k[0] || x.w < k[1])
            throw shape_error(spec_where(*g.spec, l) + ": window " + std::to_string(k[0]) + "x" + std::to_string(k[1]) +
                              " larger than its " + std::to_string(x.h) + "x" + std::to_string(x.w) + " input");
        oh = (x.h - k[0]) / l.strides[0] + 1;
        ow = (x.w - k[1]) / l.strides[1] + 1;
        return {0, 0, 0, 0};
    }
    static std::vector<i64> ints(const std::array<std::size_t, 4>& p) { return {i64(p[0]), i64(p[1]), i64(p[2]), i64(p[3])}; }
    static std::vector<i64> ints(const std::array<std::size_t, 2>& p) { return {i64(p[0]), i64(p[1])}; }

    OnnxValue to_keras_order(const OnnxValue& v, const std::string& name) {
        const ImageShape s = *v.flatten_of;
        // v is Flatten(x) of an NCHW x; rebuild it as (N, C, H, W), transpose to NHWC, flatten
        const std::string shape = constant_int64(name + "/shape", {4}, {0, i64(s.channels), i64(s.height), i64(s.width)});
        node("Reshape", {v.name, shape}, name + "/nchw", name + "/reshape");
        attr(node("Transpose", {name + "/nchw"}, name + "/t", name + "/transpose"), "perm", std::vector<i64>{0, 2, 3, 1});
        attr(node("Flatten", {name + "/t"}, name, name + "/flatten"), "axis", i64(1));
        OnnxValue out = v;
        out.name = name;
        out.flatten_of.reset();
        return out;
    }

    /// The activation as a node after `x` (none for linear).
    OnnxValue activation(const LayerSpec& l, const std::string& a, float alpha, OnnxValue x, const std::string& name) {
        if (a == "linear") return x;
        const std::string out = name;
        if (a == "relu") node("Relu", {x.name}, out, name);
        else if (a == "sigmoid") node("Sigmoid", {x.name}, out, name);
        else if (a == "tanh") node("Tanh", {x.name}, out, name);
        else if (a == "elu") attr(node("Elu", {x.name}, out, name), "alpha", 1.0f);
        else if (a == "leaky_relu") attr(node("LeakyRelu", {x.name}, out, name), "alpha", alpha);
        else if (a == "softmax") {
            if (x.flatten_of) x = to_keras_order(x, name + "/nhwc");
            attr(node("Softmax", {x.name}, out, name), "axis", i64(1));  // the channels (Keras: the last axis)
        } else
            throw argument_error("layer " + l.name + " (" + l.class_name + "): activation " + a + " cannot be exported");
        x.name = out;
        return x;
    }

    OnnxValue add_layer(const SpecGraph& g, std::size_t i, const ModelWeights& weights, std::vector<OnnxValue> in,
                        const std::string& prefix) {
        const LayerSpec& l = g.layer(i);
        const std::string& c = l.class_name;
        const std::string name = prefix + l.name;
        const auto need_image = [&](const OnnxValue& v) {
            if (!v.image) throw argument_error(spec_where(*g.spec, l) + ": reads a vector, expected an image");
        };
        // elementwise and multi-input layers read Keras' order
        if (c != "Dense" && c != "Flatten")
            for (auto& v : in)
                if (v.flatten_of) v = to_keras_order(v, prefix + l.name + "/nhwc_" + v.name);
        OnnxValue x = in.at(0);
        if (c == "Dropout") return x;
        if (c == "Conv2D") {
            need_image(x);
            const auto k = l.kernel_size;
            std::size_t oh = 0, ow = 0;
            const auto pads = window(g, l, x, k, oh, ow);
            const WeightArray* kernel = onnx_find_weight(weights, l.name, "kernel");
            const std::vector<std::size_t> want{k[0], k[1], x.c, l.units};
            if (!kernel || kernel->dims != want)
                throw format_error(spec_where(*g.spec, l) + ": kernel missing or not of shape " + dims_str(want));
            std::vector<float> w(kernel->values.size());  // (kh, kw, cin, cout) -> (cout, cin, kh, kw)
            for (std::size_t a = 0; a < k[0]; ++a)
                for (std::size_t b = 0; b < k[1]; ++b)
                    for (std::size_t ci = 0; ci < x.c; ++ci)
                        for (std::size_t co = 0; co < l.units; ++co)
                            w[((co * x.c + ci) * k[0] + a) * k[1] + b] = kernel->values[((a * k[1] + b) * x.c + ci) * l.units + co];
            std::vector<std::string> inputs{x.name, constant(name + "/kernel", {i64(l.units), i64(x.c), i64(k[0]), i64(k[1])}, w)};
            if (l.use_bias) inputs.push_back(bias(g, l, weights, name));
            const std::string conv = g.activation_of(i) == "linear" ? name : name + "/conv";
            onnx::NodeProto& n = node("Conv", inputs, conv, name + "/conv");
            attr(n, "kernel_shape", ints(k));
            attr(n, "strides", ints(l.strides));
            attr(n, "pads", ints(pads));
            OnnxValue y{conv, true, oh, ow, l.units, std::nullopt};
            return activation(l, g.activation_of(i), 0, y, name);
        }
        if (c == "Dense") {
            if (x.image)
                throw argument_error(spec_where(*g.spec, l) + ": Dense on an image (Keras applies it at every position) "
                                     "cannot be exported: only after Flatten or global pooling");
            const WeightArray* kernel = onnx_find_weight(weights, l.name, "kernel");
            const std::vector<std::size_t> want{x.c, l.units};
            if (!kernel || kernel->dims != want)
                throw format_error(spec_where(*g.spec, l) + ": kernel missing or not of shape " + dims_str(want));
            std::vector<float> w = kernel->values;
            if (x.flatten_of) {  // rows in Keras' (h, w, c) order -> the graph's (c, h, w) order
                const ImageShape s = *x.flatten_of;
                for (std::size_t h = 0; h < s.height; ++h)
                    for (std::size_t ww = 0; ww < s.width; ++ww)
                        for (std::size_t ch = 0; ch < s.channels; ++ch) {
                            const std::size_t keras = (h * s.width + ww) * s.channels + ch;
                            const std::size_t onnx_row = (ch * s.height + h) * s.width + ww;
                            std::copy_n(kernel->values.begin() + keras * l.units, l.units, w.begin() + onnx_row * l.units);
                        }
            }
            std::vector<std::string> inputs{x.name, constant(name + "/kernel", {i64(x.c), i64(l.units)}, w)};
            if (l.use_bias) inputs.push_back(bias(g, l, weights, name));
            const std::string gemm = g.activation_of(i) == "linear" ? name : name + "/gemm";
            node("Gemm", inputs, gemm, name + "/gemm");
            OnnxValue y{gemm, false, 1, 1, l.units, std::nullopt};
            return activation(l, g.activation_of(i), 0, y, name);
        }
        if (c == "MaxPooling2D" || c == "AveragePooling2D") {
            need_image(x);
            std::size_t oh = 0, ow = 0;
            const auto pads = window(g, l, x, l.pool_size, oh, ow);
            onnx::NodeProto& n = node(c == "MaxPooling2D" ? "MaxPool" : "AveragePool", {x.name}, name, name);
            attr(n, "kernel_shape", ints(l.pool_size));
            attr(n, "strides", ints(l.strides));
            attr(n, "pads", ints(pads));
            if (c == "AveragePooling2D") attr(n, "count_include_pad", i64(0));
            return OnnxValue{name, true, oh, ow, x.c, std::nullopt};
        }
        if (c == "GlobalMaxPooling2D" || c == "GlobalAveragePooling2D") {
            need_image(x);
            node(c == "GlobalMaxPooling2D" ? "GlobalMaxPool" : "GlobalAveragePool", {x.name}, name + "/pool", name);
            attr(node("Flatten", {name + "/pool"}, name, name + "/flatten"), "axis", i64(1));
            return OnnxValue{name, false, 1, 1, x.c, std::nullopt};
        }
        if (c == "ZeroPadding2D") {
            need_image(x);
            const auto& z = l.zero_padding;  // top, bottom, left, right
            const std::string pads = constant_int64(name + "/pads", {8}, {0, 0, i64(z[0]), i64(z[2]), 0, 0, i64(z[1]), i64(z[3])});
            node("Pad", {x.name, pads}, name, name);
            return OnnxValue{name, true, x.h + z[0] + z[1], x.w + z[2] + z[3], x.c, std::nullopt};
        }
        if (c == "Flatten") {
            if (!x.image) return x;
            OnnxValue y{name, false, 1, 1, x.h * x.w * x.c, std::nullopt};
            bool dense_only = true;
            for (auto r : g.readers[i])
                if (g.live[r] && g.layer(r).class_name != "Dense") dense_only = false;
            if (x.h * x.w > 1 && !dense_only) {  // Keras' order: transpose to NHWC first
                attr(node("Transpose", {x.name}, name + "/nhwc", name + "/transpose"), "perm", std::vector<i64>{0, 2, 3, 1});
                attr(node("Flatten", {name + "/nhwc"}, name, name), "axis", i64(1));
                return y;
            }
            attr(node("Flatten", {x.name}, name, name), "axis", i64(1));
            if (x.h * x.w > 1) y.flatten_of = ImageShape{x.h, x.w, x.c};
            return y;
        }
        if (c == "BatchNormalization") {
            const std::size_t ch = x.c;
            std::vector<float> gamma(ch, 1.0f), beta(ch, 0.0f);
            const auto get = [&](const std::string& n, std::vector<float>& dst) {
                const WeightArray* a = onnx_find_weight(weights, l.name, n);
                if (!a || a->values.size() != ch)
                    throw format_error(spec_where(*g.spec, l) + ": weight " + n + " missing or not of " + std::to_string(ch) + " values");
                dst = a->values;
            };
            std::vector<float> mean, var;
            if (l.scale) get("gamma", gamma);
            if (l.center) get("beta", beta);
            get("moving_mean", mean);
            get("moving_variance", var);
            const i64 n = i64(ch);
            onnx::NodeProto& node_bn = node("BatchNormalization",
                                            {x.name, constant(name + "/scale", {n}, gamma), constant(name + "/bias", {n}, beta),
                                             constant(name + "/mean", {n}, mean), constant(name + "/var", {n}, var)},
                                            name, name);
            attr(node_bn, "epsilon", l.epsilon);
            x.name = name;
            return x;
        }
        if (c == "Activation") return activation(l, g.activation_of(i), 0, x, name);
        if (c == "ReLU") return activation(l, "relu", 0, x, name);
        if (c == "Softmax") return activation(l, "softmax", 0, x, name);
        if (c == "LeakyReLU") return activation(l, "leaky_relu", l.alpha, x, name);
        if (c == "Add" || c == "Concatenate") {
            std::vector<std::string> names;
            std::size_t channels = 0;
            for (const auto& v : in) {
                if (v.image != x.image || v.h != x.h || v.w != x.w || (c == "Add" && v.c != x.c))
                    throw shape_error(spec_where(*g.spec, l) + ": inputs of different shapes");
                names.push_back(v.name);
                channels += v.c;
            }
            if (c == "Add") {
                // ONNX Add takes two inputs; more are summed left to right, as prunedef does
                std::string acc = names[0];
                for (std::size_t k = 1; k < names.size(); ++k) {
                    const std::string out = k + 1 == names.size() ? name : name + "/" + std::to_string(k);
                    node("Add", {acc, names[k]}, out, out);
                    acc = out;
                }
                x.name = name;
                return x;
            }
            attr(node("Concat", names, name, name), "axis", i64(1));  // the channels
            x.name = name;
            x.c = channels;
            return x;
        }
        throw argument_error(spec_where(*g.spec, l) + ": class " + c + " cannot be exported to ONNX");
    }

    std::string bias(const SpecGraph& g, const LayerSpec& l, const ModelWeights& weights, const std::string& name) {
        const WeightArray* b = onnx_find_weight(weights, l.name, "bias");
        if (!b || b->values.size() != l.units)
            throw format_error(spec_where(*g.spec, l) + ": bias missing or not of " + std::to_string(l.units) + " values");
        return constant(name + "/bias", {std::int64_t(l.units)}, b->values);
    }

    onnx::GraphProto& g_;
};

}  // namespace detail
}  // namespace prunedef
