#pragma once
// A compile-time network's weights as a ModelWeights map (layer name -> arrays with Keras' names
// without ":0", "kernel" and "bias"), and back: the exchange format between the compile-time
// types (DeepID) and the Keras model readers and writers (model/layer_spec.hpp).

#include <prunedef/core/error.hpp>
#include <prunedef/layers/weights.hpp>
#include <prunedef/model/layer_spec.hpp>

#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace prunedef {

namespace detail {
/// Keras' name of a weight array without the ":0" suffix ("kernel:0" -> "kernel").
inline std::string keras_weight_base_name(const std::string& name) {
    const auto colon = name.rfind(':');
    return colon == std::string::npos ? name : name.substr(0, colon);
}
}  // namespace detail

/// Every weighted layer's weights by layer name, with ":0" stripped from the arrays' names.
template <class Net>
ModelWeights collect_weights(const Net& net) {
    ModelWeights out;
    net.visit([&](const auto& layer) {
        using L = std::decay_t<decltype(layer)>;
        if constexpr (L::has_weights) {
            std::vector<WeightArray> arrays = layer.weights();
            for (auto& w : arrays) w.name = detail::keras_weight_base_name(w.name);
            out[layer.name()] = std::move(arrays);
        }
    });
    return out;
}

/// Sets every weighted layer's weights from a map (array names with or without ":0"; arrays
/// matched by name, in the layer's order). Throws format_error naming the layer and `source` when
/// a weighted layer is missing from the map, an array is missing or extra, or the map has weights
/// for a layer the network has no weighted layer of; shape_error when an array does not fit.
template <class Net>
void assign_weights(Net& net, const ModelWeights& weights, const std::string& source) {
    std::set<std::string> used;
    net.visit([&](auto& layer) {
        using L = std::decay_t<decltype(layer)>;
        if constexpr (L::has_weights) {
            const auto it = weights.find(layer.name());
            if (it == weights.end() || it->second.empty())
                throw format_error(source + ": no weights for layer " + layer.name());
            std::vector<WeightArray> arrays;
            for (const WeightArray& expected : layer.weights()) {  // the layer's names and order
                const std::string want = detail::keras_weight_base_name(expected.name);
                const WeightArray* found = nullptr;
                for (const WeightArray& w : it->second)
                    if (detail::keras_weight_base_name(w.name) == want) found = &w;
                if (!found) throw format_error(source + ": layer " + layer.name() + ": weight " + want + " missing");
                arrays.push_back(*found);
                arrays.back().name = want + ":0";
            }
            if (it->second.size() != arrays.size())
                throw format_error(source + ": layer " + layer.name() + " has " + std::to_string(it->second.size()) +
                                   " weight arrays, expected " + std::to_string(arrays.size()));
            try {
                layer.set_weights(std::move(arrays));
            } catch (const shape_error& e) {
                throw shape_error(source + ": " + e.what());
            } catch (const format_error& e) {
                throw format_error(source + ": " + e.what());
            }
            used.insert(layer.name());
        }
    });
    for (const auto& [name, arrays] : weights)
        if (!arrays.empty() && !used.count(name))
            throw format_error(source + ": weights for layer " + name + ", which the network has no weighted layer of");
}

}  // namespace prunedef
