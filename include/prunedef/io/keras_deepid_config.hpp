#pragma once
// The model config of the CSAW challenge's DeepID network (its architecture.py), written in the
// tf.keras 2.x Functional dialect with the sizes of given weights, so that a network read from
// a weights-only file can be written as a full model that keras.models.load_model opens. Layer
// names and order are those of the challenge's weight files (Keras 2.3 naming: flatten_1,
// flatten_2, add_1, activation_1).

#include <prunedef/core/error.hpp>
#include <prunedef/core/shape.hpp>
#include <prunedef/io/keras_layer_weights.hpp>
#include <prunedef/model/layer_spec.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace prunedef {
namespace detail {

/// (kernel dims) of a DeepID layer's weights, checked for rank.
inline std::vector<std::size_t> deepid_kernel_dims(const ModelWeights& weights, const std::string& layer, std::size_t rank) {
    const auto it = weights.find(layer);
    if (it != weights.end())
        for (const auto& w : it->second)
            if (keras_variable_name(w.name) == "kernel") {
                if (w.dims.size() != rank)
                    throw shape_error("DeepID config: layer " + layer + " kernel has shape " + detail::dims_str(w.dims) + ", expected rank " +
                                      std::to_string(rank));
                return w.dims;
            }
    throw argument_error("DeepID config: the weights have no kernel for layer " + layer);
}

inline nlohmann::json keras2_layer(const std::string& class_name, const std::string& name, nlohmann::json config,
                                   const std::vector<std::string>& inputs) {
    config["name"] = name;
    if (class_name != "InputLayer") {
        config["trainable"] = true;
        config["dtype"] = "float32";
    }
    nlohmann::json nodes = nlohmann::json::array();
    if (!inputs.empty()) {
        nlohmann::json node = nlohmann::json::array();
        for (const auto& in : inputs) node.push_back({in, 0, 0, nlohmann::json::object()});
        nodes.push_back(node);
    }
    return {{"module", "keras.layers"}, {"class_name", class_name}, {"config", config},
            {"registered_name", nullptr}, {"name", name}, {"inbound_nodes", nodes}};
}

}  // namespace detail

/// The CSAW DeepID architecture's model config (tf.keras 2.x Functional JSON) for an input of
/// the given shape and the filter and unit counts of the given weights (conv_1..conv_4, fc_1,
/// fc_2, output).
inline std::string deepid_keras_config(const ModelWeights& weights, const ImageShape& input) {
    using nlohmann::json;
    if (input.height == 0 || input.width == 0 || input.channels == 0)
        throw argument_error("DeepID config: input shape " + input.str() + " has a zero dimension");
    std::vector<json> layers;
    layers.push_back(detail::keras2_layer("InputLayer", "input",
                                          {{"batch_input_shape", {nullptr, input.height, input.width, input.channels}},
                                           {"dtype", "float32"}, {"sparse", false}, {"ragged", false}},
                                          {}));
    auto conv = [&](const std::string& name, const std::string& from) {
        const auto k = detail::deepid_kernel_dims(weights, name, 4);
        layers.push_back(detail::keras2_layer(
            "Conv2D", name,
            {{"filters", k[3]}, {"kernel_size", {k[0], k[1]}}, {"strides", {1, 1}}, {"padding", "valid"},
             {"data_format", "channels_last"}, {"dilation_rate", {1, 1}}, {"groups", 1}, {"activation", "relu"},
             {"use_bias", true}},
            {from}));
    };
    auto pool = [&](const std::string& name, const std::string& from) {
        layers.push_back(detail::keras2_layer("MaxPooling2D", name,
                                              {{"pool_size", {2, 2}}, {"padding", "valid"}, {"strides", {2, 2}},
                                               {"data_format", "channels_last"}},
                                              {from}));
    };
    auto dense = [&](const std::string& name, const std::string& from, const char* activation) {
        const auto k = detail::deepid_kernel_dims(weights, name, 2);
        layers.push_back(detail::keras2_layer("Dense", name, {{"units", k[1]}, {"activation", activation}, {"use_bias", true}},
                                              {from}));
    };
    auto flatten = [&](const std::string& name, const std::string& from) {
        layers.push_back(detail::keras2_layer("Flatten", name, {{"data_format", "channels_last"}}, {from}));
    };
    conv("conv_1", "input");
    pool("pool_1", "conv_1");
    conv("conv_2", "pool_1");
    pool("pool_2", "conv_2");
    conv("conv_3", "pool_2");
    pool("pool_3", "conv_3");
    conv("conv_4", "pool_3");
    flatten("flatten_1", "pool_3");
    flatten("flatten_2", "conv_4");
    dense("fc_1", "flatten_1", "linear");
    dense("fc_2", "flatten_2", "linear");
    layers.push_back(detail::keras2_layer("Add", "add_1", json::object(), {"fc_1", "fc_2"}));
    layers.push_back(detail::keras2_layer("Activation", "activation_1", {{"activation", "relu"}}, {"add_1"}));
    dense("output", "activation_1", "softmax");
    const json model = {{"class_name", "Functional"},
                        {"config",
                         {{"name", "model"},
                          {"trainable", true},
                          {"layers", layers},
                          {"input_layers", json::array({json::array({"input", 0, 0})})},
                          {"output_layers", json::array({json::array({"output", 0, 0})})}}},
                        {"keras_version", "2.21.0"},
                        {"backend", "tensorflow"}};
    return model.dump();
}

}  // namespace prunedef
