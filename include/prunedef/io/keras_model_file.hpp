#pragma once
// Keras model files as users have them, read whole and written back:
//  - a weights-only .h5 (model.save_weights, Keras 2 layout), with the architecture given by a
//    model.to_json() file (config_path) or left to the caller (DeepID);
//  - a Keras 2 full-model .h5 (model.save: root attributes model_config, keras_version,
//    backend; the weights under /model_weights), both the Keras 2.3 and the tf.keras 2.x dialect;
//  - a Keras 3 .keras archive (a zip holding config.json, metadata.json, model.weights.h5).
// The config text is kept as stored, so that a model written back (B') has exactly the input's
// architecture. Weights are checked against the config (names, shapes) when there is one.
//
// prunedef's own settings (input scale and shape) are stored as attributes prunedef_input_scale
// and prunedef_input_shape: at the root of a weights-only file, on /model_weights of a
// full-model file, at the root of a .keras archive's model.weights.h5. Keras ignores them.

#include <prunedef/core/error.hpp>
#include <prunedef/io/atomic_output.hpp>
#include <prunedef/io/hdf5.hpp>
#include <prunedef/io/hdf5_memory.hpp>
#include <prunedef/io/input_file.hpp>
#include <prunedef/io/keras3_weights.hpp>
#include <prunedef/io/keras_config.hpp>
#include <prunedef/io/keras_layer_weights.hpp>
#include <prunedef/io/keras_weights.hpp>
#include <prunedef/io/zip_archive.hpp>
#include <prunedef/model/layer_spec.hpp>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace prunedef {

enum class KerasFileKind {
    weights_only,  ///< .h5 from model.save_weights (no config inside)
    full_model,    ///< .h5 from model.save in Keras 2 (config in attribute model_config)
    keras_archive  ///< .keras zip from Keras 3
};

inline const char* keras_file_kind_name(KerasFileKind k) {
    switch (k) {
        case KerasFileKind::weights_only: return "weights-only .h5";
        case KerasFileKind::full_model: return "full-model .h5";
        case KerasFileKind::keras_archive: return ".keras archive";
    }
    return "?";
}

/// A Keras model file as read.
struct KerasModelFile {
    std::string path;
    KerasFileKind kind = KerasFileKind::weights_only;
    /// The model config JSON as stored (a full model's model_config, an archive's config.json,
    /// or the text of the config file given for a weights-only file); empty when there is none.
    std::string config_json;
    std::string config_source;  ///< where config_json came from, for messages
    std::string keras_version;  ///< root attribute (h5) or metadata.json's keras_version (archive)
    std::string backend;        ///< root attribute (h5)
    std::string metadata_json;  ///< an archive's metadata.json as stored
    std::optional<ModelSpec> spec;  ///< the parsed config, when there is one
    /// The layers' weights by layer name, Keras' variable names without ":0"; checked against
    /// spec and in Keras' order when there is a spec.
    ModelWeights weights;
    /// Layer names in the file's order (h5: layer_names; archive: the config's layer list).
    std::vector<std::string> layer_order;
    ModelSettings settings;  ///< prunedef's stored input scale and shape
};

namespace detail {

/// Largest entries of a .keras archive read.
inline constexpr std::size_t max_keras_metadata_bytes = std::size_t(1) << 20;
inline constexpr std::size_t max_keras_weights_bytes = std::size_t(1) << 32;

inline std::string read_small_text_file(const std::string& path, std::size_t max_bytes, const std::string& expected) {
    require_regular_input(path, expected);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw io_error(path + ": cannot open");
    std::string text;
    char buffer[65536];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        text.append(buffer, static_cast<std::size_t>(in.gcount()));
        if (text.size() > max_bytes) throw format_error(path + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
    if (in.bad()) throw io_error(path + ": read failed");
    return text;
}

/// One string of a string attribute (scalar or a one-element array).
inline std::string h5_read_single_string(const H5Object& loc, const std::string& name) {
    const auto v = h5_read_string_attribute(loc, name);
    if (v.size() != 1) throw format_error(loc.where() + " attribute " + name + ": expected one string, found " + std::to_string(v.size()));
    return v[0];
}

inline void write_model_settings(const H5Object& loc, const ModelSettings& s) {
    if (s.input_shape)
        h5_write_numeric_attribute(loc, "prunedef_input_shape",
                                   {double(s.input_shape->height), double(s.input_shape->width), double(s.input_shape->channels)});
    if (s.input_scale) h5_write_numeric_attribute(loc, "prunedef_input_scale", {double(*s.input_scale)}, true);
}

/// Reads the layers of a Keras 2 weights group (layer_names, weight_names) into ModelWeights.
inline void read_keras2_weights(const H5Object& root, KerasModelFile& m) {
    m.layer_order = keras_layer_names(root);
    std::set<std::string> listed;
    for (const auto& n : m.layer_order) {
        if (!listed.insert(n).second)
            throw format_error(root.where() + " attribute layer_names: layer " + n + " is listed twice");
        if (!h5_has_link(root, n)) continue;  // weightless layers may lack a group
        std::vector<WeightArray> arrays = read_keras_layer(root, n);
        for (auto& w : arrays) w.name = keras_variable_name(w.name);
        if (!arrays.empty()) m.weights[n] = std::move(arrays);
    }
    m.settings = read_model_settings(root);
}

inline bool file_starts_with(const std::string& path, const char* magic, std::size_t n) {
    std::ifstream in(path, std::ios::binary);
    std::string head(n, '\0');
    return in.read(head.data(), static_cast<std::streamsize>(n)) && std::memcmp(head.data(), magic, n) == 0;
}

inline void check_same_config(const KerasModelFile& m, const std::string& config_path, const std::string& given) {
    if (parse_keras_json(given, config_path) != parse_keras_json(m.config_json, m.config_source))
        throw argument_error(m.path + ": is a " + keras_file_kind_name(m.kind) + " with its own model config, and " +
                             config_path + " differs from it; give the model file alone (or a weights-only file with --config)");
}

}  // namespace detail

/// Reads a Keras model file of any of the three kinds. config_path names a model.to_json()
/// file giving the architecture of a weights-only file; given with a full model or an archive,
/// it must state the same config (else argument_error: ambiguous).
inline KerasModelFile read_keras_model(const std::string& path, const std::string& config_path = "") {
    detail::require_regular_input(path, "a Keras model file (.h5 or .keras)");
    KerasModelFile m;
    m.path = path;
    std::string given;
    if (!config_path.empty())
        given = detail::read_small_text_file(config_path, detail::max_keras_config_bytes, "a Keras model config (model.to_json())");
    if (detail::file_starts_with(path, "PK\x03\x04", 4) || detail::file_starts_with(path, "PK\x05\x06", 4)) {
        m.kind = KerasFileKind::keras_archive;
        ZipReader zip(path);
        m.config_json = zip.read("config.json", detail::max_keras_config_bytes);
        m.config_source = path + ": entry config.json";
        if (zip.has("metadata.json")) {
            m.metadata_json = zip.read("metadata.json", detail::max_keras_metadata_bytes);
            detail::json meta;
            try {
                meta = detail::json::parse(m.metadata_json);
            } catch (const detail::json::exception& e) {
                throw format_error(path + ": entry metadata.json: not valid JSON (" + e.what() + ")");
            }
            if (meta.is_object() && meta.contains("keras_version") && meta["keras_version"].is_string())
                m.keras_version = meta["keras_version"].get<std::string>();
        }
        if (!given.empty()) detail::check_same_config(m, config_path, given);
        const detail::json doc = detail::parse_keras_json(m.config_json, m.config_source);
        m.spec = parse_keras_config(m.config_json, m.config_source);
        bool sequential = false;
        const auto layers = detail::keras_config_layers(doc, m.config_source, sequential);
        for (const auto& l : layers) m.layer_order.push_back(l.name);
        const std::string image = zip.read("model.weights.h5", detail::max_keras_weights_bytes);
        const detail::H5Object h5 = detail::open_h5_image(image, path + ": entry model.weights.h5");
        m.weights = detail::read_keras3_weights(h5, *m.spec, layers, sequential);
        m.settings = detail::read_model_settings(detail::open_h5_root(h5));
        m.weights = check_keras_weights(*m.spec, m.weights, path);
        return m;
    }
    const detail::H5Object file = detail::open_h5_file(path);  // refuses a file neither zip nor HDF5
    const detail::H5Object root = detail::open_h5_root(file);
    if (detail::h5_has_attribute(root, "keras_version")) m.keras_version = detail::h5_read_single_string(root, "keras_version");
    if (detail::h5_has_attribute(root, "backend")) m.backend = detail::h5_read_single_string(root, "backend");
    if (detail::h5_has_attribute(root, "model_config")) {
        m.kind = KerasFileKind::full_model;
        m.config_json = detail::h5_read_single_string(root, "model_config");
        m.config_source = path + ": attribute /model_config";
        if (!given.empty()) detail::check_same_config(m, config_path, given);
        if (!detail::h5_has_link(root, "model_weights"))
            throw format_error(path + ": /model_weights: group not found (a full-model file holds its weights there)");
        detail::read_keras2_weights(detail::open_h5_group(root, "model_weights"), m);
    } else {
        m.kind = KerasFileKind::weights_only;
        detail::read_keras2_weights(detail::keras_weights_root(file, "/"), m);
        if (!given.empty()) {
            m.config_json = given;
            m.config_source = config_path;
        }
    }
    if (!m.config_json.empty()) {
        m.spec = parse_keras_config(m.config_json, m.config_source);
        m.weights = check_keras_weights(*m.spec, m.weights, path);
    }
    return m;
}

/// Writes a full-model .h5 in the Keras 2 layout (what tf_keras.models.load_model opens, and
/// Keras 3's legacy .h5 loader): root attributes keras_version, backend and model_config
/// (config_json unchanged), the weights under /model_weights in the config's layer order.
/// keras_version defaults to 2.21.0 for a Keras 2.3 or tf.keras 2.x config and to 3.15.1 for a
/// Keras 3 config (which only Keras 3 reads); a Keras 3 config labelled 2.x is refused. Atomic.
inline void write_keras_model_h5(const std::string& path, const std::string& config_json, const ModelWeights& weights,
                                 const ModelSettings& settings = {}, std::string keras_version = "",
                                 const std::string& backend = "tensorflow") {
    const std::string source = path + ": model config";
    const detail::json doc = detail::parse_keras_json(config_json, source);
    const bool keras3 = detail::is_keras3_config(doc);
    if (keras_version.empty()) keras_version = keras3 ? "3.15.1" : "2.21.0";
    if (keras3 && keras_version.rfind("2.", 0) == 0)
        throw argument_error(path + ": a Keras 3 model config cannot be written as a Keras " + keras_version +
                             " .h5 model (tf.keras cannot read it); write a .keras archive");
    const ModelSpec spec = parse_keras_config(config_json, source);
    const ModelWeights checked = check_keras_weights(spec, weights, path);
    bool sequential = false;
    std::vector<std::string> order;
    for (const auto& l : detail::keras_config_layers(doc, source, sequential))
        if (!(sequential && l.class_name == "InputLayer")) order.push_back(l.name);  // as tf_keras lists model.layers
    AtomicOutput out(path);
    {
        detail::H5Object file = detail::create_h5_file(out.path());
        file.file = path;
        const detail::H5Object root = detail::open_h5_root(file);
        detail::h5_write_vlen_string_attribute(root, "keras_version", keras_version);
        detail::h5_write_vlen_string_attribute(root, "backend", backend);
        detail::h5_write_vlen_string_attribute(root, "model_config", config_json);
        const detail::H5Object group = detail::create_h5_group(root, "model_weights");
        detail::h5_write_string_attribute(group, "layer_names", order);
        detail::h5_write_vlen_string_attribute(group, "backend", backend);
        detail::h5_write_vlen_string_attribute(group, "keras_version", keras_version);
        detail::write_model_settings(group, settings);
        detail::write_keras_weight_groups(group, order, checked);
    }
    out.commit();
}

/// Writes a Keras 3 .keras archive: config.json (config_json unchanged, a Keras 3 config),
/// metadata.json (metadata_json unchanged, or one naming Keras 3.15.1 when empty) and
/// model.weights.h5 in Keras 3's layout. Atomic.
inline void write_keras_archive(const std::string& path, const std::string& config_json, const ModelWeights& weights,
                                const ModelSettings& settings = {}, const std::string& metadata_json = "") {
    const std::string source = path + ": model config";
    const detail::json doc = detail::parse_keras_json(config_json, source);
    if (!detail::is_keras3_config(doc))
        throw argument_error(path + ": a Keras 2 model config cannot be written into a .keras archive (Keras 3 "
                                    "format); write a full-model .h5");
    const ModelSpec spec = parse_keras_config(config_json, source);
    const ModelWeights checked = check_keras_weights(spec, weights, path);
    bool sequential = false;
    const auto layers = detail::keras_config_layers(doc, source, sequential);
    std::string image;
    {
        const detail::H5Object file = detail::create_h5_memory_file(path + ": model.weights.h5");
        detail::write_keras3_weights(file, layers, sequential, checked);
        detail::write_model_settings(detail::open_h5_root(file), settings);
        image = detail::h5_image(file);
    }
    const std::string metadata =
        metadata_json.empty() ? std::string(R"({"keras_version": "3.15.1", "date_saved": "written by prunedef"})") : metadata_json;
    write_zip_archive(path, {{"metadata.json", metadata, false}, {"config.json", config_json, false},
                             {"model.weights.h5", image, true}});
}

/// Writes a weights-only Keras 2 .h5 (the model.save_weights layout) of the layers in
/// layer_order (which must name every layer with weights). Atomic.
inline void write_keras_weights_h5(const std::string& path, const std::vector<std::string>& layer_order,
                                   const ModelWeights& weights, const ModelSettings& settings = {},
                                   const std::string& keras_version = "2.3.1", const std::string& backend = "tensorflow") {
    std::set<std::string> listed(layer_order.begin(), layer_order.end());
    if (listed.size() != layer_order.size()) throw argument_error(path + ": the layer order names a layer twice");
    for (const auto& [name, arrays] : weights)
        if (!arrays.empty() && !listed.count(name))
            throw argument_error(path + ": the layer order omits layer " + name + ", which has weights");
    AtomicOutput out(path);
    {
        detail::H5Object file = detail::create_h5_file(out.path());
        file.file = path;
        const detail::H5Object root = detail::open_h5_root(file);
        detail::h5_write_string_attribute(root, "layer_names", layer_order);
        detail::h5_write_string_attribute(root, "backend", {backend}, true);
        detail::h5_write_string_attribute(root, "keras_version", {keras_version}, true);
        detail::write_model_settings(root, settings);
        detail::write_keras_weight_groups(root, layer_order, weights);
    }
    out.commit();
}

/// Writes a model of the given kind with the weights given and, from m, its config, metadata and
/// Keras attributes unchanged (B' keeps the input's architecture and file kind).
inline void write_keras_model(const std::string& path, KerasFileKind kind, const KerasModelFile& m,
                              const ModelWeights& weights, const ModelSettings& settings) {
    switch (kind) {
        case KerasFileKind::weights_only:
            write_keras_weights_h5(path, m.layer_order, weights, settings,
                                   m.keras_version.rfind("2.", 0) == 0 ? m.keras_version : "2.3.1",
                                   m.backend.empty() ? "tensorflow" : m.backend);
            return;
        case KerasFileKind::full_model:
            if (m.config_json.empty()) throw argument_error(path + ": " + m.path + " has no model config to write a full model with");
            write_keras_model_h5(path, m.config_json, weights, settings, m.keras_version,
                                 m.backend.empty() ? "tensorflow" : m.backend);
            return;
        case KerasFileKind::keras_archive:
            if (m.config_json.empty()) throw argument_error(path + ": " + m.path + " has no model config to write a .keras archive with");
            write_keras_archive(path, m.config_json, weights, settings, m.metadata_json);
            return;
    }
}

}  // namespace prunedef
