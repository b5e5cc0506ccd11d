#pragma once
// A network, or a GoodNet G = GoodNet<B, B'>, as an ONNX model (opset 13, IR version 7) that any
// ONNX runtime runs unmodified. Part prunedef::onnx (Debian libonnx-dev: ONNX's generated
// protobuf classes and libprotobuf); the header-only core does not depend on it.
//
// Input "input": float32 (N, C, H, W), raw pixels exactly as the challenge's HDF5 `data` arrays
// store them (channels first; uint8 files cast to float32); the model's input scale is a Mul
// node at the start, so nobody scales anything by hand. The metadata_props say so
// (prunedef.input_layout, prunedef.input_scale).
//
//   onnx_model(spec, weights, shape, scale)  B: output "logits" (N, classes), pre-softmax, the
//                                            values `prunedef predict` writes
//   onnx_goodnet_model(spec, b, bprime, ...) G: output "class" int64 (N,) in [0, classes], where
//                                            `classes` means "backdoor detected", then B's
//                                            "logits" and B''s "bprime_logits"
//
// Node and tensor names: B's layers under "b/", B''s under "bprime/" (Keras layer names have no
// '/', so they never meet the graph's own names: input, scaled_input, logits, class, ...).
//
// G's rule: ArgMax of B and of B' (keepdims 0, select_last_index 0: the first index on ties, as
// prunedef's argmax and numpy's), Equal, Where(equal, B's class, classes). Every layer of B' whose
// weights are bitwise B's and whose inputs are all shared is B's node: for B' = B with channels
// pruned at one layer, the trunk before that layer appears once in the graph.

#include <prunedef/core/error.hpp>
#include <prunedef/io/atomic_output.hpp>
#include <prunedef/io/keras_config.hpp>
#include <prunedef/io/keras_deepid_config.hpp>
#include <prunedef/io/onnx_graph_builder.hpp>
#include <prunedef/model/deepid.hpp>
#include <prunedef/model/graph_network.hpp>
#include <prunedef/model/model_weights.hpp>

#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace prunedef {

inline constexpr int onnx_opset = 13;
inline constexpr const char* onnx_input_layout =
    "NCHW float32 raw pixels as stored in the challenge's HDF5 'data' arrays (N, C, H, W); the input scale is "
    "applied inside the graph";

namespace detail {

inline std::string onnx_number(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

inline onnx::ModelProto onnx_model_shell(const std::string& graph_name, const ImageShape& input, float scale,
                                         const std::map<std::string, std::string>& metadata) {
    if (!(scale > 0) || !std::isfinite(scale)) throw argument_error("ONNX export: input scale must be positive and finite");
    onnx::ModelProto m;
    m.set_ir_version(7);
    m.set_producer_name("prunedef");
    onnx::OperatorSetIdProto& op = *m.add_opset_import();
    op.set_domain("");
    op.set_version(onnx_opset);
    std::map<std::string, std::string> meta = metadata;
    meta["prunedef.input_layout"] = onnx_input_layout;
    meta["prunedef.input_shape"] = "N x " + std::to_string(input.channels) + " x " + std::to_string(input.height) + " x " +
                                   std::to_string(input.width) + " (N, C, H, W)";
    meta["prunedef.input_scale"] = onnx_number(scale);
    for (const auto& [k, v] : meta) {
        onnx::StringStringEntryProto& e = *m.add_metadata_props();
        e.set_key(k);
        e.set_value(v);
    }
    onnx::GraphProto& g = *m.mutable_graph();
    g.set_name(graph_name);
    onnx::ValueInfoProto& in = *g.add_input();
    in.set_name("input");
    onnx::TypeProto::Tensor& t = *in.mutable_type()->mutable_tensor_type();
    t.set_elem_type(onnx::TensorProto::FLOAT);
    t.mutable_shape()->add_dim()->set_dim_param("N");
    for (std::size_t d : {input.channels, input.height, input.width}) t.mutable_shape()->add_dim()->set_dim_value(std::int64_t(d));
    return m;
}

inline void onnx_add_output(onnx::GraphProto& g, const std::string& name, int elem_type, std::vector<std::int64_t> dims) {
    onnx::ValueInfoProto& out = *g.add_output();
    out.set_name(name);
    onnx::TypeProto::Tensor& t = *out.mutable_type()->mutable_tensor_type();
    t.set_elem_type(elem_type);
    t.mutable_shape()->add_dim()->set_dim_param("N");
    for (auto d : dims) t.mutable_shape()->add_dim()->set_dim_value(d);
}

/// The scaled input as the input layer's value.
inline std::map<std::string, OnnxValue> onnx_input_values(OnnxGraphBuilder& b, const ModelSpec& spec, const ImageShape& input,
                                                          float scale) {
    if (spec.layers.empty() || spec.layers[0].class_name != "InputLayer")
        throw format_error((spec.source.empty() ? std::string("model") : spec.source) + ": the first layer is not an InputLayer");
    if (spec.layers[0].input_shape && *spec.layers[0].input_shape != input)
        throw shape_error("ONNX export: the model states input shape " + spec.layers[0].input_shape->str() + ", not " + input.str());
    std::string x = "input";
    if (scale != 1.0f) {
        b.node("Mul", {x, b.constant("input_scale", {}, {scale})}, "scaled_input", "input_scale");
        x = "scaled_input";
    }
    return {{spec.layers[0].name, OnnxValue{x, true, input.height, input.width, input.channels, std::nullopt}}};
}

}  // namespace detail

/// B as an ONNX model: input "input" (N, C, H, W) raw pixels, output "logits" (N, classes).
inline onnx::ModelProto onnx_model(const ModelSpec& spec, const ModelWeights& weights, const ImageShape& input, float scale,
                                   const std::map<std::string, std::string>& metadata = {}) {
    onnx::ModelProto m = detail::onnx_model_shell("prunedef_B", input, scale, metadata);
    detail::OnnxGraphBuilder b(*m.mutable_graph());
    auto values = detail::onnx_input_values(b, spec, input, scale);
    const detail::OnnxValue logits = b.add_network(spec, weights, values, "b/");
    b.node("Identity", {logits.name}, "logits", "logits");
    detail::onnx_add_output(*m.mutable_graph(), "logits", onnx::TensorProto::FLOAT, {std::int64_t(logits.c)});
    return m;
}

/// G = GoodNet<B, B'> as one ONNX model (B and B' share the architecture spec): outputs "class"
/// (int64, N = classes: backdoor detected), "logits" (B) and "bprime_logits" (B').
inline onnx::ModelProto onnx_goodnet_model(const ModelSpec& spec, const ModelWeights& b_weights,
                                           const ModelWeights& bprime_weights, const ImageShape& input, float scale,
                                           const std::map<std::string, std::string>& metadata = {}) {
    std::map<std::string, std::string> meta = metadata;
    onnx::ModelProto m = detail::onnx_model_shell("prunedef_GoodNet", input, scale, meta);
    detail::OnnxGraphBuilder b(*m.mutable_graph());
    auto values = detail::onnx_input_values(b, spec, input, scale);
    const detail::OnnxValue logits = b.add_network(spec, b_weights, values, "b/");
    // B''s layers computed exactly as B's: same weights, all inputs shared
    const detail::SpecGraph sg = detail::spec_graph(spec);
    std::map<std::string, detail::OnnxValue> shared{{spec.layers[0].name, values.at(spec.layers[0].name)}};
    std::size_t shared_count = 0;
    for (std::size_t i = 1; i < spec.layers.size(); ++i) {
        if (!sg.live[i]) continue;
        bool same = detail::same_layer_weights(b_weights, bprime_weights, spec.layers[i].name);
        for (auto j : sg.inputs[i]) same = same && shared.count(spec.layers[j].name) > 0;
        if (same) {
            shared[spec.layers[i].name] = values.at(spec.layers[i].name);
            ++shared_count;
        }
    }
    const detail::OnnxValue bprime = b.add_network(spec, bprime_weights, shared, "bprime/");
    if (bprime.c != logits.c)
        throw shape_error("GoodNet: B has " + std::to_string(logits.c) + " classes but B' has " + std::to_string(bprime.c));
    const auto argmax = [&](const std::string& x, const std::string& out) {
        onnx::NodeProto& n = b.node("ArgMax", {x}, out, out);
        detail::OnnxGraphBuilder::attr(n, "axis", std::int64_t(1));
        detail::OnnxGraphBuilder::attr(n, "keepdims", std::int64_t(0));
        detail::OnnxGraphBuilder::attr(n, "select_last_index", std::int64_t(0));
    };
    argmax(logits.name, "b_class");
    argmax(bprime.name, "bprime_class");
    b.node("Equal", {"b_class", "bprime_class"}, "agree", "agree");
    const std::string detected = b.constant_int64("backdoor_detected", {}, {std::int64_t(logits.c)});
    b.node("Where", {"agree", "b_class", detected}, "class", "class");
    b.node("Identity", {logits.name}, "logits", "logits");
    b.node("Identity", {bprime.name}, "bprime_logits", "bprime_logits");
    onnx::GraphProto& g = *m.mutable_graph();
    detail::onnx_add_output(g, "class", onnx::TensorProto::INT64, {});
    detail::onnx_add_output(g, "logits", onnx::TensorProto::FLOAT, {std::int64_t(logits.c)});
    detail::onnx_add_output(g, "bprime_logits", onnx::TensorProto::FLOAT, {std::int64_t(logits.c)});
    onnx::StringStringEntryProto& e = *m.add_metadata_props();
    e.set_key("prunedef.goodnet");
    e.set_value("class = B's argmax where B and B' agree, else " + std::to_string(logits.c) +
                " (backdoor detected); " + std::to_string(shared_count) + " layers of B' shared with B");
    return m;
}

/// A compile-time DeepID's architecture as a ModelSpec (the CSAW architecture.py, its sizes).
inline ModelSpec deepid_model_spec(const ModelWeights& weights, const ImageShape& input) {
    return parse_keras_config(deepid_keras_config(weights, input), "DeepID (architecture.py)");
}

/// A bound DeepID as an ONNX model (its input shape and scale).
inline onnx::ModelProto onnx_model(const DeepID& net, const std::map<std::string, std::string>& metadata = {}) {
    const ModelWeights w = collect_weights(net);
    return onnx_model(deepid_model_spec(w, net.input_shape()), w, net.input_shape(), net.input_scale(), metadata);
}

/// A bound GraphNetwork built from spec as an ONNX model.
inline onnx::ModelProto onnx_model(const ModelSpec& spec, const GraphNetwork& net,
                                   const std::map<std::string, std::string>& metadata = {}) {
    return onnx_model(spec, graph_weights(net), net.input_shape(), net.input_scale(), metadata);
}

/// Writes a model atomically (the file appears complete or not at all).
inline void save_onnx(const std::string& path, const onnx::ModelProto& model) {
    std::string bytes;
    if (!model.SerializeToString(&bytes)) throw io_error(path + ": the ONNX model could not be serialised");
    AtomicOutput out(path);
    {
        std::ofstream f(out.path(), std::ios::binary);
        f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        f.close();
        if (!f) throw io_error(path + ": write failed");
    }
    out.commit();
}

}  // namespace prunedef
