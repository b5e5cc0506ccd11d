#pragma once
// Keras 2.x weight files (model.save_weights and model.save layouts).
//
// Reading: root attribute layer_names (or layer_names0..n when Keras split it), one group per
// layer with attribute weight_names, datasets at <layer>/<weight_name>. A full-model file keeps
// the same under model_weights/ beside a model_config attribute. Every array is checked for
// rank, consistency and finite values by the layer that receives it; bind() then checks sizes
// against the input shape.
//
// Writing: the Keras 2.3 layout that keras.Model.load_weights accepts, plus prunedef's own root
// attributes prunedef_input_scale and prunedef_input_shape so that a file round-trips whole.

#include <prunedef/core/error.hpp>
#include <prunedef/io/atomic_output.hpp>
#include <prunedef/io/hdf5.hpp>
#include <prunedef/layers/weights.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace prunedef {

/// What a weight file says beyond the arrays: the settings prunedef stores with a model.
struct ModelSettings {
    std::optional<float> input_scale;
    std::optional<ImageShape> input_shape;
};

namespace detail {

/// A string-array attribute that Keras may have split into name0, name1, ... when it exceeded
/// HDF5's 64 KiB attribute limit.
inline std::vector<std::string> read_chunked_strings(const H5Object& loc, const std::string& name,
                                                     const std::string& missing) {
    if (h5_has_attribute(loc, name)) return h5_read_string_attribute(loc, name);
    if (!h5_has_attribute(loc, name + "0")) throw format_error(loc.where() + ": " + missing);
    std::vector<std::string> all;
    for (int chunk = 0; h5_has_attribute(loc, name + std::to_string(chunk)); ++chunk) {
        auto part = h5_read_string_attribute(loc, name + std::to_string(chunk));
        all.insert(all.end(), part.begin(), part.end());
    }
    return all;
}

/// The names in layer_names (or its chunks).
inline std::vector<std::string> keras_layer_names(const H5Object& root) {
    return read_chunked_strings(root, "layer_names", "attribute layer_names not found (not a Keras weights file)");
}

/// The weight_names of a layer group (or its chunks).
inline std::vector<std::string> keras_weight_names(const H5Object& group) {
    return read_chunked_strings(group, "weight_names", "attribute weight_names not found");
}

/// Opens the group that holds the layers: the root, or model_weights/ in a full-model file.
inline H5Object keras_weights_root(const H5Object& file, const std::string& group) {
    H5Object root = group.empty() || group == "/" ? open_h5_root(file) : open_h5_group(file, group);
    if (!h5_has_attribute(root, "layer_names") && !h5_has_attribute(root, "layer_names0") &&
        h5_has_link(root, "model_weights"))
        return open_h5_group(root, "model_weights");
    return root;
}

/// Largest weight array read (elements): 2^28 float32 values, 1 GiB.
inline constexpr std::size_t max_weight_elements = std::size_t(1) << 28;

/// Reads one weight dataset: float, within max_weight_elements, stored whole, every value finite.
inline WeightArray read_keras_weight(const H5Object& ds, std::string name) {
    const H5T_class_t cls = h5_dataset_class(ds);
    if (cls != H5T_FLOAT) throw format_error(ds.where() + ": expected float weights, found " + h5_class_name(cls));
    WeightArray w;
    w.name = std::move(name);
    w.dims = h5_dataset_dims(ds);
    h5_check_dataset_storage(ds, w.dims, max_weight_elements);
    h5_read_numeric(ds, w.values);
    for (std::size_t i = 0; i < w.values.size(); ++i)
        if (!std::isfinite(w.values[i]))
            throw format_error(ds.where() + ": non-finite value (" + std::to_string(w.values[i]) + ") at flat index " +
                               std::to_string(i));
    return w;
}

inline std::vector<WeightArray> read_keras_layer(const H5Object& root, const std::string& layer) {
    H5Object group = open_h5_group(root, layer);
    std::vector<WeightArray> arrays;
    for (const std::string& weight_name : keras_weight_names(group)) {
        const auto slash = weight_name.rfind('/');
        arrays.push_back(read_keras_weight(open_h5_dataset(group, weight_name),
                                           slash == std::string::npos ? weight_name : weight_name.substr(slash + 1)));
    }
    return arrays;
}

}  // namespace detail

namespace detail {
inline ModelSettings read_model_settings(const H5Object& root) {
    ModelSettings s;
    if (detail::h5_has_attribute(root, "prunedef_input_scale")) {
        auto v = detail::h5_read_numeric_attribute(root, "prunedef_input_scale");
        if (v.size() != 1 || !(v[0] > 0) || !std::isfinite(v[0]))
            throw format_error(root.where() + " attribute prunedef_input_scale: expected one positive number");
        s.input_scale = static_cast<float>(v[0]);
    }
    if (detail::h5_has_attribute(root, "prunedef_input_shape")) {
        auto v = detail::h5_read_numeric_attribute(root, "prunedef_input_shape");
        bool ok = v.size() == 3;
        for (std::size_t i = 0; ok && i < v.size(); ++i)  // NaN fails every comparison: tested as !(in range)
            ok = std::isfinite(v[i]) && v[i] == std::floor(v[i]) && v[i] >= 1 && v[i] <= 65536;
        if (!ok) {
            std::string found;
            for (double x : v) found += (found.empty() ? "" : ", ") + std::to_string(x);
            throw format_error(root.where() + " attribute prunedef_input_shape: expected (height, width, channels), "
                               "integers in 1..65536, found (" + found + ")");
        }
        s.input_shape = ImageShape{std::size_t(v[0]), std::size_t(v[1]), std::size_t(v[2])};
    }
    return s;
}
}  // namespace detail

/// Reads prunedef's stored settings (input scale and shape) if the file has them.
inline ModelSettings read_model_settings(const std::string& path, const std::string& group = "/") {
    const detail::H5Object file = detail::open_h5_file(path);
    return detail::read_model_settings(detail::keras_weights_root(file, group));
}

/// Loads a Keras weights file into a network's layers (matched by layer name). Throws when a
/// weighted layer of the network is missing from the file, when the file has weighted layers
/// the network lacks, or when an array does not fit its layer. Applies stored settings; binds
/// the network when the file records its input shape.
template <class Net>
void load_keras_weights(const std::string& path, Net& net, const std::string& group = "/") {
    detail::H5Object file = detail::open_h5_file(path);
    detail::H5Object root = detail::keras_weights_root(file, group);
    const std::vector<std::string> names = detail::keras_layer_names(root);
    std::set<std::string> listed;
    for (const auto& n : names)
        if (!listed.insert(n).second)
            throw format_error(root.where() + " attribute layer_names: layer " + n + " is listed twice");
    std::set<std::string> used;
    net.visit([&](auto& layer) {
        using L = std::decay_t<decltype(layer)>;
        if constexpr (L::has_weights) {
            if (!listed.count(layer.name()))
                throw format_error(root.where() + ": layer " + layer.name() + " not found in layer_names");
            try {
                layer.set_weights(detail::read_keras_layer(root, layer.name()));
            } catch (const shape_error& e) {
                throw shape_error(path + ": " + root.child_path(layer.name()) + ": " + e.what());
            } catch (const format_error& e) {
                const std::string msg = e.what();
                if (msg.rfind(path, 0) == 0) throw;
                throw format_error(path + ": " + root.child_path(layer.name()) + ": " + msg);
            }
            used.insert(layer.name());
        }
    });
    for (const auto& n : names) {
        if (used.count(n)) continue;
        if (!detail::h5_has_link(root, n)) continue;  // weightless layers may lack a group
        detail::H5Object g = detail::open_h5_group(root, n);
        if (!detail::keras_weight_names(g).empty())
            throw format_error(g.where() + ": layer has weights but the model has no weighted layer of that name");
    }
    const ModelSettings settings = detail::read_model_settings(root);
    if (settings.input_scale) net.set_input_scale(*settings.input_scale);
    if (settings.input_shape) {
        try {
            net.bind(*settings.input_shape);
        } catch (const shape_error& e) {
            throw shape_error(path + ": " + e.what());
        }
    }
}

namespace detail {

/// Writes one group per layer of order: attribute weight_names ("layer/kernel:0", ...; an
/// empty array for a weightless layer) and the arrays under <layer>/<layer>/. A weight's name
/// gets Keras' ":0" suffix when it has none.
inline void write_keras_weight_groups(const H5Object& root, const std::vector<std::string>& order,
                                      const std::map<std::string, std::vector<WeightArray>>& by_name) {
    for (const auto& name : order) {
        H5Object group = create_h5_group(root, name);
        const auto it = by_name.find(name);
        if (it == by_name.end() || it->second.empty()) {
            h5_write_numeric_attribute(group, "weight_names", {});
            continue;
        }
        auto variable = [](const std::string& n) { return n.find(':') == std::string::npos ? n + ":0" : n; };
        std::vector<std::string> weight_names;
        for (const auto& w : it->second) weight_names.push_back(name + "/" + variable(w.name));
        h5_write_string_attribute(group, "weight_names", weight_names);
        H5Object inner = create_h5_group(group, name);
        for (const auto& w : it->second) h5_write_dataset(inner, variable(w.name), w.dims, w.values.data(), H5T_IEEE_F32LE);
    }
}

template <class Net>
void write_keras_layers(const H5Object& root, const Net& net) {
    std::map<std::string, std::vector<WeightArray>> by_name;
    std::vector<std::string> visit_order;
    net.visit([&](const auto& layer) {
        using L = std::decay_t<decltype(layer)>;
        visit_order.push_back(layer.name());
        if constexpr (L::has_weights) by_name[layer.name()] = layer.weights();
        else by_name[layer.name()];
    });
    std::vector<std::string> order = net.layer_order().empty() ? visit_order : net.layer_order();
    for (const auto& n : visit_order)
        if (std::find(order.begin(), order.end(), n) == order.end())
            throw argument_error("layer order of the network omits layer " + n);
    h5_write_string_attribute(root, "layer_names", order);
    h5_write_string_attribute(root, "backend", {"tensorflow"}, true);
    h5_write_string_attribute(root, "keras_version", {"2.3.1"}, true);
    if (net.bound()) {
        const ImageShape s = net.input_shape();
        h5_write_numeric_attribute(root, "prunedef_input_shape", {double(s.height), double(s.width), double(s.channels)});
    }
    h5_write_numeric_attribute(root, "prunedef_input_scale", {double(net.input_scale())}, true);
    write_keras_weight_groups(root, order, by_name);
}

}  // namespace detail

/// Writes a network as a Keras 2.3 weights file (atomically: a temporary file renamed into place).
template <class Net>
void save_keras_weights(const std::string& path, const Net& net) {
    AtomicOutput out(path);
    {
        detail::H5Object file = detail::create_h5_file(out.path());
        file.file = path;
        detail::H5Object root = detail::open_h5_root(file);
        detail::write_keras_layers(root, net);
    }
    out.commit();
}

}  // namespace prunedef
