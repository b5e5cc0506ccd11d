#pragma once
// GoodNet files: B and B' together in one HDF5 file.
//
//   /             B in the Keras 2.3 layout (so keras load_weights() on the file loads B)
//   /repaired     B' in the same layout, with attribute prunedef_pruned_channels (pruning order)
//   root attribute prunedef_goodnet = 1
//
// load_goodnet_networks() returns B and B' as written (B' pruned, possibly fine-tuned), so the
// file is all that is needed to classify: GoodNet g(std::move(b), std::move(bprime)) (defense/
// goodnet.hpp). io/ knows networks and files, not the defense.
//
// A network of any other architecture (a run-time GraphNetwork) is written by
// save_goodnet_models() with the same layout plus the root attribute model_config (its Keras
// configuration, unchanged), and read back by read_goodnet_models() as two model files whose
// configuration and weights build the networks (model/graph_network.hpp).

#include <prunedef/core/error.hpp>
#include <prunedef/io/atomic_output.hpp>
#include <prunedef/io/hdf5.hpp>
#include <prunedef/io/keras_model_file.hpp>
#include <prunedef/io/keras_weights.hpp>

#include <string>
#include <utility>
#include <vector>

namespace prunedef {

inline constexpr const char* goodnet_repaired_group = "repaired";

/// Writes B and B' (with the channels pruned in B') as a GoodNet file, atomically.
template <class Net>
void save_goodnet(const std::string& path, const Net& b, const Net& bprime,
                  const std::vector<std::size_t>& pruned_channels) {
    AtomicOutput out(path);
    {
        detail::H5Object file = detail::create_h5_file(out.path());
        file.file = path;
        detail::H5Object root = detail::open_h5_root(file);
        detail::write_keras_layers(root, b);
        detail::h5_write_numeric_attribute(root, "prunedef_goodnet", {1.0}, true);
        detail::H5Object repaired = detail::create_h5_group(root, goodnet_repaired_group);
        detail::write_keras_layers(repaired, bprime);
        detail::h5_write_numeric_attribute(repaired, "prunedef_pruned_channels",
                                           std::vector<double>(pruned_channels.begin(), pruned_channels.end()));
    }
    out.commit();
}

/// True when the file is a GoodNet file written by save_goodnet().
inline bool is_goodnet_file(const std::string& path) {
    detail::H5Object file = detail::open_h5_file(path);
    return detail::h5_has_attribute(file, "prunedef_goodnet") && detail::h5_has_link(file, goodnet_repaired_group);
}

/// Loads a GoodNet file into two networks made by make() (e.g. make_deepid): {B, B'}.
template <class Make>
auto load_goodnet_networks(const std::string& path, Make make) {
    if (!is_goodnet_file(path))
        throw format_error(path + ": /: not a GoodNet file (attribute prunedef_goodnet or group /" +
                           std::string(goodnet_repaired_group) + " missing)");
    {
        const detail::H5Object file = detail::open_h5_file(path);
        const std::vector<double> flag = detail::h5_read_numeric_attribute(file, "prunedef_goodnet");
        if (flag.size() != 1 || flag[0] != 1)
            throw format_error(path + ": / attribute prunedef_goodnet: expected 1, found " +
                               (flag.size() == 1 ? std::to_string(flag[0]) : std::to_string(flag.size()) + " values"));
    }
    const std::string repaired = std::string("/") + goodnet_repaired_group;
    auto b = make();
    auto bprime = make();
    load_keras_weights(path, b);
    load_keras_weights(path, bprime, repaired);
    if (!b.bound())
        throw format_error(path + ": / attribute prunedef_input_shape missing, cannot tell the input size");
    if (!bprime.bound())
        throw format_error(path + ": " + repaired + " attribute prunedef_input_shape missing, cannot tell the input size");
    // B and B' must see the same inputs: a GoodNet compares their answers on the same pixels.
    if (b.input_shape() != bprime.input_shape())
        throw format_error(path + ": attribute prunedef_input_shape: B (/) takes " + b.input_shape().str() +
                           " inputs but B' (" + repaired + ") takes " + bprime.input_shape().str());
    if (b.input_scale() != bprime.input_scale())
        throw format_error(path + ": attribute prunedef_input_scale: B (/) scales inputs by " +
                           std::to_string(b.input_scale()) + " but B' (" + repaired + ") by " +
                           std::to_string(bprime.input_scale()));
    if (b.num_classes() != bprime.num_classes())
        throw format_error(path + ": layer output: B (/) has " + std::to_string(b.num_classes()) + " classes but B' (" +
                           repaired + ") has " + std::to_string(bprime.num_classes()));
    return std::make_pair(std::move(b), std::move(bprime));
}

/// Writes B and B' of a model of any architecture, given by its Keras configuration, as a GoodNet
/// file (atomically): the layout of save_goodnet() plus root attribute model_config.
inline void save_goodnet_models(const std::string& path, const std::string& config_json,
                                const std::vector<std::string>& layer_order, const ModelWeights& b,
                                const ModelWeights& bprime, const ModelSettings& settings,
                                const std::vector<std::size_t>& pruned_channels) {
    if (config_json.empty()) throw argument_error(path + ": a GoodNet of a run-time network needs its model configuration");
    AtomicOutput out(path);
    {
        detail::H5Object file = detail::create_h5_file(out.path());
        file.file = path;
        const detail::H5Object root = detail::open_h5_root(file);
        const auto write = [&](const detail::H5Object& group, const ModelWeights& weights) {
            detail::h5_write_string_attribute(group, "layer_names", layer_order);
            detail::write_model_settings(group, settings);
            detail::write_keras_weight_groups(group, layer_order, weights);
        };
        write(root, b);
        detail::h5_write_vlen_string_attribute(root, "model_config", config_json);
        detail::h5_write_numeric_attribute(root, "prunedef_goodnet", {1.0}, true);
        const detail::H5Object repaired = detail::create_h5_group(root, goodnet_repaired_group);
        write(repaired, bprime);
        detail::h5_write_numeric_attribute(repaired, "prunedef_pruned_channels",
                                           std::vector<double>(pruned_channels.begin(), pruned_channels.end()));
    }
    out.commit();
}

/// A GoodNet file's B and B' as model files: weights, stored settings and, when the file has one,
/// the configuration (spec) shared by both; without one the networks are DeepIDs.
struct GoodNetModels {
    KerasModelFile b, bprime;
};

/// Reads a GoodNet file written by save_goodnet() or save_goodnet_models().
inline GoodNetModels read_goodnet_models(const std::string& path) {
    if (!is_goodnet_file(path))
        throw format_error(path + ": /: not a GoodNet file (attribute prunedef_goodnet or group /" +
                           std::string(goodnet_repaired_group) + " missing)");
    GoodNetModels m;
    const detail::H5Object file = detail::open_h5_file(path);
    const detail::H5Object root = detail::open_h5_root(file);
    const std::vector<double> flag = detail::h5_read_numeric_attribute(root, "prunedef_goodnet");
    if (flag.size() != 1 || flag[0] != 1)
        throw format_error(path + ": / attribute prunedef_goodnet: expected 1, found " +
                           (flag.size() == 1 ? std::to_string(flag[0]) : std::to_string(flag.size()) + " values"));
    detail::read_keras2_weights(root, m.b);
    detail::read_keras2_weights(detail::open_h5_group(root, goodnet_repaired_group), m.bprime);
    for (KerasModelFile* f : {&m.b, &m.bprime}) {
        f->path = path;
        f->kind = KerasFileKind::weights_only;
    }
    if (detail::h5_has_attribute(root, "model_config")) {
        const std::string config = detail::h5_read_single_string(root, "model_config");
        const std::string source = path + ": attribute /model_config";
        const ModelSpec spec = parse_keras_config(config, source);
        for (KerasModelFile* f : {&m.b, &m.bprime}) {
            f->kind = KerasFileKind::full_model;
            f->config_json = config;
            f->config_source = source;
            f->spec = spec;
        }
    }
    return m;
}

}  // namespace prunedef
