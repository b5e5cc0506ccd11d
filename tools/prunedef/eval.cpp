// prunedef eval: clean accuracy and attack success rate of a model or a GoodNet, printed as the
// CSAW-HackML eval.py prints them.

#include "common.hpp"
#include "model_file.hpp"

#include <iostream>
#include <memory>
#include <utility>
#include <optional>

using namespace prunedef;

namespace prunedef_tool {

namespace {

struct EvalOptions {
    std::string model, goodnet, clean, poisoned;
    double scale = 1;
    std::size_t batch = 256;
    ThreadsOption threads;
    ModelOptions model_options;
    CLI::Option *model_opt = nullptr, *goodnet_opt = nullptr, *scale_opt = nullptr, *clean_opt = nullptr,
                *poisoned_opt = nullptr;
};

/// The predictions of model_path's network on data; a non-finite output names the model.
template <class Model>
std::vector<int> predict_named(const Model& model, const std::string& model_path, const DatasetReader& data,
                               std::size_t batch) {
    try {
        return predict_dataset(model, data, checked_batch(batch, data));
    } catch (const numeric_error& e) {
        throw numeric_error(model_path + ": on " + data.file() + ": " + e.what());
    }
}

int run_eval(const EvalOptions& o) {
    if (o.model_opt->count() == 0 && o.goodnet_opt->count() == 0) throw usage_error("give --model or --goodnet");
    o.threads.apply();
    require(o.clean_opt);
    const DatasetReader clean(o.clean);
    std::optional<DatasetReader> poisoned;
    if (o.poisoned_opt->count() > 0) poisoned.emplace(o.poisoned);
    checked_batch(o.batch, clean);
    if (poisoned) checked_batch(o.batch, *poisoned);

    // Everything is computed before anything is printed: a failure leaves no partial output.
    std::string text, note;
    if (o.goodnet_opt->count() > 0) {
        const AnyGoodNet goodnet = load_goodnet(o.goodnet);
        std::visit(
            [&](const auto& g) {
                const int N = g.detected_class();
                auto run = [&](const DatasetReader& data) {
                    data.check_labels(g.num_classes());
                    return count_goodnet(predict_named(g, o.goodnet, data, o.batch), data.labels(), N);
                };
                const GoodNetCounts c = run(clean);
                text += "Clean Classification accuracy: " + python_repr(c.matched_percent()) + "\n";
                if (poisoned) {
                    const GoodNetCounts p = run(*poisoned);
                    text += "Attack Success Rate: " + python_repr(p.matched_percent()) + "\n";
                    text += "Backdoor Detection Rate: " + python_repr(p.flagged_percent()) + "\n";
                }
                text += "Clean False Positive Rate: " + python_repr(c.flagged_percent()) + "\n";
            },
            goodnet);
    } else {
        const LoadedModel model = load_model(o.model, o.model_options, o.scale_opt, o.scale, clean);
        note = model_notes(model, "eval");
        std::visit(
            [&](const auto& net) {
                auto accuracy = [&](const DatasetReader& data) {
                    data.check_labels(net.num_classes());
                    return percent_matching(predict_named(net, o.model, data, o.batch), data.labels());
                };
                text += "Clean Classification accuracy: " + python_repr(accuracy(clean)) + "\n";
                if (poisoned) text += "Attack Success Rate: " + python_repr(accuracy(*poisoned)) + "\n";
            },
            model.net);
    }
    write_stdout(text);
    std::cerr << note;  // after the results, so that an error is always the one line on stderr
    return 0;
}

}  // namespace

Runner add_eval(CLI::App& app) {
    auto o = std::make_shared<EvalOptions>();
    CLI::App* sub = app.add_subcommand("eval", "clean accuracy and attack success rate of a model or a GoodNet");
    set_help(sub,
              "prunedef eval --model M.h5|M.keras [--config MODEL.json] --scale S --clean C.h5 [--poisoned P.h5]\n"
              "       prunedef eval --goodnet G.h5 --clean C.h5 [--poisoned P.h5]",
              "Prints, as the CSAW-HackML eval.py does:\n"
              "  Clean Classification accuracy: <percent>\n"
              "  Attack Success Rate: <percent>            (with --poisoned: inputs classified as their label)\n"
              "With --goodnet, the output N (\"backdoor detected\") counts as wrong on clean data, and the\n"
              "detection rate (poisoned inputs given N) and false-positive rate (clean inputs given N) follow.");
    o->model_opt = sub->add_option("--model", o->model, model_option_help)->type_name("M.h5|M.keras");
    o->model_options.add_config(*sub);
    o->scale_opt = add_scale_option(*sub, o->scale);
    o->goodnet_opt = sub->add_option("--goodnet", o->goodnet, "a GoodNet file written by 'prunedef repair' "
                                                              "(holds its own scale)")
                         ->type_name("G.h5");
    o->goodnet_opt->excludes(o->model_opt)->excludes(o->scale_opt);
    o->clean_opt = sub->add_option("--clean", o->clean, "clean data set (data, label); required")->type_name("C.h5");
    o->poisoned_opt = sub->add_option("--poisoned", o->poisoned, "poisoned data set (label = the attacker's target)")
                          ->type_name("P.h5");
    add_batch_option(*sub, o->batch, "images per batch (default 256)");
    o->threads.add(*sub);
    return [o] { return run_eval(*o); };
}

}  // namespace prunedef_tool
