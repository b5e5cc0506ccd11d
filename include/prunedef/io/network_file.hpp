#pragma once
// load_network(): a Keras model file of any kind the library reads (weights-only .h5, full-model
// .h5, .keras archive) as the network that runs it: the compile-time DeepID when the architecture
// is the CSAW architecture.py (or a weights-only file without a configuration, where DeepID is
// assumed), else a GraphNetwork built from the configuration, split at the layer asked for.
// save_derived_model() / save_derived_goodnet(): a network derived from it (B', a fine-tuned B')
// written back as a file of the input's kind, and a GoodNet file of B and B'.
//
// For programs that take "a model file" without knowing its kind (the Python module). The
// network is bound to the input shape the file or its configuration states, when it states one;
// the input scale stored in the file, when there is one, is applied. Neither is guessed here.

#include <prunedef/core/error.hpp>
#include <prunedef/io/goodnet_file.hpp>
#include <prunedef/io/keras_deepid_config.hpp>
#include <prunedef/io/keras_model_file.hpp>
#include <prunedef/io/keras_weights.hpp>
#include <prunedef/model/deepid.hpp>
#include <prunedef/model/deepid_spec.hpp>
#include <prunedef/model/graph_network.hpp>
#include <prunedef/model/model_weights.hpp>

#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace prunedef {

/// The two ways a Keras model runs.
using AnyNetwork = std::variant<DeepID, GraphNetwork>;

/// A model file and the network that runs it.
struct NetworkFile {
    KerasModelFile file;  ///< config, metadata and settings as read (weights moved into net)
    AnyNetwork net;
    std::string architecture;            ///< how the architecture is known and run, in one line
    bool architecture_assumed = false;   ///< a weights-only file without config: DeepID assumed
};

/// Where a NetworkFile is split and how its architecture is known.
struct NetworkFileOptions {
    std::string config;   ///< model.to_json() text file for a weights-only .h5; "" for none
    std::string layer;    ///< the layer to prune; "" for the default (conv_3 in DeepID)
    bool pooled = true;   ///< features after the pooling layer directly following it
    /// How the architecture line names the file ("ONNX model", say); "" for its Keras kind.
    std::string file_kind;
};

namespace detail {

/// The input shape a model's configuration states, if any.
inline std::optional<ImageShape> spec_input_shape(const ModelSpec& spec) {
    for (const auto& l : spec.layers)
        if (l.name == spec.input) return l.input_shape;
    return std::nullopt;
}

}  // namespace detail

/// Builds the network of a model file already read (file.weights are moved into the network).
inline NetworkFile network_of(KerasModelFile file, const NetworkFileOptions& options = {}) {
    NetworkFile m{std::move(file), DeepID{}, "", false};
    KerasModelFile& f = m.file;
    std::optional<ImageShape> stated = f.settings.input_shape;
    const std::string kind = options.file_kind.empty() ? std::string(keras_file_kind_name(f.kind)) : options.file_kind;
    if (!f.spec) {
        if (!options.layer.empty() && options.layer != "conv_3")
            throw argument_error("layer " + options.layer + ": " + f.path +
                                 " is a weights-only file, whose architecture is assumed to be DeepID (pruned layer "
                                 "conv_3); give its architecture (model.to_json()) to prune another layer");
        m.architecture = "DeepID (CSAW architecture.py), assumed: " + f.path +
                         " is a weights-only file without a configuration";
        m.architecture_assumed = true;
        DeepID net = make_deepid();
        assign_weights(net, f.weights, f.path);
        m.net = std::move(net);
    } else {
        if (!stated) stated = detail::spec_input_shape(*f.spec);
        std::string why;
        const bool deepid = is_deepid(*f.spec, &why);
        if (deepid && (options.layer.empty() || options.layer == "conv_3")) {
            m.architecture = "DeepID (the " + kind + "'s configuration is the CSAW architecture.py; compile-time network)";
            DeepID net = make_deepid();
            assign_weights(net, f.weights, f.path);
            m.net = std::move(net);
        } else {
            GraphSplit split;
            split.layer = options.layer;
            split.pooled = options.pooled;
            m.net = build_graph_network(*f.spec, f.weights, split);
            m.architecture = "graph network of " + std::to_string(f.spec->layers.size()) + " layers built from the " +
                             kind + "'s configuration (" + (deepid ? "layer " + options.layer : why) + ")";
        }
    }
    std::visit(
        [&](auto& net) {
            if (stated && !net.bound()) {
                try {
                    net.bind(*stated);
                } catch (const shape_error& e) {
                    throw shape_error(f.path + ": " + e.what());
                }
            }
            if (f.settings.input_scale) net.set_input_scale(*f.settings.input_scale);
        },
        m.net);
    f.weights.clear();  // the network holds them now
    return m;
}

/// Reads a model file of any kind and builds its network (see the top of this header).
inline NetworkFile load_network(const std::string& path, const NetworkFileOptions& options = {}) {
    KerasModelFile file = read_keras_model(path, options.config);
    if (!file.spec) {
        // a weights-only file: read by the DeepID loader, whose messages name the HDF5 path of
        // what is missing or misshapen
        DeepID net = make_deepid();
        load_keras_weights(path, net);
        file.weights = collect_weights(net);
    }
    return network_of(std::move(file), options);
}

/// A network's weights under Keras' names.
template <class Net>
ModelWeights network_file_weights(const Net& net) {
    if constexpr (std::is_same_v<Net, GraphNetwork>)
        return graph_weights(net);
    else
        return collect_weights(net);
}

/// Writes a network derived from m (same architecture, other weights) atomically as a model file
/// of m's kind: a full-model .h5 for an .h5 input (for a weights-only DeepID input, with the
/// configuration of the CSAW architecture.py), a .keras archive for a .keras input; a
/// weights-only .h5 when weights_only. The network's input scale and shape are stored with it.
template <class Net>
void save_derived_model(const std::string& path, const KerasModelFile& m, const Net& net, bool weights_only = false) {
    const ModelWeights weights = network_file_weights(net);
    ModelSettings settings;
    settings.input_scale = net.input_scale();
    if (net.bound()) settings.input_shape = net.input_shape();
    KerasFileKind kind = KerasFileKind::weights_only;
    if (!weights_only)
        kind = m.kind == KerasFileKind::keras_archive ? KerasFileKind::keras_archive : KerasFileKind::full_model;
    if (kind == KerasFileKind::full_model && m.config_json.empty()) {
        KerasModelFile like = m;
        like.keras_version.clear();  // the writer's default for a tf.keras 2.x configuration
        like.config_json = deepid_keras_config(weights, net.input_shape());
        write_keras_model(path, kind, like, weights, settings);
        return;
    }
    write_keras_model(path, kind, m, weights, settings);
}

/// Writes a GoodNet file of B and a network derived from it (the DeepID layout for DeepID, with
/// m's configuration for any other architecture).
template <class Net>
void save_derived_goodnet(const std::string& path, const KerasModelFile& m, const Net& b, const Net& bprime,
                          const std::vector<std::size_t>& pruned_channels) {
    if constexpr (std::is_same_v<Net, DeepID>) {
        save_goodnet(path, b, bprime, pruned_channels);
    } else {
        ModelSettings settings;
        settings.input_scale = b.input_scale();
        settings.input_shape = b.input_shape();
        save_goodnet_models(path, m.config_json, m.layer_order, network_file_weights(b), network_file_weights(bprime),
                            settings, pruned_channels);
    }
}

}  // namespace prunedef
