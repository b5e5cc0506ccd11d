// Reading and writing models for the tool (model_file.hpp).

#include "model_file.hpp"

#include "common.hpp"

#include <prunedef/io/keras_config_writer.hpp>
#if PRUNEDEF_HAVE_ONNX
#include <prunedef/io/onnx_export.hpp>
#include <prunedef/io/onnx_import.hpp>
#endif

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <utility>

using namespace prunedef;

namespace prunedef_tool {

void ModelOptions::add_config(CLI::App& sub) {
    config_opt = sub.add_option("--config", config,
                                "the architecture of a weights-only model file, as model.to_json() writes it "
                                "(default: DeepID, the CSAW architecture.py)")
                     ->type_name("MODEL.json");
}

CLI::Option* add_scale_option(CLI::App& sub, double& scale) {
    // "1/255" becomes the decimal the option then parses; anything else is parsed as given
    // CLI11 validator: rewrites the text in place, returns an error message or ""
    const auto fraction = [](std::string& text) -> std::string {
        const auto slash = text.find('/');
        if (slash == std::string::npos) return "";
        const std::string bad = "'" + text + "' is not a number or a fraction such as 1/255";
        std::size_t used_n = 0, used_d = 0;
        double n = 0, d = 0;
        try {
            n = std::stod(text.substr(0, slash), &used_n);
            d = std::stod(text.substr(slash + 1), &used_d);
        } catch (const std::exception&) {
            return bad;
        }
        if (used_n != slash || used_d != text.size() - slash - 1 || !(d > 0) || !std::isfinite(n / d)) return bad;
        char buf[64];
        const auto res = std::to_chars(buf, buf + sizeof buf, n / d);
        text.assign(buf, res.ptr);
        return "";
    };
    return sub
        .add_option("--scale", scale,
                    "input scale: 1 for raw pixels, 1/255 for pixels / 255 (default: the value stored in the file, "
                    "else the one of 1 and 1/255 under which the model classifies the first images best)")
        ->transform(CLI::Validator(fraction, "", "fraction"))  // the value is checked by set_input_scale
        ->type_name("S");
}

namespace {

/// When neither --scale nor the file gives the input scale: the one of 1 and 1/255 under which
/// the network classifies the first (up to 256) images of the data best. Refuses a tie: the
/// data do not tell, and a wrong scale is a silently wrong result (the CSAW sunglasses network
/// scores 49 % at 1 and 95 % at 1/255).
template <class Net>
std::string choose_scale(Net& net, const std::string& path, const DatasetReader& data) {
    const InputScaleChoice c = choose_input_scale(net, data);
    const std::string figures = python_repr(percent_of(c.correct_raw, c.images)) + " % of the first " +
                                std::to_string(c.images) + " images of " + data.file() + " with 1, " +
                                python_repr(percent_of(c.correct_255, c.images)) + " % with 1/255";
    if (!c.decided())
        throw usage_error("--scale: " + path + " does not state its input scale and the data do not tell: B classifies " +
                          figures + "; give --scale (1 for raw pixels, 1/255 for pixels / 255)");
    return std::string("input scale ") + (c.per_255() ? "1/255" : "1") + " chosen from the data (" + path +
           " does not state it; --scale sets it): B classifies " + figures;
}

/// Binds net to the data's images (or checks them against the shape the model states).
template <class Net>
void bind_to_data(Net& net, const std::string& path, const std::optional<ImageShape>& stated, const DatasetReader& data) {
    const ImageShape& shape = data.image_shape();
    if (stated && !net.bound()) {
        try {
            net.bind(*stated);
        } catch (const shape_error& e) {
            throw shape_error(path + ": " + e.what());
        }
    }
    if (net.bound()) {
        data.check_image_shape(net.input_shape());
        return;
    }
    try {
        net.bind(shape);
    } catch (const shape_error& e) {
        throw shape_error(data.file() + ": /data: images of " + shape.str() + " do not fit model " + path + ": " + e.what());
    }
}

void check_deepid_channels(const DeepID& net, const std::string& path, const DatasetReader& data) {
    const std::size_t model_channels = net.stem().layer<0>().in_channels();
    if (model_channels != data.image_shape().channels)
        throw shape_error(data.file() + ": /data: images have " + std::to_string(data.image_shape().channels) +
                          " channel(s), model " + path + " (conv_1) expects " + std::to_string(model_channels));
}

/// An ONNX model as the Keras model file the rest of the tool reads: its spec, a Keras
/// configuration written for it (for GoodNet files), the weights, and the scale and shape it states.
KerasModelFile read_onnx_as_keras(const std::string& path, const ModelOptions& options) {
    if (!options.config.empty())
        throw usage_error("--config " + options.config + ": " + path + " is an ONNX model, which holds its architecture");
#if PRUNEDEF_HAVE_ONNX
    OnnxModelFile f = read_onnx_model(path);
    KerasModelFile k;
    k.path = path;
    k.kind = KerasFileKind::full_model;
    k.config_json = keras_config_json(f.spec);
    k.config_source = path + " (ONNX graph)";
    for (const auto& l : f.spec.layers) k.layer_order.push_back(l.name);
    k.spec = std::move(f.spec);
    k.weights = std::move(f.weights);
    k.settings.input_shape = f.input_shape;
    k.settings.input_scale = f.input_scale;
    return k;
#else
    throw usage_error(path + ": this prunedef was built without ONNX (Debian libonnx-dev, libprotobuf-dev): "
                             ".onnx models cannot be read");
#endif
}

}  // namespace

bool onnx_available() {
#if PRUNEDEF_HAVE_ONNX
    return true;
#else
    return false;
#endif
}

bool is_onnx_path(const std::string& path) {
    if (path.size() < 5) return false;
    std::string ext = path.substr(path.size() - 5);
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ext == ".onnx";
}

LoadedModel load_model(const std::string& path, const ModelOptions& options, const CLI::Option* scale_option,
                       double scale, const DatasetReader& data) {
    const bool onnx = is_onnx_path(path);
    KerasModelFile file = onnx ? read_onnx_as_keras(path, options) : read_keras_model(path, options.config);
    if (!file.spec) {
        if (!options.layer.empty() && options.layer != "conv_3")
            throw usage_error("--layer " + options.layer + ": " + path +
                              " is a weights-only file, whose architecture is assumed to be DeepID (pruned layer "
                              "conv_3); give its architecture with --config model.json to prune another layer");
        DeepID net = make_deepid();
        load_keras_weights(path, net);  // its messages name the HDF5 path of what is missing or misshapen
        check_deepid_channels(net, path, data);
        file.weights = collect_weights(net);
    }
    const std::optional<float> stored_scale = file.settings.input_scale;
    NetworkFile built = network_of(std::move(file), {options.config, options.layer, options.pooled,
                                                     onnx ? "ONNX model" : ""});
    LoadedModel m{std::move(built.file), std::move(built.net), std::move(built.architecture), built.architecture_assumed,
                  "", onnx};
    if (m.architecture_assumed) m.architecture += " (give --config model.json for another)";
    if (const DeepID* deepid = std::get_if<DeepID>(&m.net)) check_deepid_channels(*deepid, path, data);
    std::visit(
        [&](auto& net) {
            bind_to_data(net, path, std::nullopt, data);  // network_of bound it to the shape the file states
            if (scale_option && scale_option->count() > 0) net.set_input_scale(static_cast<float>(scale));
            else if (!stored_scale) m.scale_note = choose_scale(net, path, data);  // else network_of applied it
        },
        m.net);
    return m;
}

std::string model_notes(const LoadedModel& m, const std::string& command) {
    std::string out;
    if (m.architecture_assumed) out += "prunedef " + command + ": note: " + m.architecture + "\n";
    if (!m.scale_note.empty()) out += "prunedef " + command + ": note: " + m.scale_note + "\n";
    return out;
}

std::string model_extension(const LoadedModel& m) {
    if (m.onnx) return ".onnx";
    return m.file.kind == KerasFileKind::keras_archive ? ".keras" : ".h5";
}

template <class Net>
void save_model(const std::string& path, const LoadedModel& m, const Net& net, bool weights_only) {
    if (m.onnx) {
        if (weights_only)
            throw usage_error("--weights-only: " + m.file.path + " is an ONNX model, and B' is written as one; "
                              "a weights-only .h5 would need a Keras architecture");
        save_onnx_model_file(path, m, net);
        return;
    }
    save_derived_model(path, m.file, net, weights_only);
}

template <class Net>
void save_goodnet_file(const std::string& path, const LoadedModel& m, const Net& b, const Net& bprime,
                       const std::vector<std::size_t>& pruned_channels) {
    save_derived_goodnet(path, m.file, b, bprime, pruned_channels);
}

#if PRUNEDEF_HAVE_ONNX
namespace {
template <class Net>
ModelSpec onnx_spec_of(const LoadedModel& m, const Net& net, const ModelWeights& weights) {
    if (!net.bound()) throw argument_error("ONNX export: the network has no input shape");
    return m.file.spec ? *m.file.spec : deepid_model_spec(weights, net.input_shape());
}
}  // namespace

template <class Net>
void save_onnx_model_file(const std::string& path, const LoadedModel& m, const Net& net) {
    const ModelWeights w = network_weights(net);
    save_onnx(path, onnx_model(onnx_spec_of(m, net, w), w, net.input_shape(), net.input_scale(), {{"prunedef.B", m.file.path}}));
}

template <class Net>
void save_onnx_goodnet_file(const std::string& path, const LoadedModel& m, const Net& b, const Net& bprime,
                            const std::string& b_name, const std::string& bprime_name) {
    if (b.input_scale() != bprime.input_scale() || b.input_shape() != bprime.input_shape())
        throw argument_error(path + ": B and B' differ in input scale or shape");
    const ModelWeights wb = network_weights(b), wbp = network_weights(bprime);
    save_onnx(path, onnx_goodnet_model(onnx_spec_of(m, b, wb), wb, wbp, b.input_shape(), b.input_scale(),
                                       {{"prunedef.B", b_name}, {"prunedef.Bprime", bprime_name}}));
}
#else
template <class Net>
void save_onnx_model_file(const std::string& path, const LoadedModel&, const Net&) {
    throw usage_error(path + ": this prunedef was built without ONNX (Debian libonnx-dev, libprotobuf-dev)");
}
template <class Net>
void save_onnx_goodnet_file(const std::string& path, const LoadedModel&, const Net&, const Net&, const std::string&,
                            const std::string&) {
    throw usage_error(path + ": this prunedef was built without ONNX (Debian libonnx-dev, libprotobuf-dev)");
}
#endif

namespace {

/// One network of a GoodNet file, with its stored scale and input shape.
template <class Net>
void apply_goodnet_settings(Net& net, const KerasModelFile& f, const std::string& where) {
    if (f.settings.input_scale) net.set_input_scale(*f.settings.input_scale);
    if (!net.bound()) {
        if (!f.settings.input_shape)
            throw format_error(f.path + ": " + where + " attribute prunedef_input_shape missing, cannot tell the input size");
        net.bind(*f.settings.input_shape);
    }
}

template <class Net>
GoodNet<Net, Net> goodnet_of(Net b, Net bprime, const GoodNetModels& m) {
    apply_goodnet_settings(b, m.b, "/");
    apply_goodnet_settings(bprime, m.bprime, std::string("/") + goodnet_repaired_group);
    // B and B' must see the same inputs: a GoodNet compares their answers on the same pixels.
    if (b.input_shape() != bprime.input_shape())
        throw format_error(m.b.path + ": attribute prunedef_input_shape: B (/) takes " + b.input_shape().str() +
                           " inputs but B' (/" + goodnet_repaired_group + ") takes " + bprime.input_shape().str());
    if (b.input_scale() != bprime.input_scale())
        throw format_error(m.b.path + ": attribute prunedef_input_scale: B (/) scales inputs by " +
                           std::to_string(b.input_scale()) + " but B' (/" + goodnet_repaired_group + ") by " +
                           std::to_string(bprime.input_scale()));
    try {
        return GoodNet<Net, Net>(std::move(b), std::move(bprime));
    } catch (const shape_error& e) {
        throw format_error(m.b.path + ": " + e.what());
    }
}

}  // namespace

AnyGoodNet load_goodnet(const std::string& path) {
    const GoodNetModels m = read_goodnet_models(path);
    if (!m.b.spec || is_deepid(*m.b.spec)) {
        DeepID b = make_deepid(), bprime = make_deepid();
        assign_weights(b, m.b.weights, path + ": /");
        assign_weights(bprime, m.bprime.weights, path + ": /" + goodnet_repaired_group);
        return goodnet_of(std::move(b), std::move(bprime), m);
    }
    return goodnet_of(build_graph_network(*m.b.spec, m.b.weights),
                      build_graph_network(*m.bprime.spec, m.bprime.weights), m);
}

template void save_goodnet_file<DeepID>(const std::string&, const LoadedModel&, const DeepID&, const DeepID&,
                                        const std::vector<std::size_t>&);
template void save_goodnet_file<GraphNetwork>(const std::string&, const LoadedModel&, const GraphNetwork&,
                                              const GraphNetwork&, const std::vector<std::size_t>&);
template void save_onnx_model_file<DeepID>(const std::string&, const LoadedModel&, const DeepID&);
template void save_onnx_model_file<GraphNetwork>(const std::string&, const LoadedModel&, const GraphNetwork&);
template void save_onnx_goodnet_file<DeepID>(const std::string&, const LoadedModel&, const DeepID&, const DeepID&,
                                             const std::string&, const std::string&);
template void save_onnx_goodnet_file<GraphNetwork>(const std::string&, const LoadedModel&, const GraphNetwork&,
                                                   const GraphNetwork&, const std::string&, const std::string&);
template void save_model<DeepID>(const std::string&, const LoadedModel&, const DeepID&, bool);
template void save_model<GraphNetwork>(const std::string&, const LoadedModel&, const GraphNetwork&, bool);

}  // namespace prunedef_tool
