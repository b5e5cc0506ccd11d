#pragma once
// The weights a configuration's layers must have: Keras' variable names in Keras' order
// (kernel, bias; gamma, beta, moving_mean, moving_variance) and the shapes the config states.
// A model file's weights are checked against its config before anything uses them, and put in
// that order (the order Keras reads them back by).

#include <prunedef/core/error.hpp>
#include <prunedef/core/shape.hpp>
#include <prunedef/model/layer_spec.hpp>

#include <algorithm>
#include <cstddef>
#include <set>
#include <string>
#include <vector>

namespace prunedef {

/// Keras' variable names of a layer, in the order Keras creates them (empty for weightless layers).
inline std::vector<std::string> keras_variable_names(const LayerSpec& l) {
    if (l.class_name == "Conv2D" || l.class_name == "Dense")
        return l.use_bias ? std::vector<std::string>{"kernel", "bias"} : std::vector<std::string>{"kernel"};
    if (l.class_name == "BatchNormalization") {
        std::vector<std::string> names;
        if (l.scale) names.push_back("gamma");
        if (l.center) names.push_back("beta");
        names.push_back("moving_mean");
        names.push_back("moving_variance");
        return names;
    }
    return {};
}

/// A weight's name without Keras 2's ":0" suffix and "layer/" prefix ("conv_1/kernel:0" -> "kernel").
inline std::string keras_variable_name(const std::string& stored) {
    std::string n = stored;
    const auto slash = n.rfind('/');
    if (slash != std::string::npos) n = n.substr(slash + 1);
    const auto colon = n.rfind(':');
    if (colon != std::string::npos && colon + 1 < n.size() &&
        std::all_of(n.begin() + static_cast<std::ptrdiff_t>(colon) + 1, n.end(), [](char c) { return c >= '0' && c <= '9'; }))
        n.resize(colon);
    return n;
}

/// Checks weights against a spec and returns them in Keras' order: every weighted layer has
/// exactly its variables, with the shapes its config states (kernel size and filters or units;
/// one length for a batch normalization's vectors), finite values having been checked on reading;
/// no layer the spec lacks and no weightless layer has weights. where names the file in messages.
inline ModelWeights check_keras_weights(const ModelSpec& spec, const ModelWeights& weights, const std::string& where) {
    for (const auto& [name, arrays] : weights)
        if (!arrays.empty() && !spec.find(name))
            throw format_error(where + ": has weights for layer " + name + ", which the model config does not have");
    ModelWeights out;
    for (const auto& l : spec.layers) {
        const std::vector<std::string> expected = keras_variable_names(l);
        const auto it = weights.find(l.name);
        const std::size_t found = it == weights.end() ? 0 : it->second.size();
        const std::string layer = where + ": layer " + l.name + " (" + l.class_name + ")";
        if (expected.empty()) {
            if (found) throw format_error(layer + ": has " + std::to_string(found) + " weight arrays, the layer has none");
            continue;
        }
        if (found == 0) throw format_error(layer + ": weights not found");
        std::vector<WeightArray> ordered;
        std::set<std::string> seen;
        for (const auto& w : it->second)
            if (!seen.insert(keras_variable_name(w.name)).second)
                throw format_error(layer + ": weight " + w.name + " appears twice");
        for (const auto& n : expected) {
            const auto w = std::find_if(it->second.begin(), it->second.end(),
                                        [&](const WeightArray& a) { return keras_variable_name(a.name) == n; });
            if (w == it->second.end()) {
                std::string names;
                for (const auto& a : it->second) names += (names.empty() ? "" : ", ") + a.name;
                std::string want;
                for (const auto& e : expected) want += (want.empty() ? "" : ", ") + e;
                throw format_error(layer + ": weight " + n + " not found (the config states " + want + "; found " + names + ")");
            }
            WeightArray a = *w;
            a.name = n;
            if (a.values.size() != a.element_count())
                throw format_error(layer + ": weight " + n + " has " + std::to_string(a.values.size()) +
                                   " values for shape " + detail::dims_str(a.dims));
            ordered.push_back(std::move(a));
        }
        if (ordered.size() != it->second.size()) {
            std::string names;
            for (const auto& a : it->second) names += (names.empty() ? "" : ", ") + a.name;
            throw format_error(layer + ": has weights " + names + ", more than the config states");
        }
        auto bad = [&](const WeightArray& a, const std::string& want) {
            throw format_error(layer + ": weight " + a.name + " has shape " + detail::dims_str(a.dims) + ", the config states " + want);
        };
        const std::string units = std::to_string(l.units);
        if (l.class_name == "Conv2D") {
            const auto& k = ordered[0].dims;
            if (k.size() != 4 || k[0] != l.kernel_size[0] || k[1] != l.kernel_size[1] || k[2] == 0 || k[3] != l.units)
                bad(ordered[0], "(" + std::to_string(l.kernel_size[0]) + ", " + std::to_string(l.kernel_size[1]) +
                                    ", channels, " + units + ")");
        } else if (l.class_name == "Dense") {
            const auto& k = ordered[0].dims;
            if (k.size() != 2 || k[0] == 0 || k[1] != l.units) bad(ordered[0], "(inputs, " + units + ")");
        }
        if (l.class_name == "Conv2D" || l.class_name == "Dense") {
            if (l.use_bias && ordered[1].dims != std::vector<std::size_t>{l.units}) bad(ordered[1], "(" + units + ")");
        } else {  // BatchNormalization: vectors of one length
            const std::size_t c = ordered[0].dims.size() == 1 ? ordered[0].dims[0] : 0;
            for (const auto& a : ordered)
                if (a.dims.size() != 1 || a.dims[0] != c || c == 0)
                    throw format_error(layer + ": weight " + a.name + " has shape " + detail::dims_str(a.dims) + ", " +
                                       ordered[0].name + " has " + detail::dims_str(ordered[0].dims) +
                                       " (a batch normalization's vectors have one length, its channels)");
            for (float v : ordered.back().values)
                if (v < 0) throw format_error(layer + ": moving_variance has a negative value (" + std::to_string(v) + ")");
        }
        out[l.name] = std::move(ordered);
    }
    return out;
}

}  // namespace prunedef
