#pragma once
// keras_config_json(spec): a ModelSpec written as a tf.keras 2.x functional model configuration
// (model.to_json()'s dialect) that parse_keras_config() reads back into the same spec. For models
// that come from no Keras file (io/onnx_import.hpp), so that prunedef's own files that carry a
// configuration (GoodNet files of repair, full-model .h5) can hold them.
//
// Every field of LayerSpec that its class uses is written; the round trip is checked in
// tests/test_onnx_import.cpp. A class parse_keras_config() does not know is refused.

#include <prunedef/core/error.hpp>
#include <prunedef/io/keras_config.hpp>
#include <prunedef/model/layer_spec.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>

namespace prunedef {

inline std::string keras_config_json(const ModelSpec& spec) {
    using detail::json;
    const auto pair = [](const std::array<std::size_t, 2>& p) { return json::array({p[0], p[1]}); };
    json layers = json::array();
    const auto& ok = supported_keras_layers();
    for (const LayerSpec& l : spec.layers) {
        if (std::find(ok.begin(), ok.end(), l.class_name) == ok.end())
            throw argument_error((spec.source.empty() ? std::string("model") : spec.source) + ": layer " + l.name + " (" +
                                 l.class_name + ") has no Keras configuration");
        json c = {{"name", l.name}, {"trainable", true}, {"dtype", "float32"}};
        const std::string& k = l.class_name;
        if (k == "InputLayer") {
            if (!l.input_shape) throw argument_error("layer " + l.name + " (InputLayer): no input shape");
            c["batch_input_shape"] = json::array({nullptr, l.input_shape->height, l.input_shape->width, l.input_shape->channels});
            c["sparse"] = false;
            c["ragged"] = false;
        } else if (k == "Conv2D") {
            c["filters"] = l.units;
            c["kernel_size"] = pair(l.kernel_size);
            c["strides"] = pair(l.strides);
            c["padding"] = l.padding;
            c["data_format"] = "channels_last";
            c["dilation_rate"] = json::array({1, 1});
            c["groups"] = 1;
            c["activation"] = l.activation;
            c["use_bias"] = l.use_bias;
        } else if (k == "Dense") {
            c["units"] = l.units;
            c["activation"] = l.activation;
            c["use_bias"] = l.use_bias;
        } else if (k == "MaxPooling2D" || k == "AveragePooling2D") {
            c["pool_size"] = pair(l.pool_size);
            c["strides"] = pair(l.strides);
            c["padding"] = l.padding;
            c["data_format"] = "channels_last";
        } else if (k == "GlobalAveragePooling2D" || k == "GlobalMaxPooling2D" || k == "Flatten") {
            c["data_format"] = "channels_last";
        } else if (k == "ZeroPadding2D") {
            const auto& z = l.zero_padding;
            c["padding"] = json::array({json::array({z[0], z[1]}), json::array({z[2], z[3]})});
            c["data_format"] = "channels_last";
        } else if (k == "Activation") {
            c["activation"] = l.activation;
        } else if (k == "LeakyReLU") {
            c["alpha"] = l.alpha;
        } else if (k == "BatchNormalization") {
            c["axis"] = json::array({l.axis});
            c["epsilon"] = l.epsilon;
            c["center"] = l.center;
            c["scale"] = l.scale;
        } else if (k == "Concatenate") {
            c["axis"] = l.axis;
        }
        json inbound = json::array();
        if (!l.inputs.empty()) {
            json node = json::array();
            for (const auto& in : l.inputs) node.push_back(json::array({in, 0, 0, json::object()}));
            inbound.push_back(node);
        }
        layers.push_back({{"class_name", k}, {"name", l.name}, {"config", c}, {"inbound_nodes", inbound}});
    }
    const json doc = {{"class_name", "Functional"},
                      {"config",
                       {{"name", "model"},
                        {"layers", layers},
                        {"input_layers", json::array({json::array({spec.input, 0, 0})})},
                        {"output_layers", json::array({json::array({spec.output, 0, 0})})}}},
                      {"keras_version", "2.21.0"},
                      {"backend", "tensorflow"}};
    return doc.dump();
}

}  // namespace prunedef
