// prunedef export: a model B, or the GoodNet G of B and B', as an ONNX file (io/onnx_export.hpp).

#include "common.hpp"
#include "model_file.hpp"

#if PRUNEDEF_HAVE_ONNX
#include <prunedef/io/onnx_export.hpp>
#endif

#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace prunedef;

namespace prunedef_tool {

namespace {

struct ExportOptions {
    std::string model, bprime, goodnet, data, out;
    double scale = 1;
    ModelOptions model_options;
    CLI::Option *model_opt = nullptr, *bprime_opt = nullptr, *goodnet_opt = nullptr, *data_opt = nullptr,
                *scale_opt = nullptr, *out_opt = nullptr;
};

#if PRUNEDEF_HAVE_ONNX
std::optional<ImageShape> first_layer_shape(const std::optional<ModelSpec>& spec) {
    if (!spec || spec->layers.empty()) return std::nullopt;
    return spec->layers[0].input_shape;
}

int run_export(const ExportOptions& o) {
    remove_temporaries_on_signals();
    require(o.out_opt);
    check_output_file(o.out, {o.model, o.bprime, o.goodnet, o.data, o.model_options.config});
    const bool has_model = o.model_opt->count() > 0, has_goodnet = o.goodnet_opt->count() > 0;
    if (o.bprime_opt->count() > 0 && has_goodnet)
        throw usage_error("--bprime and --goodnet both give B'; give one");
    if (o.bprime_opt->count() > 0 && !has_model) throw usage_error("--bprime needs --model (B)");
    if (!has_model && !has_goodnet) throw usage_error("--model or --goodnet is required");

    // B (and B'): the architecture, the weights and the stored settings
    std::optional<ModelSpec> spec;
    ModelWeights b, bprime;
    bool with_bprime = false;
    ModelSettings settings;
    std::string config_json, note;
    bool deepid_assumed = false;
    if (has_model) {
        KerasModelFile f = read_keras_model(o.model, o.model_options.config);
        spec = f.spec;
        b = std::move(f.weights);
        settings = f.settings;
        config_json = f.config_json;
        deepid_assumed = !f.spec;
    }
    if (has_goodnet) {
        GoodNetModels g = read_goodnet_models(o.goodnet);
        if (has_model) {
            if (g.b.config_json != config_json)
                throw usage_error("--goodnet " + o.goodnet + " holds a model of another architecture than --model " + o.model);
            for (const auto& [layer, arrays] : g.b.weights)
                if (!detail::same_layer_weights(b, g.b.weights, layer))
                    throw usage_error("--goodnet " + o.goodnet + ": its B differs from --model " + o.model + " at layer " +
                                      layer + " (leave out --model: the GoodNet file holds B)");
        } else {
            spec = g.b.spec;
            b = std::move(g.b.weights);
            deepid_assumed = false;  // a GoodNet file without a configuration is DeepID by its format
        }
        if (!settings.input_scale) settings.input_scale = g.b.settings.input_scale;
        if (!settings.input_shape) settings.input_shape = g.b.settings.input_shape;
        bprime = std::move(g.bprime.weights);
        with_bprime = true;
    }
    if (o.bprime_opt->count() > 0) {
        KerasModelFile f = read_keras_model(o.bprime, o.model_options.config);
        if (f.config_json != config_json)
            throw usage_error("--bprime " + o.bprime + " has another architecture than --model " + o.model);
        if (f.settings.input_scale && settings.input_scale && *f.settings.input_scale != *settings.input_scale)
            throw usage_error("--bprime " + o.bprime + " scales its input by " + python_repr(*f.settings.input_scale) +
                              " but --model " + o.model + " by " + python_repr(*settings.input_scale));
        if (!settings.input_scale) settings.input_scale = f.settings.input_scale;
        if (!settings.input_shape) settings.input_shape = f.settings.input_shape;
        bprime = std::move(f.weights);
        with_bprime = true;
    }

    // input shape and scale: the options, the files, else the data
    std::optional<ImageShape> shape = settings.input_shape ? settings.input_shape : first_layer_shape(spec);
    std::optional<float> scale;
    if (o.scale_opt->count() > 0) scale = static_cast<float>(o.scale);
    else scale = settings.input_scale;
    if (!shape || !scale) {
        if (o.data_opt->count() == 0)
            throw usage_error(std::string("the model file does not state its input ") +
                              (!shape ? (!scale ? "shape and scale" : "shape") : "scale") +
                              ": give --data D.h5 (a data set it reads)" + (!scale ? std::string(" or --scale S") : "") +
                              (!shape && !scale ? " (--data tells both)" : ""));
        const DatasetReader data(o.data);
        if (!shape) shape = data.image_shape();
        if (!scale) {
            if (!has_model)
                throw usage_error("--goodnet " + o.goodnet + " does not state its input scale: give --scale");
            const LoadedModel m = load_model(o.model, o.model_options, nullptr, 1.0, data);
            std::visit([&](const auto& net) { scale = net.input_scale(); }, m.net);
            note = m.scale_note;
        }
    }
    if (!spec) spec = deepid_model_spec(b, *shape);

    std::map<std::string, std::string> meta{{"prunedef.B", has_model ? o.model : o.goodnet + " (/)"}};
    if (with_bprime) meta["prunedef.Bprime"] = has_goodnet ? o.goodnet + " (/repaired)" : o.bprime;
    const onnx::ModelProto model = with_bprime ? onnx_goodnet_model(*spec, b, bprime, *shape, *scale, meta)
                                               : onnx_model(*spec, b, *shape, *scale, meta);
    save_onnx(o.out, model);
    std::cout << o.out << ": " << (with_bprime ? "GoodNet G (outputs class, logits, bprime_logits)" : "B (output logits)")
              << ", input (N, " << shape->channels << ", " << shape->height << ", " << shape->width
              << ") float32 raw pixels, input scale " << python_repr(*scale) << " in the graph, "
              << model.graph().node_size() << " nodes, opset " << onnx_opset << "\n";
    if (deepid_assumed)
        std::cerr << "prunedef export: note: " << o.model
                  << " is a weights-only file: its architecture is assumed to be DeepID (the CSAW architecture.py)\n";
    if (!note.empty()) std::cerr << "prunedef export: note: " << note << "\n";
    return 0;
}
#else
int run_export(const ExportOptions&) {
    throw std::runtime_error("this prunedef was built without ONNX (Debian libonnx-dev, libprotobuf-dev): "
                             "export is not available");
}
#endif

}  // namespace

Runner add_export(CLI::App& app) {
    auto o = std::make_shared<ExportOptions>();
    CLI::App* sub = app.add_subcommand("export", "write a model, or the GoodNet of B and B', as an ONNX file");
    set_help(sub,
             "prunedef export --model B.h5 [--bprime B'.h5] [--config MODEL.json] [--scale S] [--data D.h5] --out M.onnx\n"
             "       prunedef export --goodnet G.h5 [--scale S] --out G.onnx",
             "Writes an ONNX model (opset 13) with input 'input': float32 (N, C, H, W) raw pixels as the challenge's\n"
             "HDF5 'data' arrays store them (the input scale is applied inside the graph). B alone: output 'logits'\n"
             "(pre-softmax, as 'prunedef predict' writes them). With B' (--bprime, or a GoodNet file of 'repair'):\n"
             "one graph with output 'class' (int64, N classes + 1: the last means backdoor detected, as\n"
             "'prunedef eval --goodnet'), 'logits' (B) and 'bprime_logits' (B'); B and B''s shared layers appear\n"
             "once. --data is needed only when the model file states neither its input shape nor its scale.");
    o->model_opt = sub->add_option("--model", o->model, model_option_help)->type_name("B.h5|B.keras");
    o->bprime_opt = sub->add_option("--bprime", o->bprime, "B': a model file of B's architecture (repair's repaired_X<x>.h5)")
                        ->type_name("B'.h5");
    o->goodnet_opt = sub->add_option("--goodnet", o->goodnet, "a GoodNet file of repair (goodnet_X<x>.h5): B and B'")
                         ->type_name("G.h5");
    o->model_options.add_config(*sub);
    o->scale_opt = add_scale_option(*sub, o->scale);
    o->data_opt = sub->add_option("--data", o->data, "a data set the model reads, for the input shape (and scale) when "
                                                     "the file does not state them")
                      ->type_name("D.h5");
    o->out_opt = sub->add_option("--out", o->out, "output ONNX file (written atomically); required")->type_name("M.onnx");
    return [o] { return run_export(*o); };
}

}  // namespace prunedef_tool
