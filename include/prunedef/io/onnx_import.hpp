#pragma once
// ONNX models in: a CNN graph as torch.onnx.export writes it, read with ONNX's generated protobuf
// classes (Debian libonnx-dev; part prunedef::onnx), turned into the ModelSpec and ModelWeights the
// Keras readers produce (model/layer_spec.hpp), so that build_graph_network() and the whole
// defense run it unchanged.
//
//   OnnxModelFile f = read_onnx_model("bd_net.onnx");
//   GraphNetwork net = build_graph_network(f.spec, f.weights);   // default pruned layer: the last Conv
//
// The graph computes in NCHW, prunedef in NHWC: Conv kernels go from (O, I, kh, kw) to Keras'
// (kh, kw, I, O); Gemm / MatMul weights to Keras' (in, out); a Flatten of an image, which ONNX
// takes in C, H, W order and prunedef in H, W, C order, is folded into the rows of the Dense
// layer reading it (exactly: a permutation). Elementwise ops may lie between them.
//
// Ops: Conv (pads, strides, group 1, dilation 1), Pad (zeros, rows and columns), BatchNormalization
// (inference), Relu, Sigmoid,
// Tanh, LeakyRelu (fused into the Conv / Gemm before them when they are its only reader, as in a
// Keras Conv2D(activation=...)), MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, Add,
// Concat (channel axis), Flatten / Reshape to (N, features), Gemm, MatMul (+ Add of a bias),
// Dropout, Identity, Constant, Softmax as the last op (dropped like Keras' final softmax), and a
// Mul of the input by one number at the start (the input scale, as prunedef's export writes it).
// Pads: explicit pads equal to Keras' 'same' split become padding 'same'; other pads become a
// ZeroPadding2D before a 'valid' convolution (or average pooling counting the pads; a max pooling
// of a ReLU's output, whose values are never below the zeros). Anything else is refused with the
// node's op type and name; initializers of the wrong shape with the expected and found shapes.

#include <prunedef/core/error.hpp>
#include <prunedef/core/shape.hpp>
#include <prunedef/io/input_file.hpp>
#include <prunedef/layers/padding.hpp>
#include <prunedef/model/layer_spec.hpp>

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace prunedef {

/// An ONNX model read as prunedef's run-time architecture.
struct OnnxModelFile {
    std::string path;
    ModelSpec spec;          ///< Keras-style layers (layers[0] the InputLayer, with the input shape)
    ModelWeights weights;    ///< by layer name, Keras' array names and layouts
    ImageShape input_shape;  ///< (height, width, channels) of the graph's (N, C, H, W) input
    /// The input scale: the number a Mul at the graph's start multiplies the input by; 1 for a file
    /// of prunedef's export without one (its metadata states the scale); else not stated.
    std::optional<float> input_scale;
    /// One line per adaptation made (a ZeroPadding2D added, a Flatten folded, ...), for reports.
    std::vector<std::string> notes;
};

namespace detail {

inline constexpr std::size_t max_onnx_bytes = std::size_t(1) << 31;

/// The model's ONNX opset (domain "" or "ai.onnx"); refuses other domains' nodes later.
inline std::int64_t onnx_opset_of(const onnx::ModelProto& m) {
    for (const auto& o : m.opset_import())
        if (o.domain().empty() || o.domain() == "ai.onnx") return o.version();
    return 0;
}

class OnnxImporter {
public:
    OnnxImporter(const onnx::ModelProto& m, std::string source) : m_(m), g_(m.graph()), src_(std::move(source)) {}

    OnnxModelFile run() {
        OnnxModelFile out;
        const std::int64_t opset = onnx_opset_of(m_);
        if (opset < 9 || opset > 23)
            throw format_error(src_ + ": ONNX opset " + std::to_string(opset) + " is not supported (9 to 23)");
        spec_.source = src_;
        for (const auto& t : g_.initializer()) consts_[t.name()] = &t;
        for (const auto& n : g_.node())
            for (const auto& i : n.input()) ++readers_[i];
        for (const auto& o : g_.output()) ++readers_[o.name()];
        add_input();
        for (const auto& n : g_.node()) add_node(n);
        if (g_.output_size() != 1)
            throw format_error(src_ + ": the graph has " + std::to_string(g_.output_size()) +
                               " outputs; prunedef reads models with one output (the logits)");
        const Value& y = value(g_.output(0).name(), "the graph's output");
        if (y.image && y.h * y.w != 1)
            throw format_error(src_ + ": the output " + g_.output(0).name() + " is an image (" + shape_text(y) +
                               "), not a vector of logits");
        if (y.chw_of)
            throw format_error(src_ + ": the output " + g_.output(0).name() + " is a flattened image in ONNX's C, H, W "
                               "order that no Gemm reads; prunedef cannot give it in that order");
        spec_.output = y.layer;
        out.spec = std::move(spec_);
        out.weights = std::move(weights_);
        out.input_shape = input_shape_;
        out.input_scale = scale_;
        if (!scale_)
            for (const auto& p : m_.metadata_props())
                if (p.key() == "prunedef.input_scale") out.input_scale = 1.0f;  // prunedef's export without a Mul
        out.notes = std::move(notes_);
        return out;
    }

private:
    using i64 = std::int64_t;

    /// A tensor of the graph: the layer computing it and its shape. A vector (image false) of c
    /// values; chw_of: the vector is the C, H, W flattening of an image of that shape (prunedef
    /// holds it in H, W, C order); nonneg: no value is below zero (a ReLU's output).
    struct Value {
        std::string layer;
        bool image = true;
        std::size_t h = 1, w = 1, c = 0;
        std::optional<ImageShape> chw_of;
        bool nonneg = false;
    };

    const onnx::ModelProto& m_;
    const onnx::GraphProto& g_;
    std::string src_;
    ModelSpec spec_;
    ModelWeights weights_;
    ImageShape input_shape_;
    std::optional<float> scale_;
    std::vector<std::string> notes_;
    std::map<std::string, Value> values_;
    std::map<std::string, const onnx::TensorProto*> consts_;
    std::map<std::string, onnx::TensorProto> node_consts_;
    std::map<std::string, int> readers_;
    std::set<std::string> names_;
    std::set<std::string> bias_adds_;  // Add nodes folded into the MatMul before them (by output name)

    static std::string shape_text(const Value& v) {
        if (!v.image) return "a vector of " + std::to_string(v.c);
        return std::to_string(v.c) + "x" + std::to_string(v.h) + "x" + std::to_string(v.w) + " (C, H, W)";
    }
    static std::string dims_text(const std::vector<i64>& d) {
        std::string s = "(";
        for (std::size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
        return s + (d.size() == 1 ? ",)" : ")");
    }
    std::string where(const onnx::NodeProto& n) const {
        return src_ + ": node " + (n.name().empty() ? std::string("(unnamed)") : n.name()) + " (" + n.op_type() + ")";
    }

    // ---- names ----------------------------------------------------------------------------
    static std::string sanitize(const std::string& s) {
        std::string o;
        for (char ch : s) o += std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.' || ch == '-' ? ch : '_';
        const auto b = o.find_first_not_of("_.-");
        if (b == std::string::npos) return "";
        o = o.substr(b);
        while (!o.empty() && (o.back() == '_' || o.back() == '.')) o.pop_back();
        return o;
    }
    std::string unique(std::string base) {
        if (base.empty()) base = "layer";
        std::string name = base;
        for (int k = 2; names_.count(name); ++k) name = base + "_" + std::to_string(k);
        names_.insert(name);
        return name;
    }
    /// A layer's name: the weight initializer's module path ("layer1.0.conv1" of
    /// "layer1.0.conv1.weight"; "conv_1" of prunedef's export's "b/conv_1/kernel"), else the
    /// node's name, else its op type; made of letters, digits, '_', '.' and '-', unique.
    std::string layer_name(const onnx::NodeProto& n, const std::string& weight = "") {
        const bool ours = m_.producer_name() == "prunedef";
        const auto strip = [&](std::string s) {
            if (ours && s.rfind("b/", 0) == 0) s = s.substr(2);
            return s;
        };
        const auto ends = [](const std::string& s, const std::string& tail) {
            return s.size() > tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
        };
        std::string base;
        for (const char* tail : {".weight", "/kernel", "/scale"})
            if (base.empty() && ends(weight, tail)) base = sanitize(strip(weight.substr(0, weight.size() - std::strlen(tail))));
        if (base.empty()) {  // torch's "/layer1/conv1/Conv": the module path
            std::string name = strip(n.name());
            if (ends(name, "/" + n.op_type())) name = name.substr(0, name.size() - n.op_type().size() - 1);
            base = sanitize(name);
        }
        if (base.empty()) base = n.op_type();
        return unique(base);
    }

    // ---- attributes and constants -------------------------------------------------------------
    static const onnx::AttributeProto* attr(const onnx::NodeProto& n, const std::string& name) {
        for (const auto& a : n.attribute())
            if (a.name() == name) return &a;
        return nullptr;
    }
    /// An integer attribute; refused beyond +-max_extent (no layer prunedef runs needs more).
    i64 int_attr(const onnx::NodeProto& n, const std::string& name, i64 fallback) const {
        const auto* a = attr(n, name);
        if (!a) return fallback;
        check_extent(n, name, a->i());
        return a->i();
    }
    /// A float attribute; refused when not finite.
    float float_attr(const onnx::NodeProto& n, const std::string& name, float fallback) const {
        const auto* a = attr(n, name);
        if (!a) return fallback;
        if (!std::isfinite(a->f()))
            throw format_error(where(n) + ": attribute " + name + " is " + std::to_string(a->f()) + ", expected a finite number");
        return a->f();
    }
    std::vector<i64> ints_attr(const onnx::NodeProto& n, const std::string& name, std::vector<i64> fallback) const {
        const auto* a = attr(n, name);
        if (!a) return fallback;
        for (const i64 x : a->ints()) check_extent(n, name, x);
        return {a->ints().begin(), a->ints().end()};
    }
    void check_extent(const onnx::NodeProto& n, const std::string& name, i64 x) const {
        if (x < -max_extent || x > max_extent)
            throw format_error(where(n) + ": attribute " + name + " holds " + std::to_string(x) + ", beyond +-" +
                               std::to_string(max_extent));
    }
    static std::string string_attr(const onnx::NodeProto& n, const std::string& name, const std::string& fallback) {
        const auto* a = attr(n, name);
        return a ? a->s() : fallback;
    }

    const onnx::TensorProto* constant(const std::string& name) const {
        const auto it = consts_.find(name);
        return it == consts_.end() ? nullptr : it->second;
    }
    static std::vector<i64> tensor_dims(const onnx::TensorProto& t) { return {t.dims().begin(), t.dims().end()}; }
    /// Largest tensor (elements) and largest dimension, attribute value (pads, strides, kernel
    /// sizes) or input size accepted: a hostile file's sizes are refused before anything is
    /// allocated or indexed with them.
    static constexpr i64 max_elements = i64(1) << 31;
    static constexpr i64 max_extent = i64(1) << 24;
    std::size_t count(const std::vector<i64>& d, const onnx::NodeProto& n) const {
        i64 total = 1;
        for (const i64 x : d) {
            if (x < 0 || x > max_extent || (x > 0 && total > max_elements / x))
                throw format_error(where(n) + ": a tensor of shape " + dims_text(d) + " is beyond what prunedef reads (" +
                                   std::to_string(max_extent) + " per dimension, " + std::to_string(max_elements) +
                                   " elements)");
            total *= x;
        }
        return std::size_t(total);
    }
    std::vector<float> floats(const onnx::TensorProto& t, const onnx::NodeProto& n) const {
        if (t.data_type() != onnx::TensorProto::FLOAT)
            throw format_error(where(n) + ": initializer " + t.name() + " is of ONNX data type " + std::to_string(t.data_type()) +
                               ", expected float32 (1)");
        if (t.data_location() == onnx::TensorProto::EXTERNAL)
            throw format_error(where(n) + ": initializer " + t.name() + " is stored in an external file; save the model "
                               "with its weights inside (onnx.save(..., save_as_external_data=False))");
        const std::size_t want = count(tensor_dims(t), n);
        std::vector<float> v;
        if (t.has_raw_data()) {
            if (t.raw_data().size() != want * 4)
                throw format_error(where(n) + ": initializer " + t.name() + " holds " + std::to_string(t.raw_data().size()) +
                                   " bytes, expected " + std::to_string(want * 4) + " for shape " + dims_text(tensor_dims(t)));
            v.resize(want);
            std::memcpy(v.data(), t.raw_data().data(), want * 4);  // little-endian, as ONNX stores it
        } else {
            v.assign(t.float_data().begin(), t.float_data().end());
            if (v.size() != want)
                throw format_error(where(n) + ": initializer " + t.name() + " holds " + std::to_string(v.size()) +
                                   " values, expected " + std::to_string(want) + " for shape " + dims_text(tensor_dims(t)));
        }
        for (float x : v)
            if (!std::isfinite(x)) throw format_error(where(n) + ": initializer " + t.name() + " holds a NaN or infinity");
        return v;
    }
    std::vector<i64> int64s(const onnx::TensorProto& t, const onnx::NodeProto& n) const {
        if (t.data_type() != onnx::TensorProto::INT64)
            throw format_error(where(n) + ": constant " + t.name() + " is not int64");
        const std::size_t want = count(tensor_dims(t), n);
        std::vector<i64> v;
        if (t.has_raw_data()) {
            if (t.raw_data().size() != want * 8) throw format_error(where(n) + ": constant " + t.name() + " has the wrong size");
            v.resize(want);
            std::memcpy(v.data(), t.raw_data().data(), want * 8);
        } else {
            v.assign(t.int64_data().begin(), t.int64_data().end());
            if (v.size() != want) throw format_error(where(n) + ": constant " + t.name() + " has the wrong size");
        }
        return v;
    }
    /// A float initializer input of node n of the given shape (expected vs found named).
    std::vector<float> weight(const onnx::NodeProto& n, int input, const std::vector<i64>& want, const std::string& what) {
        if (n.input_size() <= input || n.input(input).empty())
            throw format_error(where(n) + ": the " + what + " (input " + std::to_string(input) + ") is missing");
        const onnx::TensorProto* t = constant(n.input(input));
        if (!t)
            throw format_error(where(n) + ": the " + what + " " + n.input(input) +
                               " is computed in the graph, not an initializer; prunedef reads constant weights only");
        std::vector<i64> d = tensor_dims(*t);
        if (d != want)
            throw shape_error(where(n) + ": initializer " + t->name() + " (" + what + ") has shape " + dims_text(d) +
                              ", expected " + dims_text(want));
        return floats(*t, n);
    }

    // ---- values -------------------------------------------------------------------------------
    const Value& value(const std::string& name, const std::string& what) const {
        const auto it = values_.find(name);
        if (it == values_.end()) {
            if (constant(name))
                throw format_error(src_ + ": " + what + " reads the constant " + name +
                                   " as data; only weights of Conv, Gemm, MatMul, BatchNormalization and Add (a bias) may be constants");
            throw format_error(src_ + ": " + what + " reads " + name + ", which no node before it computes (graph not in "
                               "topological order, or a second graph input)");
        }
        return it->second;
    }
    const Value& in(const onnx::NodeProto& n, int k = 0) const {
        if (n.input_size() <= k || n.input(k).empty()) throw format_error(where(n) + ": input " + std::to_string(k) + " missing");
        return value(n.input(k), "node " + n.name() + " (" + n.op_type() + ")");
    }
    void set(const onnx::NodeProto& n, const Value& v) {
        if (n.output_size() < 1 || n.output(0).empty()) throw format_error(where(n) + ": no output");
        values_[n.output(0)] = v;
    }
    /// Refuses outputs beyond the first when anything reads them.
    void only_first_output(const onnx::NodeProto& n) const {
        for (int k = 1; k < n.output_size(); ++k)
            if (!n.output(k).empty() && readers_.count(n.output(k)))
                throw format_error(where(n) + ": its output " + std::to_string(k) + " (" + n.output(k) +
                                   ") is used; prunedef computes only the first (inference)");
    }
    LayerSpec& add_layer(const std::string& name, const std::string& cls, std::vector<std::string> inputs) {
        LayerSpec l;
        l.name = name;
        l.class_name = cls;
        l.inputs = std::move(inputs);
        spec_.layers.push_back(std::move(l));
        return spec_.layers.back();
    }
    LayerSpec* layer_of(const std::string& name) {
        for (auto& l : spec_.layers)
            if (l.name == name) return &l;
        return nullptr;
    }
    void need_image(const onnx::NodeProto& n, const Value& v) const {
        if (!v.image) throw format_error(where(n) + ": reads " + shape_text(v) + ", expected an image (N, C, H, W)");
    }
    void need_keras_order(const onnx::NodeProto& n, const Value& v) const {
        if (v.chw_of)
            throw format_error(where(n) + ": reads a flattened image in ONNX's C, H, W order; prunedef holds it in H, W, C "
                               "order and folds the difference only into the Gemm / MatMul reading it");
    }

    // ---- the graph ----------------------------------------------------------------------------
    void add_input() {
        std::vector<const onnx::ValueInfoProto*> inputs;
        for (const auto& i : g_.input())
            if (!consts_.count(i.name())) inputs.push_back(&i);
        if (inputs.size() != 1)
            throw format_error(src_ + ": the graph has " + std::to_string(inputs.size()) +
                               " inputs besides its initializers; prunedef reads models with one image input");
        const onnx::ValueInfoProto& x = *inputs[0];
        const auto& t = x.type().tensor_type();
        std::vector<i64> dims;
        bool known = x.type().has_tensor_type() && t.has_shape() && t.shape().dim_size() == 4;
        if (known)
            for (int k = 1; k < 4; ++k) {
                known = known && t.shape().dim(k).has_dim_value() && t.shape().dim(k).dim_value() > 0 &&
                        t.shape().dim(k).dim_value() <= max_extent;
                dims.push_back(known ? t.shape().dim(k).dim_value() : 0);
            }
        if (!known)
            throw format_error(src_ + ": input " + x.name() + " is not a float tensor (N, C, H, W) with known C, H and W (each at most " +
                               std::to_string(max_extent) + ")");
        if (t.elem_type() != onnx::TensorProto::FLOAT)
            throw format_error(src_ + ": input " + x.name() + " is of ONNX element type " + std::to_string(t.elem_type()) +
                               ", expected float32 (1)");
        input_shape_ = ImageShape{std::size_t(dims[1]), std::size_t(dims[2]), std::size_t(dims[0])};
        const std::string name = unique(sanitize(x.name()).empty() ? "input" : sanitize(x.name()));
        LayerSpec& l = add_layer(name, "InputLayer", {});
        l.input_shape = input_shape_;
        spec_.input = name;
        values_[x.name()] = Value{name, true, input_shape_.height, input_shape_.width, input_shape_.channels, std::nullopt, false};
        input_name_ = x.name();
    }
    std::string input_name_;

    /// TensorFlow's 'same' pads of a window over x (layers/padding.hpp), in ONNX's order: top,
    /// left, bottom, right.
    static std::array<std::size_t, 4> same_pads(const Value& x, std::array<std::size_t, 2> k, std::array<std::size_t, 2> s) {
        const auto p = same_padding(ImageShape{x.h, x.w, 1}, k, s);  // top, bottom, left, right
        return {p[0], p[2], p[1], p[3]};
    }

    struct Window {
        std::array<std::size_t, 2> k{}, s{1, 1};
        std::array<std::size_t, 4> pads{};  // top, left, bottom, right (ONNX's begin, begin, end, end)
        std::string padding = "valid";      // valid, same or "explicit" (pads left as they are)
    };
    /// Kernel, strides and pads of a Conv or pooling node over image x, with Keras' padding when it
    /// matches the pads.
    Window window(const onnx::NodeProto& n, const Value& x, std::array<std::size_t, 2> k) const {
        Window w;
        w.k = k;
        const auto positive2 = [&](const std::string& what, std::vector<i64> v) {
            if (v.size() != 2 || v[0] < 1 || v[1] < 1) throw format_error(where(n) + ": " + what + " " + dims_text(v) + " is not two positive numbers");
            return std::array<std::size_t, 2>{std::size_t(v[0]), std::size_t(v[1])};
        };
        w.s = positive2("strides", ints_attr(n, "strides", {1, 1}));
        const auto dil = ints_attr(n, "dilations", {1, 1});
        if (dil != std::vector<i64>{1, 1}) throw format_error(where(n) + ": dilations " + dims_text(dil) + " are not supported (only 1)");
        const std::string auto_pad = string_attr(n, "auto_pad", "NOTSET");
        if (auto_pad == "SAME_UPPER") {
            w.padding = "same";  // TensorFlow's split: the extra row or column at the end
            w.pads = same_pads(x, k, w.s);
            return w;
        }
        if (auto_pad != "NOTSET" && auto_pad != "VALID")
            throw format_error(where(n) + ": auto_pad " + auto_pad + " is not supported (NOTSET, VALID, SAME_UPPER)");
        const auto p = auto_pad == "VALID" ? std::vector<i64>{0, 0, 0, 0} : ints_attr(n, "pads", {0, 0, 0, 0});
        if (p.size() != 4 || std::any_of(p.begin(), p.end(), [](i64 v) { return v < 0; }))
            throw format_error(where(n) + ": pads " + dims_text(p) + " are not four numbers >= 0");
        w.pads = {std::size_t(p[0]), std::size_t(p[1]), std::size_t(p[2]), std::size_t(p[3])};
        if (w.pads == std::array<std::size_t, 4>{0, 0, 0, 0}) w.padding = "valid";
        else if (w.pads == same_pads(x, k, w.s)) w.padding = "same";
        else w.padding = "explicit";
        if (x.h + w.pads[0] + w.pads[2] < k[0] || x.w + w.pads[1] + w.pads[3] < k[1])
            throw shape_error(where(n) + ": window " + std::to_string(k[0]) + "x" + std::to_string(k[1]) +
                              " larger than its padded input " + shape_text(x));
        return w;
    }
    static std::size_t out_size(std::size_t in, std::size_t pad, std::size_t k, std::size_t s) { return (in + pad - k) / s + 1; }
    /// A ceil_mode 1 pooling is read when it gives the floor's sizes.
    void check_ceil_mode(const onnx::NodeProto& n, const Value& x, const Window& w) const {
        if (int_attr(n, "ceil_mode", 0) == 0) return;
        for (int d = 0; d < 2; ++d) {
            const std::size_t in = (d ? x.w : x.h) + w.pads[d] + w.pads[d + 2];
            if ((in - w.k[d]) % w.s[d] != 0)
                throw format_error(where(n) + ": ceil_mode 1 gives other output sizes than Keras' pooling; only ceil_mode 0 "
                                   "(or sizes where both agree) is supported");
        }
    }
    /// A ZeroPadding2D before a layer whose pads are not Keras' 'same' split; returns its value.
    Value zero_pad(const onnx::NodeProto& n, const Value& x, const Window& w, const std::string& base) {
        const std::string name = unique(base + "_pad");
        LayerSpec& l = add_layer(name, "ZeroPadding2D", {x.layer});
        l.zero_padding = {w.pads[0], w.pads[2], w.pads[1], w.pads[3]};
        notes_.push_back(n.name() + " (" + n.op_type() + "): pads " + std::to_string(w.pads[0]) + "," + std::to_string(w.pads[1]) +
                         "," + std::to_string(w.pads[2]) + "," + std::to_string(w.pads[3]) +
                         " are not Keras' 'same' split: a ZeroPadding2D " + name + " before it");
        Value v = x;
        v.layer = name;
        v.h += w.pads[0] + w.pads[2];
        v.w += w.pads[1] + w.pads[3];
        return v;
    }

    /// Relu / Sigmoid / Tanh after a Conv or Dense with a linear activation, whose only reader it
    /// is: fused into the layer, as Keras' Conv2D(activation=...).
    bool fuse_activation(const onnx::NodeProto& n, const std::string& act) {
        const std::string& x = n.input(0);
        const Value& v = values_.at(x);
        LayerSpec* l = layer_of(v.layer);
        if (!l || (l->class_name != "Conv2D" && l->class_name != "Dense") || l->activation != "linear") return false;
        if (readers_[x] != 1 || v.chw_of) return false;
        for (const auto& [name, other] : values_)  // the layer's output is not read under another name
            if (other.layer == v.layer && name != x && readers_[name] > 0) return false;
        l->activation = act;
        Value y = v;
        y.nonneg = act == "relu";
        set(n, y);
        return true;
    }

    void add_node(const onnx::NodeProto& n) {
        const std::string& op = n.op_type();
        if (!n.domain().empty() && n.domain() != "ai.onnx")
            throw format_error(where(n) + ": op of domain " + n.domain() + " is not supported");
        if (n.output_size() < 1 || n.output(0).empty())
            throw format_error(where(n) + ": the node has no output");
        if (op == "Constant") {
            const auto* a = attr(n, "value");
            if (!a || !a->has_t() || n.output_size() != 1)
                throw format_error(where(n) + ": only a Constant with a tensor 'value' is supported");
            onnx::TensorProto t = a->t();
            t.set_name(n.output(0));
            node_consts_[n.output(0)] = t;
            consts_[n.output(0)] = &node_consts_[n.output(0)];
            return;
        }
        if (op == "Identity" || op == "Dropout") {
            if (op == "Dropout") {
                only_first_output(n);
                if (n.input_size() > 2 && !n.input(2).empty()) {
                    const onnx::TensorProto* t = constant(n.input(2));
                    if (!t || t->data_type() != onnx::TensorProto::BOOL ||
                        (t->has_raw_data() ? t->raw_data() != std::string(1, '\0') : (t->int32_data_size() != 1 || t->int32_data(0) != 0)))
                        throw format_error(where(n) + ": training_mode is not the constant false");
                }
            }
            set(n, in(n));
            return;
        }
        if (op == "Mul") {
            // the input scale: the graph's input times one number, first
            const int xi = n.input_size() == 2 && n.input(0) == input_name_ ? 0 : 1;
            const onnx::TensorProto* t = n.input_size() == 2 ? constant(n.input(1 - xi)) : nullptr;
            if (n.input_size() != 2 || n.input(xi) != input_name_ || !t || count(tensor_dims(*t), n) != 1 || scale_ ||
                readers_[input_name_] != 1)
                throw format_error(where(n) + ": Mul is supported only as the input's scale (the graph's input times one "
                                   "number, read by nothing else)");
            const float s = floats(*t, n)[0];
            if (!(s > 0)) throw format_error(where(n) + ": the input scale " + std::to_string(s) + " is not positive");
            scale_ = s;
            set(n, in(n, xi));
            return;
        }
        if (op == "Conv") return conv(n);
        if (op == "BatchNormalization") return batch_norm(n);
        if (op == "Relu" || op == "Sigmoid" || op == "Tanh") {
            const std::string act = op == "Relu" ? "relu" : op == "Sigmoid" ? "sigmoid" : "tanh";
            in(n);
            if (fuse_activation(n, act)) return;
            const Value& x = in(n);
            LayerSpec& l = add_layer(layer_name(n), "Activation", {x.layer});
            l.activation = act;
            Value y = x;
            y.layer = l.name;
            y.nonneg = act == "relu";
            set(n, y);
            return;
        }
        if (op == "LeakyRelu") {
            const Value& x = in(n);
            LayerSpec& l = add_layer(layer_name(n), "LeakyReLU", {x.layer});
            l.alpha = float_attr(n, "alpha", 0.01f);
            Value y = x;
            y.layer = l.name;
            y.nonneg = false;
            set(n, y);
            return;
        }
        if (op == "MaxPool" || op == "AveragePool") return pool(n);
        if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
            const Value& x = in(n);
            need_image(n, x);
            const std::string cls = op == "GlobalAveragePool" ? "GlobalAveragePooling2D" : "GlobalMaxPooling2D";
            LayerSpec& l = add_layer(layer_name(n), cls, {x.layer});
            // (N, C, 1, 1) in ONNX; a vector of C in prunedef (Keras' global pooling); a Flatten
            // or Reshape after it changes nothing
            set(n, Value{l.name, false, 1, 1, x.c, std::nullopt, x.nonneg});
            return;
        }
        if (op == "Flatten") {
            const Value& x = in(n);
            const i64 axis = int_attr(n, "axis", 1);
            if (axis != 1) throw format_error(where(n) + ": Flatten axis " + std::to_string(axis) + " is not supported (only 1)");
            return flatten(n, x);
        }
        if (op == "Reshape") {
            const Value& x = in(n);
            const onnx::TensorProto* t = n.input_size() > 1 ? constant(n.input(1)) : nullptr;
            if (!t)
                throw format_error(where(n) + ": the shape is computed in the graph; prunedef reads a Reshape to (N, features) "
                                   "with a constant shape (torch.flatten(x, 1) exports a Flatten)");
            const std::vector<i64> s = int64s(*t, n);
            const i64 total = i64(x.h * x.w * x.c);
            if (s.size() != 2 || !(s[0] == 0 || s[0] == -1 || s[0] > 0) || !(s[1] == -1 || s[1] == total) ||
                (s[0] == -1 && s[1] == -1))
                throw format_error(where(n) + ": Reshape to " + dims_text(s) + " is not supported; only to (N, " +
                                   std::to_string(total) + ") (a flattening)");
            return flatten(n, x);
        }
        if (op == "Pad") return pad(n);
        if (op == "Gemm") return gemm(n);
        if (op == "MatMul") return matmul(n);
        if (op == "Add") return add(n);
        if (op == "Concat") return concat(n);
        if (op == "Softmax") {
            const Value& x = in(n);
            if (x.image || x.chw_of) throw format_error(where(n) + ": Softmax is supported only on the logits (a vector)");
            const i64 axis = int_attr(n, "axis", onnx_opset_of(m_) >= 13 ? -1 : 1);
            if (axis != -1 && axis != 1) throw format_error(where(n) + ": Softmax axis " + std::to_string(axis) + " is not the classes");
            bool is_output = false;
            for (const auto& o : g_.output()) is_output = is_output || o.name() == n.output(0);
            if (!is_output || readers_[n.output(0)] != 1)
                throw format_error(where(n) + ": Softmax is supported only as the graph's last op (left out: logits)");
            LayerSpec& l = add_layer(layer_name(n), "Softmax", {x.layer});
            l.activation = "softmax";
            Value y = x;
            y.layer = l.name;
            set(n, y);
            return;
        }
        throw format_error(where(n) + ": op " + op + " is not supported by prunedef's ONNX import (supported: Conv, "
                           "BatchNormalization, Relu, Sigmoid, Tanh, LeakyRelu, MaxPool, AveragePool, GlobalAveragePool, "
                           "GlobalMaxPool, Add, Concat, Flatten, Reshape, Gemm, MatMul, Pad (zeros), Dropout, Identity, Constant, "
                           "Softmax last, Mul of the input by its scale)");
    }

    void flatten(const onnx::NodeProto& n, const Value& x) {
        if (!x.image) {  // already a vector (global pooling, Gemm): nothing to do
            set(n, x);
            return;
        }
        LayerSpec& l = add_layer(layer_name(n), "Flatten", {x.layer});
        Value y{l.name, false, 1, 1, x.h * x.w * x.c, std::nullopt, x.nonneg};
        if (x.h * x.w > 1) y.chw_of = ImageShape{x.h, x.w, x.c};
        set(n, y);
    }

    /// Pad of zeros on the rows and columns (prunedef's export writes a ZeroPadding2D so): a
    /// ZeroPadding2D.
    void pad(const onnx::NodeProto& n) {
        const Value& x = in(n);
        need_image(n, x);
        const std::string mode = string_attr(n, "mode", "constant");
        if (mode != "constant") throw format_error(where(n) + ": mode " + mode + " is not supported (constant zeros only)");
        std::vector<i64> p;
        if (n.input_size() > 1 && !n.input(1).empty()) {
            const onnx::TensorProto* t = constant(n.input(1));
            if (!t) throw format_error(where(n) + ": the pads are computed in the graph, not a constant");
            p = int64s(*t, n);
        } else {
            p = ints_attr(n, "pads", {});
        }
        if (n.input_size() > 2 && !n.input(2).empty()) {
            const onnx::TensorProto* t = constant(n.input(2));
            if (!t || count(tensor_dims(*t), n) != 1 || floats(*t, n)[0] != 0.0f)
                throw format_error(where(n) + ": only padding with zeros is supported");
        } else if (float_attr(n, "value", 0.0f) != 0.0f) {
            throw format_error(where(n) + ": only padding with zeros is supported");
        }
        if (n.input_size() > 3 && !n.input(3).empty())
            throw format_error(where(n) + ": a Pad with an 'axes' input is not supported (pads of all four axes only)");
        for (const i64 v : p) check_extent(n, "pads", v);
        if (p.size() != 8 || p[0] != 0 || p[1] != 0 || p[4] != 0 || p[5] != 0 ||
            std::any_of(p.begin(), p.end(), [](i64 v) { return v < 0; }))
            throw format_error(where(n) + ": pads " + dims_text(p) + " are not supported (rows and columns only, >= 0)");
        const std::string name = layer_name(n);
        LayerSpec& l = add_layer(name, "ZeroPadding2D", {x.layer});
        l.zero_padding = {std::size_t(p[2]), std::size_t(p[6]), std::size_t(p[3]), std::size_t(p[7])};
        Value y = x;
        y.layer = name;
        y.h += std::size_t(p[2] + p[6]);
        y.w += std::size_t(p[3] + p[7]);
        set(n, y);
    }

    void conv(const onnx::NodeProto& n) {
        Value x = in(n);
        need_image(n, x);
        const i64 group = int_attr(n, "group", 1);
        if (group != 1) throw format_error(where(n) + ": group " + std::to_string(group) + " is not supported (only 1)");
        const onnx::TensorProto* wt = n.input_size() > 1 ? constant(n.input(1)) : nullptr;
        if (!wt) throw format_error(where(n) + ": the weight (input 1) is not an initializer");
        const std::vector<i64> wd = tensor_dims(*wt);
        if (wd.size() != 4 || wd[0] < 1 || wd[2] < 1 || wd[3] < 1)
            throw shape_error(where(n) + ": initializer " + wt->name() + " (weight) has shape " + dims_text(wd) +
                              ", expected (out, " + std::to_string(x.c) + ", kh, kw)");
        const std::size_t co = std::size_t(wd[0]), kh = std::size_t(wd[2]), kw = std::size_t(wd[3]);
        const std::vector<float> w = weight(n, 1, {i64(co), i64(x.c), i64(kh), i64(kw)}, "weight");
        const auto ks = ints_attr(n, "kernel_shape", {i64(kh), i64(kw)});
        if (ks != std::vector<i64>{i64(kh), i64(kw)})
            throw format_error(where(n) + ": kernel_shape " + dims_text(ks) + " differs from its weight's " + dims_text({i64(kh), i64(kw)}));
        const Window win = window(n, x, {kh, kw});
        const std::string name = layer_name(n, wt->name());
        if (win.padding == "explicit") x = zero_pad(n, x, win, name);
        LayerSpec& l = add_layer(name, "Conv2D", {x.layer});
        l.units = co;
        l.kernel_size = {kh, kw};
        l.strides = win.s;
        l.padding = win.padding == "same" ? "same" : "valid";
        WeightArray kernel{"kernel", {kh, kw, x.c, co}, std::vector<float>(w.size())};
        for (std::size_t o = 0; o < co; ++o)
            for (std::size_t i = 0; i < x.c; ++i)
                for (std::size_t a = 0; a < kh; ++a)
                    for (std::size_t b = 0; b < kw; ++b)
                        kernel.values[((a * kw + b) * x.c + i) * co + o] = w[((o * x.c + i) * kh + a) * kw + b];
        weights_[name].push_back(std::move(kernel));
        l.use_bias = n.input_size() > 2 && !n.input(2).empty();
        if (l.use_bias) weights_[name].push_back(WeightArray{"bias", {co}, weight(n, 2, {i64(co)}, "bias")});
        std::size_t oh = 0, ow = 0;
        if (l.padding == "same") {
            oh = (x.h + win.s[0] - 1) / win.s[0];
            ow = (x.w + win.s[1] - 1) / win.s[1];
        } else {
            oh = out_size(x.h, 0, kh, win.s[0]);
            ow = out_size(x.w, 0, kw, win.s[1]);
        }
        set(n, Value{name, true, oh, ow, co, std::nullopt, false});
    }

    void pool(const onnx::NodeProto& n) {
        Value x = in(n);
        need_image(n, x);
        only_first_output(n);
        const bool max = n.op_type() == "MaxPool";
        const auto ks = ints_attr(n, "kernel_shape", {});
        if (ks.size() != 2 || ks[0] < 1 || ks[1] < 1) throw format_error(where(n) + ": kernel_shape " + dims_text(ks) + " is not 2-D");
        if (max && int_attr(n, "storage_order", 0) != 0) throw format_error(where(n) + ": storage_order 1 is not supported");
        const Window win = window(n, x, {std::size_t(ks[0]), std::size_t(ks[1])});
        check_ceil_mode(n, x, win);
        const bool count_pads = !max && int_attr(n, "count_include_pad", 0) != 0;
        std::string padding = win.padding;
        if (win.padding == "same" && count_pads) padding = "explicit";  // Keras' 'same' average excludes the pads
        const std::string name = layer_name(n);
        if (padding == "explicit") {
            // zeros in place of ONNX's pads: exact for an average counting them, and for a
            // maximum over values never below zero
            if (max && !x.nonneg)
                throw format_error(where(n) + ": pads " + std::to_string(win.pads[0]) + "," + std::to_string(win.pads[1]) + "," +
                                   std::to_string(win.pads[2]) + "," + std::to_string(win.pads[3]) +
                                   " are not Keras' 'same' split and the input may be negative; not supported");
            if (!max && !count_pads)
                throw format_error(where(n) + ": pads that are not Keras' 'same' split with count_include_pad 0 are not supported");
            x = zero_pad(n, x, win, name);
            padding = "valid";
        }
        LayerSpec& l = add_layer(name, max ? "MaxPooling2D" : "AveragePooling2D", {x.layer});
        l.pool_size = {std::size_t(ks[0]), std::size_t(ks[1])};
        l.strides = win.s;
        l.padding = padding;
        std::size_t oh = 0, ow = 0;
        if (padding == "same") {
            oh = (x.h + win.s[0] - 1) / win.s[0];
            ow = (x.w + win.s[1] - 1) / win.s[1];
        } else {
            oh = out_size(x.h, 0, l.pool_size[0], win.s[0]);
            ow = out_size(x.w, 0, l.pool_size[1], win.s[1]);
        }
        set(n, Value{name, true, oh, ow, x.c, std::nullopt, x.nonneg});
    }

    void batch_norm(const onnx::NodeProto& n) {
        const Value& x = in(n);
        only_first_output(n);
        need_keras_order(n, x);
        if (int_attr(n, "training_mode", 0) != 0) throw format_error(where(n) + ": training_mode 1 is not supported (inference)");
        if (int_attr(n, "spatial", 1) != 1) throw format_error(where(n) + ": spatial 0 is not supported");
        const i64 c = i64(x.c);
        const onnx::TensorProto* scale = n.input_size() > 1 ? constant(n.input(1)) : nullptr;
        const std::string name = layer_name(n, scale ? scale->name() : "");
        LayerSpec& l = add_layer(name, "BatchNormalization", {x.layer});
        l.epsilon = float_attr(n, "epsilon", 1e-5f);
        l.axis = -1;
        auto& w = weights_[name];
        w.push_back(WeightArray{"gamma", {x.c}, weight(n, 1, {c}, "scale")});
        w.push_back(WeightArray{"beta", {x.c}, weight(n, 2, {c}, "bias")});
        w.push_back(WeightArray{"moving_mean", {x.c}, weight(n, 3, {c}, "mean")});
        w.push_back(WeightArray{"moving_variance", {x.c}, weight(n, 4, {c}, "variance")});
        if (!(l.epsilon >= 0.0f))
            throw format_error(where(n) + ": epsilon " + std::to_string(l.epsilon) + " is negative");
        for (float v : w.back().values) {
            if (v < 0) throw format_error(where(n) + ": a negative variance in " + n.input(4));
            if (!(v + l.epsilon > 0.0f))
                throw format_error(where(n) + ": a variance of 0 with epsilon 0 in " + n.input(4) + " divides by zero");
        }
        Value y = x;
        y.layer = name;
        y.nonneg = false;
        set(n, y);
    }

    /// A Dense layer of kernel (in, out) rows in ONNX's order for input x; permutes the rows of
    /// a flattened image to prunedef's H, W, C order.
    void dense(const onnx::NodeProto& n, const Value& x, std::vector<float> kernel, std::size_t units,
               std::optional<std::vector<float>> bias, const std::string& weight_name, const std::string& out) {
        if (x.chw_of) {
            const ImageShape s = *x.chw_of;
            std::vector<float> k(kernel.size());
            for (std::size_t ch = 0; ch < s.channels; ++ch)
                for (std::size_t h = 0; h < s.height; ++h)
                    for (std::size_t ww = 0; ww < s.width; ++ww) {
                        const std::size_t onnx_row = (ch * s.height + h) * s.width + ww;
                        const std::size_t keras_row = (h * s.width + ww) * s.channels + ch;
                        std::copy_n(kernel.begin() + std::ptrdiff_t(onnx_row * units), units, k.begin() + std::ptrdiff_t(keras_row * units));
                    }
            kernel = std::move(k);
            notes_.push_back(n.name() + " (" + n.op_type() + "): rows permuted from the flattened image's C, H, W order to H, W, C");
        }
        const std::string name = layer_name(n, weight_name);
        LayerSpec& l = add_layer(name, "Dense", {x.layer});
        l.units = units;
        l.use_bias = bias.has_value();
        weights_[name].push_back(WeightArray{"kernel", {x.c, units}, std::move(kernel)});
        if (bias) weights_[name].push_back(WeightArray{"bias", {units}, std::move(*bias)});
        values_[out] = Value{name, false, 1, 1, units, std::nullopt, false};
    }

    void gemm(const onnx::NodeProto& n) {
        const Value& x = in(n);
        if (x.image) throw format_error(where(n) + ": reads an image " + shape_text(x) + "; Gemm reads (N, features)");
        if (int_attr(n, "transA", 0) != 0) throw format_error(where(n) + ": transA 1 is not supported");
        if (float_attr(n, "alpha", 1.0f) != 1.0f || float_attr(n, "beta", 1.0f) != 1.0f)
            throw format_error(where(n) + ": alpha and beta other than 1 are not supported");
        const bool trans = int_attr(n, "transB", 0) != 0;
        const onnx::TensorProto* b = n.input_size() > 1 ? constant(n.input(1)) : nullptr;
        if (!b) throw format_error(where(n) + ": B (input 1) is not an initializer");
        const std::vector<i64> bd = tensor_dims(*b);
        if (bd.size() != 2 || bd[trans ? 1 : 0] != i64(x.c))
            throw shape_error(where(n) + ": initializer " + b->name() + " (B) has shape " + dims_text(bd) + ", expected " +
                              (trans ? "(units, " + std::to_string(x.c) + ")" : "(" + std::to_string(x.c) + ", units)"));
        const std::size_t units = std::size_t(bd[trans ? 0 : 1]);
        std::vector<float> w = floats(*b, n), kernel(w.size());
        if (trans) {
            for (std::size_t o = 0; o < units; ++o)
                for (std::size_t i = 0; i < x.c; ++i) kernel[i * units + o] = w[o * x.c + i];
        } else {
            kernel = std::move(w);
        }
        std::optional<std::vector<float>> bias;
        if (n.input_size() > 2 && !n.input(2).empty()) {
            const onnx::TensorProto* c = constant(n.input(2));
            if (!c) throw format_error(where(n) + ": C (input 2) is not an initializer");
            const std::vector<i64> cd = tensor_dims(*c);
            if (cd != std::vector<i64>{i64(units)} && cd != std::vector<i64>{1, i64(units)})
                throw shape_error(where(n) + ": initializer " + c->name() + " (C) has shape " + dims_text(cd) + ", expected (" +
                                  std::to_string(units) + ",)");
            bias = floats(*c, n);
        }
        dense(n, x, std::move(kernel), units, std::move(bias), b->name(), n.output(0));
    }

    void matmul(const onnx::NodeProto& n) {
        const Value& x = in(n);
        if (x.image) throw format_error(where(n) + ": reads an image " + shape_text(x) + "; MatMul is read as a dense layer on (N, features)");
        const onnx::TensorProto* b = n.input_size() > 1 ? constant(n.input(1)) : nullptr;
        if (!b) throw format_error(where(n) + ": the second input is not an initializer (only x @ W with constant W)");
        const std::vector<i64> bd = tensor_dims(*b);
        if (bd.size() != 2 || bd[0] != i64(x.c))
            throw shape_error(where(n) + ": initializer " + b->name() + " has shape " + dims_text(bd) + ", expected (" +
                              std::to_string(x.c) + ", units)");
        const std::size_t units = std::size_t(bd[1]);
        // the bias: an Add of a constant of `units` values that is the MatMul's only reader
        std::optional<std::vector<float>> bias;
        std::string out = n.output(0);
        if (readers_[n.output(0)] == 1)
            for (const auto& a : g_.node()) {
                if (a.op_type() != "Add" || a.input_size() != 2 || a.output_size() < 1 || a.output(0).empty()) continue;
                const int k = a.input(0) == n.output(0) ? 1 : a.input(1) == n.output(0) ? 0 : -1;
                if (k < 0) continue;
                const onnx::TensorProto* c = constant(a.input(k));
                if (!c) break;
                const std::vector<i64> cd = tensor_dims(*c);
                if (cd != std::vector<i64>{i64(units)} && cd != std::vector<i64>{1, i64(units)}) break;
                bias = floats(*c, a);
                bias_adds_.insert(a.output(0));
                out = a.output(0);
                break;
            }
        dense(n, x, floats(*b, n), units, std::move(bias), b->name(), out);
    }

    void add(const onnx::NodeProto& n) {
        if (bias_adds_.count(n.output(0))) return;  // folded into the MatMul before it
        if (n.input_size() != 2) throw format_error(where(n) + ": expected two inputs");
        for (int k = 0; k < 2; ++k)
            if (constant(n.input(k)) && !values_.count(n.input(k)))
                throw format_error(where(n) + ": Add of a constant is supported only as the bias of a MatMul");
        const Value &a = in(n, 0), &b = in(n, 1);
        if (a.image != b.image || a.h != b.h || a.w != b.w || a.c != b.c || a.chw_of != b.chw_of)
            throw shape_error(where(n) + ": adds " + shape_text(a) + " and " + shape_text(b) + " (broadcasting is not supported)");
        LayerSpec& l = add_layer(layer_name(n), "Add", {a.layer, b.layer});
        Value y = a;
        y.layer = l.name;
        y.nonneg = a.nonneg && b.nonneg;
        set(n, y);
    }

    void concat(const onnx::NodeProto& n) {
        if (n.input_size() < 2) throw format_error(where(n) + ": expected two inputs or more");
        const Value& x = in(n, 0);
        const i64 axis = int_attr(n, "axis", 1);
        const bool channels = axis == 1 || (x.image ? axis == -3 : axis == -1);
        if (!channels) throw format_error(where(n) + ": axis " + std::to_string(axis) + " is not the channel axis (1)");
        std::vector<std::string> layers;
        std::size_t c = 0;
        bool nonneg = true;
        for (int k = 0; k < n.input_size(); ++k) {
            const Value& v = in(n, k);
            need_keras_order(n, v);
            if (v.image != x.image || v.h != x.h || v.w != x.w)
                throw shape_error(where(n) + ": concatenates " + shape_text(x) + " and " + shape_text(v));
            layers.push_back(v.layer);
            c += v.c;
            nonneg = nonneg && v.nonneg;
        }
        LayerSpec& l = add_layer(layer_name(n), "Concatenate", layers);
        l.axis = -1;
        Value y = x;
        y.layer = l.name;
        y.c = c;
        y.nonneg = nonneg;
        set(n, y);
    }
};

}  // namespace detail

/// An ONNX ModelProto as prunedef's architecture and weights; `source` names it in messages.
inline OnnxModelFile onnx_model_spec(const onnx::ModelProto& model, const std::string& source) {
    OnnxModelFile f = detail::OnnxImporter(model, source).run();
    f.path = source;
    return f;
}

/// Reads an ONNX file (weights inside the file; external data is refused).
inline OnnxModelFile read_onnx_model(const std::string& path) {
    detail::require_regular_input(path, "an ONNX model (.onnx)");
    std::ifstream f(path, std::ios::binary);
    if (!f) throw io_error(path + ": cannot open");
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (bytes.size() > detail::max_onnx_bytes) throw format_error(path + ": larger than 2 GiB, not supported");
    onnx::ModelProto m;
    if (!m.ParseFromString(bytes) || !m.has_graph())
        throw format_error(path + ": not an ONNX model (the file does not parse as an onnx.ModelProto with a graph)");
    return onnx_model_spec(m, path);
}

}  // namespace prunedef
