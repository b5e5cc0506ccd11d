// prunedef predict: a model's pre-softmax logits for a data set, written to HDF5.

#include "common.hpp"
#include "model_file.hpp"

#include <iostream>
#include <memory>
#include <string>
#include <vector>

using namespace prunedef;

namespace prunedef_tool {

namespace {

struct PredictOptions {
    std::string model, data, out;
    double scale = 1;
    std::size_t batch = 256;
    ThreadsOption threads;
    ModelOptions model_options;
    CLI::Option *model_opt = nullptr, *scale_opt = nullptr, *data_opt = nullptr, *out_opt = nullptr;
};

int run_predict(const PredictOptions& o) {
    remove_temporaries_on_signals();
    o.threads.apply();
    require(o.out_opt);
    check_output_file(o.out, {o.model, o.data, o.model_options.config});
    require(o.data_opt);
    const DatasetReader data(o.data);
    require(o.model_opt);
    const LoadedModel model = load_model(o.model, o.model_options, o.scale_opt, o.scale, data);
    std::vector<float> logits;
    std::size_t classes = 0;
    std::visit(
        [&](const auto& net) {
            classes = net.num_classes();
            logits.reserve(data.size() * classes);
            Tensor out;
            for_each_batch(data, checked_batch(o.batch, data), [&](const Tensor& images, const int*, std::size_t first) {
                net.logits(images, out);
                // overflowing logits are an error naming the model, never a file of inf/NaN
                try {
                    for (std::size_t n = 0; n < out.batch(); ++n)
                        detail::require_finite(out.image(n), out.image_size(), first + n);
                } catch (const numeric_error& e) {
                    throw numeric_error(o.model + ": on " + data.file() + ": " + e.what());
                }
                logits.insert(logits.end(), out.data(), out.data() + out.size());
            });
        },
        model.net);
    AtomicOutput file(o.out);
    {
        detail::H5Object h5 = detail::create_h5_file(file.path());
        h5.file = o.out;
        detail::h5_write_dataset(h5, "logits", {data.size(), classes}, logits.data(), H5T_IEEE_F32LE);
    }
    file.commit();
    // after the results, so that an error is always the one line on stderr
    std::cerr << model_notes(model, "predict");
    return 0;
}

}  // namespace

Runner add_predict(CLI::App& app) {
    auto o = std::make_shared<PredictOptions>();
    CLI::App* sub = app.add_subcommand("predict", "write a model's pre-softmax logits for a data set");
    set_help(sub, "prunedef predict --model M.h5|M.keras [--config MODEL.json] --scale S --data D.h5 --out L.h5",
              "Writes dataset 'logits' (N x classes, float32, pre-softmax: a final softmax of the model is\n"
              "left out, which does not change the argmax) to L.h5.");
    o->model_opt = sub->add_option("--model", o->model, std::string(model_option_help) + "; required")
                       ->type_name("M.h5|M.keras");
    o->model_options.add_config(*sub);
    o->scale_opt = add_scale_option(*sub, o->scale);
    o->data_opt = sub->add_option("--data", o->data, "data set in the challenge layout; required")->type_name("D.h5");
    o->out_opt = sub->add_option("--out", o->out, "output file (written atomically); required")->type_name("L.h5");
    add_batch_option(*sub, o->batch, "images per batch (default 256)");
    o->threads.add(*sub);
    return [o] { return run_predict(*o); };
}

}  // namespace prunedef_tool
