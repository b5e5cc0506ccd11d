#pragma once
// Keras model configurations (model.to_json(), the model_config attribute of a full-model .h5,
// config.json of a .keras archive) parsed into a ModelSpec. Three dialects are read:
//  - Keras 2.3: class_name "Model" or "Sequential" (whose config is a list of layers, or
//    {"name", "layers"}); inbound_nodes [[["name", 0, 0, {}], ...]];
//  - tf.keras 2.x: class_name "Functional" or "Sequential", the same inbound_nodes;
//  - Keras 3: "Functional" or "Sequential" with "module"; inbound_nodes
//    [{"args": [tensor or [tensors]], "kwargs": {}}], a tensor being
//    {"class_name": "__keras_tensor__", "config": {"keras_history": ["name", 0, 0]}}.
// Every setting prunedef cannot compute exactly is refused with a format_error naming the
// source, the layer's name and class: nothing is approximated.

#include <prunedef/core/error.hpp>
#include <prunedef/core/shape.hpp>
#include <prunedef/model/layer_spec.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace prunedef {

/// The layer classes parse_keras_config() accepts.
inline const std::vector<std::string>& supported_keras_layers() {
    static const std::vector<std::string> names{
        "InputLayer", "Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
        "ZeroPadding2D", "Flatten", "Dense", "Dropout", "Activation", "ReLU", "LeakyReLU", "Softmax",
        "BatchNormalization", "Add", "Concatenate"};
    return names;
}

/// The activation functions parse_keras_config() accepts.
inline const std::vector<std::string>& supported_keras_activations() {
    static const std::vector<std::string> names{"linear", "relu", "sigmoid", "tanh", "softmax", "elu"};
    return names;
}

namespace detail {

using json = nlohmann::json;

/// Largest configuration text read (bytes).
inline constexpr std::size_t max_keras_config_bytes = std::size_t(64) << 20;

inline std::string join_names(const std::vector<std::string>& names) {
    std::string s;
    for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
    return s;
}

/// Reads one layer's config, with messages naming the source, the layer and its class.
class KerasLayerReader {
public:
    KerasLayerReader(const json& config, std::string source, std::string name, std::string class_name)
        : config_(config), source_(std::move(source)), name_(std::move(name)), class_(std::move(class_name)) {}

    [[noreturn]] void fail(const std::string& what) const {
        throw format_error(source_ + ": layer " + name_ + " (" + class_ + "): " + what);
    }

    bool has(const char* key) const { return config_.is_object() && config_.contains(key) && !config_.at(key).is_null(); }
    const json& at(const char* key) const {
        if (!has(key)) fail(std::string("setting '") + key + "' is missing");
        return config_.at(key);
    }

    std::size_t positive(const char* key) const { return positive_value(at(key), key); }
    std::size_t positive_value(const json& v, const std::string& key) const {
        if (!v.is_number_integer() || v.get<long long>() < 1 || v.get<long long>() > (1LL << 30))
            fail("setting '" + key + "' = " + v.dump() + ": expected a positive integer");
        return static_cast<std::size_t>(v.get<long long>());
    }
    /// An int or a pair of ints (kernel_size, strides, pool_size).
    std::array<std::size_t, 2> pair(const char* key) const {
        const json& v = at(key);
        if (v.is_number_integer()) {
            const std::size_t n = positive_value(v, key);
            return {n, n};
        }
        if (!v.is_array() || v.size() != 2) fail(std::string("setting '") + key + "' = " + v.dump() + ": expected an integer or two");
        return {positive_value(v[0], key), positive_value(v[1], key)};
    }
    bool boolean(const char* key, bool fallback) const {
        if (!has(key)) return fallback;
        const json& v = config_.at(key);
        if (!v.is_boolean()) fail(std::string("setting '") + key + "' = " + v.dump() + ": expected true or false");
        return v.get<bool>();
    }
    double number(const char* key, double fallback) const {
        if (!has(key)) return fallback;
        const json& v = config_.at(key);
        if (!v.is_number() || !std::isfinite(v.get<double>()))
            fail(std::string("setting '") + key + "' = " + v.dump() + ": expected a finite number");
        return v.get<double>();
    }
    std::string text(const char* key, const std::string& fallback) const {
        if (!has(key)) return fallback;
        const json& v = config_.at(key);
        if (!v.is_string()) fail(std::string("setting '") + key + "' = " + v.dump() + ": expected a string");
        return v.get<std::string>();
    }

    void channels_last() const {
        const std::string f = text("data_format", "channels_last");
        if (f != "channels_last")
            fail("data_format " + f + " is not supported (prunedef computes channels_last, (height, width, channels))");
    }
    std::string padding() const {
        const std::string p = text("padding", "valid");
        if (p != "valid" && p != "same") fail("padding '" + p + "' is not supported (valid or same)");
        return p;
    }
    /// activation: a name, or Keras 3's {"module": "keras.activations", "class_name": "function",
    /// "config": name}.
    std::string activation(const char* key = "activation") const {
        if (!has(key)) return "linear";
        const json& v = config_.at(key);
        std::string a;
        if (v.is_string()) {
            a = v.get<std::string>();
        } else if (v.is_object() && v.value("class_name", json()).is_string() && v["class_name"] == "function" &&
                   v.value("config", json()).is_string() && v.value("module", json()) == "keras.activations") {
            a = v["config"].get<std::string>();
        } else {
            fail("activation " + v.dump() + " is not supported; supported: " + join_names(supported_keras_activations()));
        }
        const auto& ok = supported_keras_activations();
        if (std::find(ok.begin(), ok.end(), a) == ok.end())
            fail("activation " + a + " is not supported; supported: " + join_names(ok));
        return a;
    }
    /// An axis setting (an integer or a list of one): -1, 1 or 3. Whether it names the channels
    /// depends on the rank of the tensor, which the graph builder knows (-1 always does; 3 of an
    /// image, 1 of a vector, as tf.keras stores the axis of a BatchNormalization after a Dense).
    int channel_axis(const char* key) const {
        if (!has(key)) return -1;
        json v = config_.at(key);
        if (v.is_array() && v.size() == 1) v = v[0];
        if (!v.is_number_integer() || (v.get<long long>() != -1 && v.get<long long>() != 1 && v.get<long long>() != 3))
            fail(std::string(key) + " " + config_.at(key).dump() + " is not supported (only the channel axis: -1, or 3 "
                 "of an image, 1 of a vector)");
        return static_cast<int>(v.get<long long>());
    }
    /// Settings that must have their default value (one, or [1, 1]).
    void must_be_one(const char* key) const {
        if (!has(key)) return;
        const json& v = config_.at(key);
        bool one = v.is_number_integer() && v.get<long long>() == 1;
        if (v.is_array()) {
            one = !v.empty();
            for (const auto& x : v) one = one && x.is_number_integer() && x.get<long long>() == 1;
        }
        if (!one) fail(std::string(key) + " " + v.dump() + " is not supported (only 1)");
    }

private:
    const json& config_;
    std::string source_, name_, class_;
};

/// (height, width, channels) of a batch shape [null, H, W, C]; refuses anything else.
inline ImageShape keras_image_shape(const json& shape, const KerasLayerReader& r) {
    if (!shape.is_array() || shape.size() != 4)
        r.fail("input shape " + shape.dump() + " is not an image (expected [null, height, width, channels])");
    if (!shape[0].is_null() && !shape[0].is_number_integer())
        r.fail("input shape " + shape.dump() + ": the batch dimension is not a number");
    return {r.positive_value(shape[1], "input shape"), r.positive_value(shape[2], "input shape"),
            r.positive_value(shape[3], "input shape")};
}

/// Fills a LayerSpec from one layer's class and config (inputs are set by the caller).
inline LayerSpec keras_layer_spec(const std::string& class_name, const std::string& name, const json& config,
                                  const std::string& source) {
    const KerasLayerReader r(config, source, name, class_name);
    LayerSpec l;
    l.name = name;
    l.class_name = class_name;
    if (class_name == "Functional" || class_name == "Sequential" || class_name == "Model")
        r.fail("nested models are not supported by prunedef (a model used as a layer); save the model with its "
               "layers in one flat model");
    const auto& ok = supported_keras_layers();
    if (std::find(ok.begin(), ok.end(), class_name) == ok.end())
        throw format_error(source + ": layer " + name + " (" + class_name + ") is not supported by prunedef; supported: " +
                           join_names(ok));
    if (!config.is_object()) r.fail("config is not an object");
    if (class_name == "InputLayer") {
        if (r.boolean("sparse", false) || r.boolean("ragged", false)) r.fail("sparse or ragged inputs are not supported");
        if (r.has("batch_shape")) l.input_shape = keras_image_shape(config["batch_shape"], r);
        else if (r.has("batch_input_shape")) l.input_shape = keras_image_shape(config["batch_input_shape"], r);
        else r.fail("no batch_shape or batch_input_shape");
    } else if (class_name == "Conv2D") {
        r.channels_last();
        r.must_be_one("dilation_rate");
        r.must_be_one("groups");
        l.units = r.positive("filters");
        l.kernel_size = r.pair("kernel_size");
        l.strides = r.has("strides") ? r.pair("strides") : std::array<std::size_t, 2>{1, 1};
        l.padding = r.padding();
        l.activation = r.activation();
        l.use_bias = r.boolean("use_bias", true);
    } else if (class_name == "MaxPooling2D" || class_name == "AveragePooling2D") {
        r.channels_last();
        l.pool_size = r.has("pool_size") ? r.pair("pool_size") : std::array<std::size_t, 2>{2, 2};
        l.strides = r.has("strides") ? r.pair("strides") : l.pool_size;
        l.padding = r.padding();
    } else if (class_name == "GlobalAveragePooling2D" || class_name == "GlobalMaxPooling2D") {
        r.channels_last();
        if (r.boolean("keepdims", false)) r.fail("keepdims true is not supported");
    } else if (class_name == "ZeroPadding2D") {
        r.channels_last();
        const json& p = r.at("padding");
        auto amount = [&](const json& v) { return v.is_number_integer() && v.get<long long>() == 0 ? 0 : r.positive_value(v, "padding"); };
        if (p.is_number_integer()) {
            const std::size_t n = amount(p);
            l.zero_padding = {n, n, n, n};
        } else if (p.is_array() && p.size() == 2 && p[0].is_number_integer() && p[1].is_number_integer()) {
            const std::size_t rows = amount(p[0]), cols = amount(p[1]);
            l.zero_padding = {rows, rows, cols, cols};
        } else if (p.is_array() && p.size() == 2 && p[0].is_array() && p[0].size() == 2 && p[1].is_array() &&
                   p[1].size() == 2) {
            l.zero_padding = {amount(p[0][0]), amount(p[0][1]), amount(p[1][0]), amount(p[1][1])};
        } else {
            r.fail("padding " + p.dump() + ": expected an integer, (rows, columns) or ((top, bottom), (left, right))");
        }
    } else if (class_name == "Flatten") {
        r.channels_last();
    } else if (class_name == "Dense") {
        l.units = r.positive("units");
        l.activation = r.activation();
        l.use_bias = r.boolean("use_bias", true);
        if (r.has("lora_rank")) r.fail("LoRA (lora_rank) is not supported");
        if (r.has("quantization_config")) r.fail("quantized layers are not supported");
    } else if (class_name == "Dropout") {
        // identity at inference
    } else if (class_name == "Activation") {
        if (!r.has("activation")) r.fail("setting 'activation' is missing");
        l.activation = r.activation();
    } else if (class_name == "ReLU") {
        if (r.has("max_value") || r.number("negative_slope", 0) != 0 || r.number("threshold", 0) != 0)
            r.fail("only the plain ReLU (max_value null, negative_slope 0, threshold 0) is supported; found max_value " +
                   (r.has("max_value") ? config["max_value"].dump() : std::string("null")) + ", negative_slope " +
                   std::to_string(r.number("negative_slope", 0)) + ", threshold " + std::to_string(r.number("threshold", 0)));
        l.activation = "relu";
    } else if (class_name == "LeakyReLU") {
        const double slope = r.has("negative_slope") ? r.number("negative_slope", 0.3) : r.number("alpha", 0.3);
        l.alpha = static_cast<float>(slope);
    } else if (class_name == "Softmax") {
        if (r.has("axis")) {
            json a = config["axis"];
            if (a.is_array() && a.size() == 1) a = a[0];
            if (!a.is_number_integer() || a.get<long long>() != -1)
                r.fail("axis " + config["axis"].dump() + " is not supported (only -1)");
        }
        l.activation = "softmax";
    } else if (class_name == "BatchNormalization") {
        l.axis = r.channel_axis("axis");
        if (r.boolean("renorm", false)) r.fail("batch renormalization (renorm) is not supported");
        l.epsilon = static_cast<float>(r.number("epsilon", 1e-3));
        if (!(l.epsilon >= 0)) r.fail("epsilon must not be negative");
        l.center = r.boolean("center", true);
        l.scale = r.boolean("scale", true);
    } else if (class_name == "Concatenate") {
        l.axis = r.channel_axis("axis");
    }
    if (l.activation == "elu") l.alpha = 1.0f;  // Keras' elu activation: alpha 1
    return l;
}

/// A layer's name: the entry's "name" or, failing that, its config's.
inline std::string keras_layer_name(const json& entry, const std::string& source, std::size_t index) {
    if (entry.contains("name") && entry["name"].is_string()) return entry["name"].get<std::string>();
    if (entry.contains("config") && entry["config"].is_object() && entry["config"].contains("name") &&
        entry["config"]["name"].is_string())
        return entry["config"]["name"].get<std::string>();
    throw format_error(source + ": layer " + std::to_string(index) + " has no name");
}

inline std::string keras_class_name(const json& entry, const std::string& source, std::size_t index) {
    if (!entry.is_object() || !entry.contains("class_name") || !entry["class_name"].is_string())
        throw format_error(source + ": layer " + std::to_string(index) + " has no class_name");
    return entry["class_name"].get<std::string>();
}

/// The layer a tensor reference names: Keras 2's ["name", node, tensor, kwargs] or Keras 3's
/// {"class_name": "__keras_tensor__", "config": {"keras_history": ["name", node, tensor]}}.
inline std::string keras_tensor_source(const json& t, const KerasLayerReader& r) {
    const json* history = &t;
    if (t.is_object()) {
        if (t.value("class_name", json()) != "__keras_tensor__" || !t.contains("config") || !t["config"].is_object() ||
            !t["config"].contains("keras_history"))
            r.fail("input " + t.dump() + " is not a layer's output (constants and other arguments are not supported)");
        history = &t["config"]["keras_history"];
    }
    const json& h = *history;
    if (!h.is_array() || h.size() < 3 || !h[0].is_string() || !h[1].is_number_integer() || !h[2].is_number_integer())
        r.fail("inbound node entry " + h.dump() + " is not a [\"layer\", node, tensor] reference");
    if (h[1].get<long long>() != 0)
        r.fail("reads node " + h[1].dump() + " of layer " + h[0].get<std::string>() +
               ", a layer used more than once (shared layers are not supported)");
    if (h[2].get<long long>() != 0)
        r.fail("reads output " + h[2].dump() + " of layer " + h[0].get<std::string>() + " (layers with several outputs are not supported)");
    return h[0].get<std::string>();
}

/// The input layer names of a functional model's layer entry.
inline std::vector<std::string> keras_inbound_layers(const json& entry, const KerasLayerReader& r) {
    if (!entry.contains("inbound_nodes") || entry["inbound_nodes"].is_null()) return {};
    const json& nodes = entry["inbound_nodes"];
    if (!nodes.is_array()) r.fail("inbound_nodes is not a list");
    if (nodes.empty()) return {};
    if (nodes.size() > 1)
        r.fail("the layer is used " + std::to_string(nodes.size()) +
               " times (several inbound nodes); shared layers are not supported");
    const json& node = nodes[0];
    std::vector<std::string> inputs;
    if (node.is_array()) {  // Keras 2: a list of references
        for (const auto& t : node) inputs.push_back(keras_tensor_source(t, r));
    } else if (node.is_object()) {  // Keras 3: {"args": [...], "kwargs": {...}}
        if (!node.contains("args") || !node["args"].is_array() || node["args"].size() != 1)
            r.fail("inbound node " + node.dump().substr(0, 200) + ": expected one argument (a tensor or a list of tensors)");
        const json& a = node["args"][0];
        if (a.is_array())
            for (const auto& t : a) inputs.push_back(keras_tensor_source(t, r));
        else
            inputs.push_back(keras_tensor_source(a, r));
    } else {
        r.fail("inbound node " + node.dump().substr(0, 200) + " is not understood");
    }
    if (inputs.empty()) r.fail("the inbound node names no input");
    return inputs;
}

/// The one layer of input_layers / output_layers: [["name", 0, 0]] (Keras 2) or ["name", 0, 0]
/// (Keras 3, one tensor).
inline std::string keras_model_endpoint(const json& config, const char* key, const std::string& source) {
    if (!config.contains(key)) throw format_error(source + ": model config has no " + key);
    json v = config[key];
    if (v.is_array() && !v.empty() && v[0].is_string()) v = json::array({v});
    const std::string what = std::string(key) == "input_layers" ? "inputs" : "outputs";
    if (!v.is_array() || v.empty()) throw format_error(source + ": " + key + " " + v.dump() + " is not understood");
    if (v.size() > 1)
        throw format_error(source + ": the model has " + std::to_string(v.size()) + " " + what + " (" + v.dump() +
                           "); prunedef supports models with one input and one output");
    const json& t = v[0];
    if (!t.is_array() || t.empty() || !t[0].is_string()) throw format_error(source + ": " + key + " " + v.dump() + " is not understood");
    if (t.size() >= 3 && ((t[1].is_number_integer() && t[1].get<long long>() != 0) ||
                          (t[2].is_number_integer() && t[2].get<long long>() != 0)))
        throw format_error(source + ": " + key + " " + v.dump() + ": a shared layer's node or a second output is not supported");
    return t[0].get<std::string>();
}

/// Orders layers so that each follows the layers it reads (stable: the config's order when it
/// already is one); refuses references to unknown layers and cycles.
inline std::vector<LayerSpec> keras_topological_order(std::vector<LayerSpec> layers, const std::string& source) {
    std::set<std::string> names;
    for (const auto& l : layers)
        if (!names.insert(l.name).second) throw format_error(source + ": layer name " + l.name + " is used twice");
    for (const auto& l : layers)
        for (const auto& in : l.inputs)
            if (!names.count(in))
                throw format_error(source + ": layer " + l.name + " (" + l.class_name + ") reads layer " + in +
                                   ", which the model does not have");
    std::vector<LayerSpec> out;
    std::set<std::string> placed;
    std::vector<bool> done(layers.size(), false);
    while (out.size() < layers.size()) {
        bool progress = false;
        for (std::size_t i = 0; i < layers.size(); ++i) {
            if (done[i]) continue;
            bool ready = true;
            for (const auto& in : layers[i].inputs) ready = ready && placed.count(in);
            if (!ready) continue;
            placed.insert(layers[i].name);
            out.push_back(std::move(layers[i]));
            done[i] = true;
            progress = true;
            break;  // restart: keeps the config's order whenever possible
        }
        if (!progress) throw format_error(source + ": the layers' inputs form a cycle");
    }
    return out;
}

inline void check_keras_inputs(const LayerSpec& l, const std::string& source) {
    const bool merge = l.class_name == "Add" || l.class_name == "Concatenate";
    if (l.class_name == "InputLayer") {
        if (!l.inputs.empty()) throw format_error(source + ": input layer " + l.name + " reads other layers");
    } else if (merge ? l.inputs.size() < 2 : l.inputs.size() != 1) {
        throw format_error(source + ": layer " + l.name + " (" + l.class_name + ") reads " + std::to_string(l.inputs.size()) +
                           " inputs, expected " + (merge ? "at least 2" : "1"));
    }
}

inline ModelSpec parse_keras_functional(const json& config, const std::string& source) {
    if (!config.is_object() || !config.contains("layers") || !config["layers"].is_array())
        throw format_error(source + ": model config has no list of layers");
    std::vector<LayerSpec> layers;
    std::size_t index = 0;
    for (const auto& entry : config["layers"]) {
        const std::string cls = keras_class_name(entry, source, index);
        const std::string name = keras_layer_name(entry, source, index);
        const json cfg = entry.contains("config") ? entry["config"] : json::object();
        LayerSpec l = keras_layer_spec(cls, name, cfg, source);
        l.inputs = keras_inbound_layers(entry, KerasLayerReader(cfg, source, name, cls));
        check_keras_inputs(l, source);
        layers.push_back(std::move(l));
        ++index;
    }
    ModelSpec spec;
    spec.source = source;
    spec.input = keras_model_endpoint(config, "input_layers", source);
    spec.output = keras_model_endpoint(config, "output_layers", source);
    std::size_t n_inputs = 0;
    for (const auto& l : layers) n_inputs += l.class_name == "InputLayer";
    if (n_inputs != 1)
        throw format_error(source + ": the model has " + std::to_string(n_inputs) +
                           " input layers; prunedef supports models with one input and one output");
    spec.layers = keras_topological_order(std::move(layers), source);
    if (spec.layers.front().class_name != "InputLayer" || spec.layers.front().name != spec.input)
        throw format_error(source + ": the model's input " + spec.input + " is not its InputLayer");
    if (!spec.find(spec.output)) throw format_error(source + ": output layer " + spec.output + " not found");
    return spec;
}

inline ModelSpec parse_keras_sequential(const json& config, const std::string& source) {
    const json* list = &config;
    if (config.is_object()) {
        if (!config.contains("layers")) throw format_error(source + ": Sequential config has no list of layers");
        list = &config["layers"];
    }
    if (!list->is_array() || list->empty()) throw format_error(source + ": Sequential config has no layers");
    ModelSpec spec;
    spec.source = source;
    std::size_t index = 0;
    for (const auto& entry : *list) {
        const std::string cls = keras_class_name(entry, source, index);
        const std::string name = keras_layer_name(entry, source, index);
        const json cfg = entry.contains("config") ? entry["config"] : json::object();
        if (cls == "InputLayer" && index > 0)
            throw format_error(source + ": layer " + name + " (InputLayer) is not the first layer of the Sequential model");
        LayerSpec l = keras_layer_spec(cls, name, cfg, source);
        if (index == 0 && cls != "InputLayer") {
            // The input shape is the first layer's batch_input_shape (Keras 2), or the model's
            // build_input_shape / the layer's build_config (Keras 3).
            json shape;
            if (cfg.is_object() && cfg.contains("batch_input_shape")) shape = cfg["batch_input_shape"];
            else if (cfg.is_object() && cfg.contains("batch_shape")) shape = cfg["batch_shape"];
            else if (entry.contains("build_config") && entry["build_config"].is_object() &&
                     entry["build_config"].contains("input_shape"))
                shape = entry["build_config"]["input_shape"];
            else if (config.is_object() && config.contains("build_input_shape"))
                shape = config["build_input_shape"];
            if (shape.is_null())
                throw format_error(source + ": the Sequential model states no input shape (no InputLayer, no "
                                            "batch_input_shape on its first layer " + name + ")");
            LayerSpec in;
            in.name = name + "_input";
            in.class_name = "InputLayer";
            in.input_shape = keras_image_shape(shape, KerasLayerReader(cfg, source, name, cls));
            spec.layers.push_back(std::move(in));
        }
        if (!spec.layers.empty()) l.inputs = {spec.layers.back().name};
        spec.layers.push_back(std::move(l));
        ++index;
    }
    std::set<std::string> names;
    for (const auto& l : spec.layers)
        if (!names.insert(l.name).second) throw format_error(source + ": layer name " + l.name + " is used twice");
    if (spec.layers.size() < 2) throw format_error(source + ": the Sequential model has no layer beyond its input");
    spec.input = spec.layers.front().name;
    spec.output = spec.layers.back().name;
    return spec;
}

/// The dialect of a parsed config: Keras 3 writes "module" beside the model's class_name and
/// inbound nodes as {"args", "kwargs"} objects; Keras 2.3 and tf.keras 2.x do neither.
inline bool is_keras3_config(const json& doc) {
    if (doc.is_object() && doc.contains("module")) return true;
    if (!doc.is_object() || !doc.contains("config") || !doc["config"].is_object() || !doc["config"].contains("layers") ||
        !doc["config"]["layers"].is_array())
        return false;
    for (const auto& l : doc["config"]["layers"])
        if (l.is_object() && l.contains("inbound_nodes") && l["inbound_nodes"].is_array())
            for (const auto& n : l["inbound_nodes"])
                if (n.is_object()) return true;
    return false;
}

/// A layer of a config, as listed.
struct KerasConfigLayer {
    std::string name, class_name;
};

/// The layers of a parsed config in the config's order (a Sequential model's InputLayer
/// included when listed) and whether the model is Sequential.
inline std::vector<KerasConfigLayer> keras_config_layers(const json& doc, const std::string& source, bool& sequential) {
    sequential = doc.value("class_name", json()) == "Sequential";
    const json& config = doc.at("config");
    const json& list = config.is_array() ? config : config.at("layers");
    std::vector<KerasConfigLayer> out;
    std::size_t index = 0;
    for (const auto& entry : list) {
        out.push_back({keras_layer_name(entry, source, index), keras_class_name(entry, source, index)});
        ++index;
    }
    return out;
}

inline json parse_keras_json(const std::string& json_text, const std::string& source) {
    if (json_text.size() > max_keras_config_bytes)
        throw format_error(source + ": model config of " + std::to_string(json_text.size()) + " bytes is too large");
    try {
        return json::parse(json_text);
    } catch (const json::exception& e) {
        throw format_error(source + ": model config is not valid JSON (" + e.what() + ")");
    }
}

}  // namespace detail

/// Parses a Keras model configuration (the JSON of model.to_json(), a full-model file's
/// model_config or a .keras archive's config.json) in any of the three dialects. source names
/// where the text came from in messages ("model.h5: attribute /model_config").
inline ModelSpec parse_keras_config(const std::string& json_text, const std::string& source) {
    using detail::json;
    const json doc = detail::parse_keras_json(json_text, source);
    try {
        if (!doc.is_object() || !doc.contains("class_name") || !doc["class_name"].is_string() || !doc.contains("config"))
            throw format_error(source + ": not a Keras model config (expected {\"class_name\": ..., \"config\": ...})");
        const std::string cls = doc["class_name"].get<std::string>();
        if (cls == "Sequential" || cls == "Functional" || cls == "Model") {
            // A layer prunedef cannot run is the one mistake that explains the others (an LSTM
            // model's input is not an image either): named first.
            bool sequential = false;
            const auto& ok = supported_keras_layers();
            for (const auto& l : detail::keras_config_layers(doc, source, sequential))
                if (std::find(ok.begin(), ok.end(), l.class_name) == ok.end() && l.class_name != "Functional" &&
                    l.class_name != "Sequential" && l.class_name != "Model")
                    throw format_error(source + ": layer " + l.name + " (" + l.class_name +
                                       ") is not supported by prunedef; supported: " + detail::join_names(ok));
        }
        if (cls == "Sequential") return detail::parse_keras_sequential(doc["config"], source);
        if (cls == "Functional" || cls == "Model") return detail::parse_keras_functional(doc["config"], source);
        throw format_error(source + ": model class " + cls +
                           " is not supported (expected a Sequential, Functional or Model config; subclassed models "
                           "have no config prunedef can read)");
    } catch (const json::exception& e) {  // a value of an unexpected type somewhere
        throw format_error(source + ": model config not understood (" + e.what() + ")");
    }
}

}  // namespace prunedef
