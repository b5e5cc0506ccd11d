// prunedef repair: the pruning defense. Sweep, B' and GoodNet per threshold X, optionally
// Fine-Pruning, and the reports.

#include "common.hpp"
#include "progress_bar.hpp"

#include <prunedef/report/markdown_report.hpp>
#include <prunedef/report/write_report.hpp>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include <unistd.h>

namespace fs = std::filesystem;
using namespace prunedef;

namespace prunedef_tool {

namespace {

struct RepairOptionsCli {
    std::string model, valid, test, poisoned, out;
    std::string drops = "2,4,10", order = "increasing", site = "pooled";
    double scale = 1;
    std::size_t fine_tune = 0, batch = 64, lr_drop = 0;
    float lr = 5e-3f;
    std::uint64_t seed = 1;
    bool relative = false, head_only = false, replace = false;
    ThreadsOption threads;
    CLI::Option *model_opt = nullptr, *scale_opt = nullptr, *valid_opt = nullptr, *test_opt = nullptr,
                *poisoned_opt = nullptr, *out_opt = nullptr, *fine_tune_opt = nullptr, *lr_drop_opt = nullptr;
};

std::vector<AccuracyDrop> parse_drops(const std::string& text, bool relative) {
    std::vector<AccuracyDrop> drops;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        double x = 0;
        std::size_t used = 0;
        try {
            x = std::stod(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != item.size()) throw usage_error("--drops: '" + item + "' is not a number");
        if (!(x > 0) || x > 100) throw usage_error("--drops: each X must be in (0, 100], got " + item);
        drops.push_back({x, relative});
    }
    if (drops.empty()) throw usage_error("--drops: no thresholds given");
    return drops;
}

std::string tag_of(const AccuracyDrop& drop) { return "X" + drop.label() + (drop.relative ? "rel" : ""); }

int run_repair(const RepairOptionsCli& o) {
    remove_temporaries_on_signals();
    o.threads.apply();
    require(o.out_opt);
    const std::string& dir = o.out;
    if (dir.empty()) throw usage_error("--out: empty path given");
    RepairOptions options;
    FinePruningOptions fine;
    const bool fine_tune = o.fine_tune_opt->count() > 0;
    if (fine_tune) {
        fine.epochs = o.fine_tune;
        fine.learning_rate = o.lr;
        fine.batch_size = o.batch;
        fine.head_only = o.head_only;
        fine.lr_drop = o.lr_drop_opt->count() > 0 ? o.lr_drop
                                                  : (o.fine_tune >= 4 ? std::size_t(std::ceil(0.75 * double(o.fine_tune))) : 0);
        fine.seed = o.seed;
    }
    options.drops = parse_drops(o.drops, o.relative);
    options.site = o.site == "pooled" ? ActivationSite::pooled : ActivationSite::convolution;

    require(o.valid_opt);
    const DatasetReader valid(o.valid);
    std::optional<DatasetReader> test, poisoned;
    if (o.test_opt->count() > 0) test.emplace(o.test);
    if (o.poisoned_opt->count() > 0) poisoned.emplace(o.poisoned);
    require(o.model_opt);
    const DeepID net = load_model(o.model, o.scale_opt, o.scale, valid);

    // Every output is checked before the work: not an input, not a special file or a link, and
    // the directory is new or empty (or --replace).
    const std::vector<std::string> inputs{o.model, o.valid, o.test, o.poisoned};
    std::vector<std::string> names{"sweep.csv", "report.md", "report.json", "curve.svg"};
    for (const AccuracyDrop& drop : options.drops)
        for (const char* kind : {"repaired_", "goodnet_", "finepruned_", "goodnet_finepruned_"})
            if (fine_tune || std::string(kind).find("finepruned") == std::string::npos)
                names.push_back(kind + tag_of(drop) + ".h5");
    for (const auto& name : names) check_output_file((fs::path(dir) / name).string(), inputs);
    OutputDirectory out_dir;
    out_dir.prepare(dir, inputs, o.replace, /*check_only=*/true);

    ProgressBar bar;
    options.progress = [&](const std::string& stage, std::size_t done, std::size_t total) { bar.update(stage, done, total); };
    const RepairData data{&valid, test ? &*test : nullptr, poisoned ? &*poisoned : nullptr};
    options.batch_size = checked_batch(options.batch_size, valid);
    RepairResult result;
    try {
        if (o.order == "increasing") result = repair<IncreasingActivation>(net, data, options);
        else if (o.order == "decreasing") result = repair<DecreasingActivation>(net, data, options);
        else result = repair<KernelL1Norm>(net, data, options);
    } catch (const numeric_error& e) {
        throw numeric_error(o.model + ": " + e.what());  // an overflowing network names the model
    }

    std::vector<DeepID> fine_tuned;
    if (fine_tune) {
        fine.on_epoch = [](const std::string& drop, const EpochReport& r) {
            if (::isatty(2)) std::cerr << "fine-tuning X=" << drop << ": epoch " << r.epoch << ", loss " << r.loss << "\n";
        };
        fine_tuned = fine_prune_all(net, result, data, fine);
    }
    // The output directory is made only now that every input has been read and checked, so a
    // run that fails on bad data leaves nothing behind.
    out_dir.prepare(dir, inputs, o.replace);
    std::vector<std::string> written;
    const auto output = [&](const std::string& name) {
        const std::string path = (fs::path(dir) / name).string();
        check_output_file(path, inputs);
        written.push_back(name);
        return path;
    };
    const ReportContext context{o.model, o.valid, o.test, o.poisoned, net.input_scale()};
    for (const auto& t : result.thresholds) {
        const std::string tag = tag_of(t.drop);
        const ChannelMask mask = ChannelMask::from_order(result.channels, result.order, t.k);
        const DeepID repaired = prune_channels(net, mask);
        save_keras_weights(output("repaired_" + tag + ".h5"), repaired);
        save_goodnet(output("goodnet_" + tag + ".h5"), net, repaired, t.pruned_channels);
        if (fine_tune) {
            const DeepID& tuned = fine_tuned[std::size_t(&t - result.thresholds.data())];
            save_keras_weights(output("finepruned_" + tag + ".h5"), tuned);
            save_goodnet(output("goodnet_finepruned_" + tag + ".h5"), net, tuned, t.pruned_channels);
        }
    }
    write_repair_report(dir, result, context, written);
    std::cout << markdown_report(result, context);
    return 0;
}

}  // namespace

Runner add_repair(CLI::App& app) {
    auto o = std::make_shared<RepairOptionsCli>();
    CLI::App* sub = app.add_subcommand("repair", "prune, choose B' for each accuracy drop X, build GoodNets, write reports");
    set_help(sub,
              "prunedef repair --model B.h5 --scale S --valid V.h5 [--test T.h5 --poisoned P.h5]\n"
              "                      [--drops 2,4,10] [--relative] [--order increasing|decreasing|l1]\n"
              "                      [--site pooled|conv] [--fine-tune EPOCHS [--lr R] [--batch B] [--head-only]]\n"
              "                      --out DIR",
              "Ranks the channels of conv_3 by mean activation over V.h5, prunes them one at a time, and for\n"
              "each accuracy drop X takes B' at the first step whose validation accuracy is X below B's.\n"
              "Only the validation set decides; test and poisoned sets are reported.\n\n"
              "Writes DIR/sweep.csv, DIR/report.md, DIR/report.json, DIR/curve.svg, and for each X\n"
              "DIR/repaired_X<x>.h5 (B', Keras layout) and DIR/goodnet_X<x>.h5 (B and B').");
    sub->footer(
        "With --fine-tune, DIR/finepruned_X<x>.h5 and DIR/goodnet_finepruned_X<x>.h5 hold the\n"
        "fine-tuned B' and its GoodNet.");
    o->model_opt = sub->add_option("--model", o->model, "Keras weights of the backdoored DeepID network; required")
                       ->type_name("B.h5");
    o->scale_opt = sub->add_option("--scale", o->scale, "input scale (default: the value stored in the file, else 1)")
                       ->type_name("S");
    o->valid_opt = sub->add_option("--valid", o->valid, "clean validation set (decides where to stop); required")
                       ->type_name("V.h5");
    o->test_opt = sub->add_option("--test", o->test, "clean test set (reported)")->type_name("T.h5");
    o->poisoned_opt = sub->add_option("--poisoned", o->poisoned, "poisoned test set, label = attacker's target "
                                                                 "(reported as ASR)")
                          ->type_name("P.h5");
    sub->add_option("--drops", o->drops, "accuracy drops X, comma-separated (default 2,4,10)")->type_name("LIST");
    sub->add_flag("--relative", o->relative, "X is a percentage of B's accuracy instead of percentage points");
    sub->add_option("--order", o->order, "increasing (default, Liu et al.), decreasing, or l1 (data-free kernel norm)")
        ->check(CLI::IsMember({"increasing", "decreasing", "l1"}))
        ->type_name("O");
    sub->add_option("--site", o->site, "pooled (default: pool_3, the dense layers' input) or conv (conv_3 output)")
        ->check(CLI::IsMember({"pooled", "conv"}))
        ->type_name("S");
    o->fine_tune_opt = sub->add_option("--fine-tune", o->fine_tune,
                                       "Fine-Pruning: fine-tune each B' on the validation set for E epochs (pruned "
                                       "channels stay zero), then report B' and G before and after")
                           ->check(CLI::Range(std::size_t(1), std::size_t(100000)))
                           ->type_name("E");
    sub->add_option("--lr", o->lr, "fine-tuning learning rate (Adam, default 0.005)")
        ->check(CLI::PositiveNumber)
        ->needs(o->fine_tune_opt)
        ->type_name("R");
    add_batch_option(*sub, o->batch, "fine-tuning mini-batch size (default 64)")->needs(o->fine_tune_opt);
    o->lr_drop_opt = sub->add_option("--lr-drop", o->lr_drop,
                                     "from fine-tuning epoch E on, a tenth of the learning rate (default: 3/4 of the "
                                     "epochs, rounded up, when there are 4 or more; 0: never)")
                         ->needs(o->fine_tune_opt)
                         ->check(CLI::NonNegativeNumber)
                         ->type_name("E");
    sub->add_flag("--head-only", o->head_only, "fine-tune only the layers after conv_3")->needs(o->fine_tune_opt);
    sub->add_option("--seed", o->seed, "fine-tuning seed (default 1)")->check(CLI::NonNegativeNumber)->needs(o->fine_tune_opt)->type_name("S");
    o->out_opt = sub->add_option("--out", o->out, "output directory: new or empty (created if missing); required")
                     ->type_name("DIR");
    sub->add_flag("--replace", o->replace,
                  "--out may hold an earlier repair: its files (reports, *_X*.h5) are removed first");
    o->threads.add(*sub);
    return [o] { return run_repair(*o); };
}

}  // namespace prunedef_tool
