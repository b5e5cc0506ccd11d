#pragma once
// How the tool reads and writes models: every Keras file kind (weights-only .h5, full-model .h5,
// .keras archive) and ONNX models (.onnx, io/onnx_import.hpp, when built with prunedef::onnx), run as the compile-time DeepID when the architecture is the CSAW
// architecture.py (its fast paths) and as a GraphNetwork built from the configuration otherwise;
// networks derived from it (B', the fine-pruned B') written back as a file of the input's kind.

#include <prunedef/prunedef.hpp>

#include <CLI/CLI.hpp>

#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace prunedef_tool {

/// The options that say how a model's architecture is known (--config) and, for repair, where it
/// is split (--layer, --site).
struct ModelOptions {
    std::string config;  ///< model.to_json() of a weights-only file
    std::string layer;   ///< the layer to prune; empty: the default
    bool pooled = true;  ///< features after the pooling layer that directly follows it
    CLI::Option* config_opt = nullptr;
    /// Adds --config to a subcommand.
    void add_config(CLI::App& sub);
};

/// --scale S: a positive number or a fraction as the README writes it ("1/255").
CLI::Option* add_scale_option(CLI::App& sub, double& scale);

/// What --model accepts, for the commands' help.
inline constexpr const char* model_option_help =
    "a Keras model: full-model .h5 (model.save), .keras archive, or weights-only .h5 (DeepID, the CSAW "
    "architecture.py, unless --config gives the architecture); or an ONNX model (.onnx, e.g. torch.onnx.export's)";

/// Whether this prunedef reads and writes ONNX (built with prunedef::onnx).
bool onnx_available();
/// Whether a --model path is read as ONNX (its extension is .onnx, any case).
bool is_onnx_path(const std::string& path);

using prunedef::AnyNetwork;

/// A model file as the tool runs it.
struct LoadedModel {
    prunedef::KerasModelFile file;  ///< the file's config, metadata and attributes (and weights)
    AnyNetwork net;
    /// How the architecture is known and run, in one line (for reports and stderr).
    std::string architecture;
    bool architecture_assumed = false;  ///< a weights-only file without --config: DeepID assumed
    /// How the input scale was chosen when neither --scale nor the file gave it (one line; the
    /// commands print it on stderr after their results), else empty.
    std::string scale_note;
    /// Read from an ONNX file: file holds its spec, a Keras configuration written for it
    /// (keras_config_json, for GoodNet files), kind full_model, and the stated scale and shape.
    bool onnx = false;
};

/// Reads a model, applies --scale when given (else the scale stored in the file, else the one of
/// 1 and 1/255 under which the model classifies the first images of the data best, refusing
/// when they do not tell), builds
/// the network (DeepID or GraphNetwork, split as options say) and binds it to the data's image
/// shape; errors name the model and the data file.
LoadedModel load_model(const std::string& path, const ModelOptions& options, const CLI::Option* scale_option,
                       double scale, const prunedef::DatasetReader& data);

/// What the command says on stderr after its results about how the model was read (the DeepID
/// assumption, a scale chosen from the data): "prunedef <command>: note: ..." lines, or "".
std::string model_notes(const LoadedModel& m, const std::string& command);

/// The extension of the model files written for a model: ".keras" for a .keras input, ".onnx" for
/// an ONNX input, else ".h5".
std::string model_extension(const LoadedModel& m);

/// A network's weights under Keras' names (for writing).
template <class Net>
prunedef::ModelWeights network_weights(const Net& net) {
    return prunedef::network_file_weights(net);
}

/// Writes a network derived from m (same architecture, other weights) atomically, as a model file
/// of m's kind: a full-model .h5 for an .h5 input (for a weights-only DeepID input, with the
/// configuration of the CSAW architecture.py), a .keras archive for a .keras input; weights-only
/// when weights_only. For an ONNX input: an ONNX model of prunedef's export (onnx_model: the same
/// computation, in prunedef's node layout, not the input's graph; input NCHW raw pixels with the
/// input scale inside); weights_only is refused (usage_error): an ONNX model has no Keras layout.
template <class Net>
void save_model(const std::string& path, const LoadedModel& m, const Net& net, bool weights_only);

/// Writes a GoodNet file of B and a network derived from it (B', the fine-pruned B'): the DeepID
/// layout for DeepID, with the model's configuration for any other architecture.
template <class Net>
void save_goodnet_file(const std::string& path, const LoadedModel& m, const Net& b, const Net& bprime,
                       const std::vector<std::size_t>& pruned_channels);

/// B (or B') as an ONNX model (io/onnx_export.hpp), and the GoodNet G of B and B' as one ONNX
/// graph; the architecture is m's spec (DeepID's for a weights-only file). Throw usage_error when
/// this prunedef was built without ONNX.
template <class Net>
void save_onnx_model_file(const std::string& path, const LoadedModel& m, const Net& net);
template <class Net>
void save_onnx_goodnet_file(const std::string& path, const LoadedModel& m, const Net& b, const Net& bprime,
                            const std::string& b_name, const std::string& bprime_name);

/// G from a GoodNet file, as the networks its configuration (or DeepID) gives.
using AnyGoodNet = std::variant<prunedef::GoodNet<prunedef::DeepID, prunedef::DeepID>,
                                prunedef::GoodNet<prunedef::GraphNetwork, prunedef::GraphNetwork>>;
AnyGoodNet load_goodnet(const std::string& path);

}  // namespace prunedef_tool
