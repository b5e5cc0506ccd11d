#pragma once
// The weights file of a Keras 3 .keras archive (model.weights.h5). Keras 3 keys a model's
// layers not by name but by position: layers/<snake_case of the class>[_<n>]/vars/<i>, the
// n-th layer of a class in the model's layer list (a Functional model lists its InputLayer, a
// Sequential model does not), and the variables numbered in Keras' order (kernel, bias; gamma,
// beta, moving_mean, moving_variance). Each vars group carries the layer's name as attribute
// "name"; the model's own vars group is empty.

#include <prunedef/core/error.hpp>
#include <prunedef/io/hdf5.hpp>
#include <prunedef/io/keras_config.hpp>
#include <prunedef/io/keras_layer_weights.hpp>
#include <prunedef/io/keras_weights.hpp>
#include <prunedef/model/layer_spec.hpp>

#include <cctype>
#include <map>
#include <regex>
#include <string>
#include <utility>
#include <vector>

namespace prunedef {
namespace detail {

/// Keras 3's naming.to_snake_case of a class name ("MaxPooling2D" -> "max_pooling2d",
/// "LeakyReLU" -> "leaky_re_lu").
inline std::string keras_snake_case(const std::string& class_name) {
    std::string s;
    for (char c : class_name)
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') s += c;
    s = std::regex_replace(s, std::regex("(.)([A-Z][a-z]+)"), "$1_$2");
    s = std::regex_replace(s, std::regex("([a-z])([A-Z])"), "$1_$2");
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

/// (layer name, group path under /) of each layer Keras 3 saves, in the model's layer order.
inline std::vector<std::pair<std::string, std::string>> keras3_weight_groups(const std::vector<KerasConfigLayer>& layers,
                                                                               bool sequential) {
    std::map<std::string, int> used;
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& l : layers) {
        if (sequential && l.class_name == "InputLayer") continue;
        std::string key = keras_snake_case(l.class_name);
        const auto it = used.find(key);
        if (it == used.end()) used[key] = 0;
        else key += "_" + std::to_string(++it->second);
        out.emplace_back(l.name, "layers/" + key);
    }
    return out;
}

/// Reads the weights of a Keras 3 model.weights.h5 by the config's layers; the names are
/// Keras' variable names. Arrays missing or in excess are refused here, shapes by
/// check_keras_weights().
inline ModelWeights read_keras3_weights(const H5Object& file, const ModelSpec& spec,
                                        const std::vector<KerasConfigLayer>& layers, bool sequential) {
    const H5Object root = open_h5_root(file);
    ModelWeights out;
    for (const auto& [name, path] : keras3_weight_groups(layers, sequential)) {
        const LayerSpec* l = spec.find(name);
        if (!l) throw format_error(file.file + ": layer " + name + " of the config is not in the model");
        const std::vector<std::string> expected = keras_variable_names(*l);
        const std::string vars = path + "/vars";
        const std::string layer = "layer " + name + " (" + l->class_name + ")";
        if (expected.empty()) {
            if (h5_has_link(root, vars) && h5_has_link(open_h5_group(root, vars), "0"))
                throw format_error(file.file + ": /" + vars + ": has weights, but " + layer + " has none");
            continue;
        }
        if (!h5_has_link(root, path) || !h5_has_link(open_h5_group(root, path), "vars"))
            throw format_error(file.file + ": /" + vars + ": group not found (the weights of " + layer + ")");
        const H5Object group = open_h5_group(root, vars);
        std::vector<WeightArray> arrays;
        for (std::size_t i = 0; i < expected.size(); ++i) {
            const std::string index = std::to_string(i);
            if (!h5_has_link(group, index))
                throw format_error(group.where() + ": dataset " + index + " (" + expected[i] + " of " + layer + ") not found");
            arrays.push_back(read_keras_weight(open_h5_dataset(group, index), expected[i]));
        }
        if (h5_has_link(group, std::to_string(expected.size())))
            throw format_error(group.where() + ": holds more than the " + std::to_string(expected.size()) +
                               " arrays of " + layer);
        out[name] = std::move(arrays);
    }
    return out;
}

/// Writes weights (checked, in Keras' order) in Keras 3's layout into an open file's root.
inline void write_keras3_weights(const H5Object& file, const std::vector<KerasConfigLayer>& layers, bool sequential,
                                 const ModelWeights& weights) {
    const H5Object root = open_h5_root(file);
    const H5Object all = create_h5_group(root, "layers");
    for (const auto& [name, path] : keras3_weight_groups(layers, sequential)) {
        const H5Object layer = create_h5_group(all, path.substr(std::string("layers/").size()));
        const H5Object vars = create_h5_group(layer, "vars");
        h5_write_vlen_string_attribute(vars, "name", name);
        const auto it = weights.find(name);
        if (it == weights.end()) continue;
        for (std::size_t i = 0; i < it->second.size(); ++i) {
            const WeightArray& w = it->second[i];
            h5_write_dataset(vars, std::to_string(i), w.dims, w.values.data(), H5T_IEEE_F32LE);
        }
    }
    create_h5_group(root, "vars");
}

}  // namespace detail
}  // namespace prunedef
