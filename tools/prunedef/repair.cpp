// prunedef repair: the pruning defense. Sweep, B' and GoodNet per threshold X, optionally
// Fine-Pruning, and the reports.

#include "common.hpp"
#include "model_file.hpp"
#include "progress_bar.hpp"

#include <prunedef/core/communicator.hpp>
#include <prunedef/fine_pruning/named_order.hpp>
#include <prunedef/report/markdown_report.hpp>
#include <prunedef/report/write_report.hpp>
#if PRUNEDEF_HAVE_MPI
#include <prunedef/mpi/mpi_communicator.hpp>
#include <prunedef/mpi/mpi_session.hpp>
#endif

#include <algorithm>
#include <cctype>
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
    std::string model, valid, test, out;
    std::string clean_reference;        // --clean-reference
    std::vector<std::string> poisoned;  // NAME=FILE or FILE, one per --poisoned
    std::vector<std::string> ks;        // --k values, each a comma list
    std::string name_template;          // --name
    double holdout = 0.2;               // --holdout
    bool last_epoch = false;            // --last-epoch
    double max_fpr = 0;
    double feature_cache_mb = 256;      // --feature-cache
    std::string drops = "2,4,10", order = "increasing", site = "pooled";
    double scale = 1;
    std::size_t fine_tune = 0, batch = 64, lr_drop = 0;
    float lr = 5e-3f;
    float weight_decay = 0;             // --weight-decay
    std::size_t augment_shift = 0;      // --augment-shift
    bool augment_flip = false;          // --augment-flip
    double augment_erase = 0;           // --augment-erase
    float sam = 0;                      // --sam
    bool sam_adaptive = false;          // --sam-adaptive
    std::string distill;                // --distill WEIGHT[,T]
    float anp_eps = 0.4f;               // --anp-eps
    std::size_t anp_iterations = 2000;  // --anp-iterations
    std::uint64_t seed = 1;
    bool relative = false, head_only = false, replace = false, weights_only = false, quiet = false;
    bool onnx = false;  // --onnx: every B' and G also as ONNX
    ThreadsOption threads;
    ModelOptions model_options;
    CLI::Option *model_opt = nullptr, *scale_opt = nullptr, *valid_opt = nullptr, *test_opt = nullptr,
                *poisoned_opt = nullptr, *clean_reference_opt = nullptr, *max_fpr_opt = nullptr, *out_opt = nullptr, *fine_tune_opt = nullptr, *lr_drop_opt = nullptr,
                *anp_eps_opt = nullptr, *anp_iterations_opt = nullptr;
};

/// --distill WEIGHT[,T] (T 2 when absent).
Distillation parse_distill(const std::string& text) {
    Distillation d{0.0f, 2.0f};
    const std::size_t comma = text.find(',');
    try {
        std::size_t used = 0;
        d.weight = std::stof(text.substr(0, comma), &used);
        if (used != (comma == std::string::npos ? text.size() : comma)) throw std::invalid_argument(text);
        if (comma != std::string::npos) {
            d.temperature = std::stof(text.substr(comma + 1), &used);
            if (used != text.size() - comma - 1) throw std::invalid_argument(text);
        }
        check_distillation(d);
    } catch (const std::exception&) {
        throw usage_error("--distill " + text + ": expected WEIGHT[,T], the weight in [0, 1] and T > 0");
    }
    return d;
}

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

struct PoisonedArg {
    std::string name, file;
};

/// --poisoned values: NAME=FILE, or FILE named by its stem. A name is letters, digits, '_', '-',
/// '.' or '+'; two sets with the same name are refused.
std::vector<PoisonedArg> parse_poisoned(const std::vector<std::string>& values) {
    std::vector<PoisonedArg> sets;
    const auto valid_name = [](const std::string& name) {
        return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '+';
        });
    };
    for (const std::string& v : values) {
        PoisonedArg a;
        const auto eq = v.find('=');
        if (eq != std::string::npos && eq > 0 && v.substr(0, eq).find('/') == std::string::npos) {
            a.name = v.substr(0, eq);
            a.file = v.substr(eq + 1);
            if (!valid_name(a.name))
                throw usage_error("--poisoned " + v + ": the name '" + a.name +
                                  "' may hold only letters, digits, '_', '-', '.' and '+'");
        } else {
            a.file = v;
            a.name = fs::path(v).stem().string();
            if (!valid_name(a.name))
                throw usage_error("--poisoned " + v + ": the file's stem '" + a.name +
                                  "' is not a usable name; give one as NAME=FILE");
        }
        if (a.file.empty()) throw usage_error("--poisoned " + v + ": no file given");
        for (const PoisonedArg& b : sets)
            if (b.name == a.name)
                throw usage_error("--poisoned: two sets are named '" + a.name + "' (" + b.file + " and " + a.file +
                                  "); name them with NAME=FILE");
        sets.push_back(a);
    }
    return sets;
}

/// A B' file's ONNX copy (--onnx): its name with the extension ext replaced by .onnx.
std::string onnx_name(const std::string& name, const std::string& ext) {
    return name.substr(0, name.size() - ext.size()) + ".onnx";
}

std::string tag_of(const AccuracyDrop& drop) { return "X" + drop.label() + (drop.relative ? "rel" : ""); }

/// --k values: channel counts, each option a comma list; a repeated count is refused.
std::vector<std::size_t> parse_ks(const std::vector<std::string>& values) {
    std::vector<std::size_t> ks;
    for (const std::string& v : values) {
        std::stringstream ss(v);
        std::string item;
        bool any = false;
        while (std::getline(ss, item, ',')) {
            any = true;
            const bool digits = !item.empty() && item.size() <= 9 &&
                                std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; });
            if (!digits) throw usage_error("--k: '" + item + "' is not a channel count");
            const std::size_t k = std::stoul(item);
            if (std::find(ks.begin(), ks.end(), k) != ks.end()) throw usage_error("--k: " + item + " is given twice");
            ks.push_back(k);
        }
        if (!any) throw usage_error("--k: no channel count given");
    }
    return ks;
}

/// One B' file: its default tag ("X2", "X10rel", "k30"), its drop ("2", "10rel"; "" for a --k
/// output) and its channel count (as text: before the sweep, a threshold's is not known yet).
struct BprimeName {
    std::string tag, x, k;
};

/// B''s file name: "repaired_<tag><ext>", or the --name template with {name}, {x} and {k}
/// replaced. A template may not name a file outside --out, a hidden file, or one not ending in
/// ext (B''s kind).
std::string bprime_file(const std::string& tmpl, const BprimeName& n, const std::string& ext) {
    if (tmpl.empty()) return "repaired_" + n.tag + ext;
    std::string out;
    for (std::size_t i = 0; i < tmpl.size(); ++i) {
        if (tmpl[i] == '{') {
            const auto close = tmpl.find('}', i);
            const std::string key = close == std::string::npos ? std::string() : tmpl.substr(i + 1, close - i - 1);
            if (key == "name") out += n.tag;
            else if (key == "x") out += n.x;
            else if (key == "k") out += n.k;
            else
                throw usage_error("--name " + tmpl + ": unknown placeholder at '" + tmpl.substr(i) +
                                  "' (the placeholders are {name}, {x} and {k})");
            i = close;
        } else if (tmpl[i] == '}') {
            throw usage_error("--name " + tmpl + ": a '}' without its '{'");
        } else {
            out += tmpl[i];
        }
    }
    if (out.find('/') != std::string::npos || out.find('\\') != std::string::npos)
        throw usage_error("--name " + tmpl + ": a name may not hold '/' or '\\' (files stay in --out)");
    if (out.empty() || out.front() == '.')
        throw usage_error("--name " + tmpl + ": gives '" + out + "', an empty or hidden name");
    if (out.size() <= ext.size() || out.compare(out.size() - ext.size(), ext.size(), ext) != 0)
        throw usage_error("--name " + tmpl + ": gives '" + out + "'; B' is written as a " + ext +
                          " file, so the name must end in " + ext);
    return out;
}

/// Refuses two outputs with one name (a --name template without a placeholder that tells them
/// apart).
void check_distinct(const std::vector<std::string>& names, const std::string& tmpl) {
    for (std::size_t i = 0; i < names.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (names[i] == names[j])
                throw usage_error("--name " + tmpl + ": two outputs would both be named '" + names[i] +
                                  "'; use {name} (or {x} and {k}) to tell them apart");
}

/// The stderr lines of --clean-reference: per poisoned set, its clean floor next to the attack
/// success of B, and of B' and G at every X (after fine-tuning too, when it was run).
std::string clean_floor_summary(const RepairResult& r) {
    const auto pc = [](double v) {
        std::ostringstream s;
        s.setf(std::ios::fixed);
        s.precision(2);
        s << v << " %";
        return s.str();
    };
    std::string out;
    for (std::size_t s = 0; s < r.poisoned_sets.size(); ++s) {
        if (!r.poisoned_sets[s].clean_floor) continue;
        out += "prunedef repair: " + r.poisoned_sets[s].name + ": clean floor " + pc(*r.poisoned_sets[s].clean_floor) +
               " (the clean reference's rate of predicting the target); ASR of B " +
               pc(r.baseline().poisoned[s].attack_success);
        for (const ThresholdResult& t : r.thresholds) {
            if (s >= t.poisoned_attack_success.size() || s >= t.goodnet_poisoned_sets.size()) continue;
            out += "; X=" + t.drop.label() + (t.drop.relative ? "rel" : "") + ": B' " + pc(t.poisoned_attack_success[s]) +
                   ", G " + pc(t.goodnet_poisoned_sets[s].matched_percent());
            if (t.fine_tuned && s < t.fine_tuned->poisoned_attack_success.size() &&
                s < t.fine_tuned->goodnet_poisoned_sets.size())
                out += ", fine-tuned B' " + pc(t.fine_tuned->poisoned_attack_success[s]) + ", G " +
                       pc(t.fine_tuned->goodnet_poisoned_sets[s].matched_percent());
        }
        out += "\n";
    }
    return out;
}

// Under MPI every rank runs this: each reads its slice of every set in repair(); rank 0 alone
// measures the clean floors, fine-tunes (on the whole validation set, as one process does) and
// writes the outputs and stdout, the others wait in the last collective (run_repair).
int run_repair_on(const RepairOptionsCli& o, const Communicator& comm) {
    const bool writer = comm.rank() == 0;
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
        fine.weight_decay = o.weight_decay;
        fine.augmentation.max_shift = o.augment_shift;
        fine.augmentation.horizontal_flip = o.augment_flip;
        fine.augmentation.erasing.probability = o.augment_erase;
        fine.sam_rho = o.sam;
        fine.sam_adaptive = o.sam_adaptive;
        if (!o.distill.empty()) fine.distillation = parse_distill(o.distill);
        fine.lr_drop = o.lr_drop_opt->count() > 0 ? o.lr_drop
                                                  : (o.fine_tune >= 4 ? std::size_t(std::ceil(0.75 * double(o.fine_tune))) : 0);
        fine.seed = o.seed;
        fine.holdout = o.holdout;
        fine.choose_epoch = !o.last_epoch;
        check_fine_pruning_options(fine);  // before any work
    }
    options.drops = parse_drops(o.drops, o.relative);
    options.site = o.site == "pooled" ? ActivationSite::pooled : ActivationSite::convolution;
    options.feature_cache_bytes = static_cast<std::size_t>(std::min(o.feature_cache_mb, 1e12) * 1e6);
    if (o.max_fpr_opt->count() > 0) options.max_fpr = o.max_fpr;
    const std::vector<PoisonedArg> poisoned_args = parse_poisoned(o.poisoned);
    const std::vector<std::size_t> extra_ks = parse_ks(o.ks);
    if (o.onnx && !onnx_available())
        throw usage_error("--onnx: this prunedef was built without ONNX (Debian libonnx-dev, libprotobuf-dev)");

    if (o.order != "anp" && (o.anp_eps_opt->count() > 0 || o.anp_iterations_opt->count() > 0))
        throw usage_error(std::string(o.anp_eps_opt->count() > 0 ? "--anp-eps" : "--anp-iterations") +
                          ": only with --policy anp");
    require(o.valid_opt);
    const DatasetReader valid(o.valid);
    std::optional<DatasetReader> test;
    if (o.test_opt->count() > 0) test.emplace(o.test);
    if (fine_tune && !test) (void)holdout_split(valid.size(), o.holdout, o.seed);  // refused before the work
    std::vector<std::unique_ptr<DatasetReader>> poisoned;
    for (const PoisonedArg& p : poisoned_args) poisoned.push_back(std::make_unique<DatasetReader>(p.file));
    require(o.model_opt);
    ModelOptions model_options = o.model_options;
    model_options.pooled = options.site == ActivationSite::pooled;
    const LoadedModel model = load_model(o.model, model_options, o.scale_opt, o.scale, valid);
    if (o.weights_only && model.onnx)
        throw usage_error("--weights-only: " + o.model + " is an ONNX model; B' is written as ONNX (a weights-only .h5 "
                          "would need a Keras architecture)");
    const std::string ext = o.weights_only ? ".h5" : model_extension(model);
    // --clean-reference: the ASR floor of every poisoned set, measured before the work (a reference
    // that does not fit the data is refused before the sweep).
    std::optional<LoadedModel> reference;
    std::vector<double> floors;
    if (o.clean_reference_opt->count() > 0 && writer) {
        if (poisoned_args.empty()) throw usage_error("--clean-reference: no --poisoned set to measure its floor on");
        reference.emplace(load_model(o.clean_reference, model_options, o.scale_opt, o.scale, valid));
        RepairData sets{&valid, nullptr, nullptr};
        for (std::size_t i = 0; i < poisoned.size(); ++i) sets.poisoned_sets.push_back({poisoned_args[i].name, poisoned[i].get()});
        const std::size_t classes = std::visit([](const auto& n) { return n.num_classes(); }, model.net);
        floors = std::visit(
            [&](const auto& ref) {
                if (ref.num_classes() != classes)
                    throw usage_error("--clean-reference " + o.clean_reference + ": it has " +
                                      std::to_string(ref.num_classes()) + " classes, the model " + std::to_string(classes));
                return clean_floors(ref, sets);
            },
            reference->net);
    }
    // --onnx: beside every B' file (unless it is ONNX already) its ONNX copy, beside every GoodNet
    // file goodnet_*.onnx
    const bool onnx_copies = o.onnx && ext != ".onnx";
    const auto with_onnx = [&](std::vector<std::string>& list, const std::string& bprime, const std::string& goodnet) {
        list.push_back(bprime);
        if (onnx_copies) list.push_back(onnx_name(bprime, ext));
        list.push_back(goodnet + ".h5");
        if (o.onnx) list.push_back(goodnet + ".onnx");
    };
    const std::size_t channels = std::visit([](const auto& n) { return n.prunable_channels(); }, model.net);
    for (const std::size_t k : extra_ks)
        if (k > channels)
            throw usage_error("--k " + std::to_string(k) + ": the pruned layer has " + std::to_string(channels) +
                              " channels");

    // Every output is checked before the work: not an input, not a special file or a link, and
    // the directory is new or empty (or --replace).
    std::vector<std::string> inputs{o.model, o.valid, o.test, o.model_options.config, o.clean_reference};
    for (const PoisonedArg& p : poisoned_args) inputs.push_back(p.file);
    std::vector<std::string> names{"sweep.csv", "report.md", "report.json", "curve.svg", "roc.svg"};
    for (const std::size_t k : extra_ks) {
        const std::string tag = "k" + std::to_string(k);
        with_onnx(names, bprime_file(o.name_template, {tag, "", std::to_string(k)}, ext), "goodnet_" + tag);
    }
    for (const AccuracyDrop& drop : options.drops) {
        // a threshold's k is known only after the sweep: a mark that no other output holds
        with_onnx(names, bprime_file(o.name_template, {tag_of(drop), drop.label() + (drop.relative ? "rel" : ""),
                                                       "?" + std::to_string(names.size())}, ext),
                  "goodnet_" + tag_of(drop));
        if (fine_tune) with_onnx(names, "finepruned_" + tag_of(drop) + ext, "goodnet_finepruned_" + tag_of(drop));
    }
    check_distinct(names, o.name_template);
    for (const auto& name : names) check_output_file((fs::path(dir) / name).string(), inputs);
    OutputDirectory out_dir;
    out_dir.prepare(dir, inputs, o.replace, /*check_only=*/true);

    ProgressBar bar(o.quiet || !writer);  // rank 0's share stands for the others'
    const std::string share = comm.size() > 1 ? " (rank 0's share, of " + std::to_string(comm.size()) + " ranks)" : "";
    options.progress = [&](const std::string& stage, std::size_t done, std::size_t total) {
        bar.update(stage + share, done, total);
    };
    options.communicator = &comm;
    if (comm.size() > 1 && writer && !o.quiet)
        std::cerr << "prunedef repair: " << comm.size() << " ranks, each reading a slice of every data set\n";
    RepairData data{&valid, test ? &*test : nullptr, nullptr};
    for (std::size_t i = 0; i < poisoned.size(); ++i)
        data.poisoned_sets.push_back({poisoned_args[i].name, poisoned[i].get()});
    options.batch_size = checked_batch(options.batch_size, valid);

    return std::visit(
        [&](const auto& net) {
            using Net = std::decay_t<decltype(net)>;
            RepairResult result;
            std::string anp_note;  // --policy anp: what the paper's threshold on the masks would prune
            try {
                NamedOrderSettings settings;
                if (model.file.spec) settings.spec = &*model.file.spec;
                settings.anp.epsilon = o.anp_eps;
                settings.anp.iterations = o.anp_iterations;
                settings.anp.progress = [&](std::size_t done, std::size_t total) { bar.update("ANP" + share, done, total); };
                NamedOrderRepair named = repair_with_order(net, data, options, o.order, settings);
                result = std::move(named.result);
                if (o.order == "anp") {
                    const std::vector<double>& masks = named.anp_masks;
                    const auto below = std::count_if(masks.begin(), masks.end(), [](double m) { return m < 0.2; });
                    anp_note = "prunedef repair: ANP: " + std::to_string(below) + " of " + std::to_string(masks.size()) +
                               " channels end with a mask below 0.2, the paper's pruning threshold" +
                               (below > 0 ? " (--k " + std::to_string(below) + " writes that B')" : std::string()) + "\n";
                }
            } catch (const numeric_error& e) {
                throw numeric_error(o.model + ": " + e.what());  // an overflowing network names the model
            }
            for (std::size_t s = 0; s < floors.size() && s < result.poisoned_sets.size(); ++s)
                result.poisoned_sets[s].clean_floor = floors[s];
            if (!writer) return 0;  // rank 0 writes

            std::vector<Net> fine_tuned;
            if (fine_tune) {
                fine.on_epoch = [&bar, epochs = fine.epochs](const std::string& drop, const EpochReport& r) {
                    if (!bar.quiet())
                        std::cerr << "fine-tuning X=" << drop << ": epoch " << r.epoch << " of " << epochs << ", loss " << r.loss
                                  << ", " << std::size_t(r.images_per_second + 0.5) << " images/s, about "
                                  << std::size_t(r.seconds * double(epochs - r.epoch) + 0.5) << " s left in this X\n";
                };
                TrainingForm<Net> form;  // a graph network trains unfolded (fine_pruning.hpp)
                if constexpr (std::is_same_v<Net, GraphNetwork>) form = graph_training_form(*model.file.spec);
                fine_tuned = fine_prune_all(net, result, data, fine, 256, form);
            }
            // B''s names, now that every threshold's k is known.
            std::vector<std::string> bprime_names, final_names;
            for (const std::size_t k : extra_ks) {
                bprime_names.push_back(bprime_file(o.name_template, {"k" + std::to_string(k), "", std::to_string(k)}, ext));
                with_onnx(final_names, bprime_names.back(), "goodnet_k" + std::to_string(k));
            }
            for (const auto& t : result.thresholds) {
                bprime_names.push_back(bprime_file(
                    o.name_template, {tag_of(t.drop), t.drop.label() + (t.drop.relative ? "rel" : ""), std::to_string(t.k)}, ext));
                with_onnx(final_names, bprime_names.back(), "goodnet_" + tag_of(t.drop));
                if (fine_tune) with_onnx(final_names, "finepruned_" + tag_of(t.drop) + ext, "goodnet_finepruned_" + tag_of(t.drop));
            }
            for (const char* report : {"sweep.csv", "report.md", "report.json", "curve.svg", "roc.svg"})
                final_names.push_back(report);
            check_distinct(final_names, o.name_template);
            // The output directory is made only now that every input has been read and checked, so
            // a run that fails on bad data leaves nothing behind.
            out_dir.prepare(dir, inputs, o.replace);
            std::vector<std::string> written;
            const auto output = [&](const std::string& name) {
                const std::string path = (fs::path(dir) / name).string();
                check_output_file(path, inputs);
                written.push_back(name);
                return path;
            };
            ReportContext context{o.model, o.valid, o.test, poisoned_args.empty() ? std::string() : poisoned_args[0].file,
                                  net.input_scale(), model.architecture, {}};
            for (const PoisonedArg& p : poisoned_args) context.poisoned_files.push_back(p.file);
            context.clean_reference = o.clean_reference;
            // B' (file name) and its GoodNet (name without extension), with their ONNX copies
            const auto save = [&](const Net& bprime, const std::string& bprime_name, const std::string& goodnet,
                                  const std::vector<std::size_t>& pruned) {
                save_model(output(bprime_name), model, bprime, o.weights_only);
                if (onnx_copies) save_onnx_model_file(output(onnx_name(bprime_name, ext)), model, bprime);
                save_goodnet_file(output(goodnet + ".h5"), model, net, bprime, pruned);
                if (o.onnx) save_onnx_goodnet_file(output(goodnet + ".onnx"), model, net, bprime, o.model, bprime_name);
            };
            for (std::size_t i = 0; i < extra_ks.size(); ++i) {
                const ChannelMask mask = ChannelMask::from_order(result.channels, result.order, extra_ks[i]);
                const Net repaired = prune_channels(net, mask);
                const std::vector<std::size_t> pruned(result.order.begin(),
                                                      result.order.begin() + static_cast<std::ptrdiff_t>(extra_ks[i]));
                save(repaired, bprime_names[i], "goodnet_k" + std::to_string(extra_ks[i]), pruned);
            }
            for (const auto& t : result.thresholds) {
                const std::string tag = tag_of(t.drop);
                const ChannelMask mask = ChannelMask::from_order(result.channels, result.order, t.k);
                const Net repaired = prune_channels(net, mask);
                save(repaired, bprime_names[extra_ks.size() + std::size_t(&t - result.thresholds.data())],
                     "goodnet_" + tag, t.pruned_channels);
                if (!fine_tuned.empty())
                    save(fine_tuned[std::size_t(&t - result.thresholds.data())], "finepruned_" + tag + ext,
                         "goodnet_finepruned_" + tag, t.pruned_channels);
            }
            write_repair_report(dir, result, context, written);
            std::cout << markdown_report(result, context);
            std::cerr << model_notes(model, "repair");  // after the results: an error stays the one line on stderr
            if (reference) {
                std::cerr << model_notes(*reference, "repair --clean-reference");
                std::cerr << clean_floor_summary(result);
            }
            std::cerr << anp_note;
            for (const std::string& w : result.warnings) std::cerr << "prunedef repair: warning: " << w << "\n";
            return 0;
        },
        model.net);
}

int run_repair(const RepairOptionsCli& o, bool single_process) {
    remove_temporaries_on_signals();
    o.threads.apply();
    const SingleProcess single;
#if PRUNEDEF_HAVE_MPI
    // MPI only when started by a launcher (mpirun, srun): a plain 'prunedef repair' runs as before.
    std::optional<MpiSession> session;
    std::optional<MpiCommunicator> mpi;
    if (launched_by_mpi() && !single_process) {
        session.emplace(nullptr, nullptr);
        mpi.emplace();
    }
    const Communicator& comm = mpi ? static_cast<const Communicator&>(*mpi) : single;
#else
    const Communicator& comm = single;
#endif
    try {
        const int code = run_repair_on(o, comm);
        comm.check();  // every rank ends here: rank 0's outputs are written, or its error is known
        return code;
    } catch (const rank_failure&) {
        throw;
    } catch (const std::exception& e) {
        comm.share_failure(e.what());
        throw;
    }
}

}  // namespace

Runner add_repair(CLI::App& app, bool single_process) {
    auto o = std::make_shared<RepairOptionsCli>();
    CLI::App* sub = app.add_subcommand("repair", "prune, choose B' for each accuracy drop X, build GoodNets, write reports");
    set_help(sub,
              "prunedef repair --model B.h5|B.keras|B.onnx [--config MODEL.json] --scale S --valid V.h5\n"
              "                      [--test T.h5] [--poisoned [NAME=]P.h5 ...] [--clean-reference C.h5] [--max-fpr P]\n"
              "                      [--drops 2,4,10] [--relative]\n"
              "                      [--order increasing|decreasing|l1|clp|anp [--anp-eps E] [--anp-iterations N]]\n"
              "                      [--layer NAME] [--site pooled|conv]\n"
              "                      [--k N,...] [--name TEMPLATE]\n"
              "                      [--fine-tune EPOCHS [--lr R] [--batch B] [--head-only] [--holdout F] [--last-epoch]\n"
              "                                          [--weight-decay L] [--augment-shift S] [--augment-flip]\n"
              "                                          [--augment-erase P]\n"
              "                                          [--sam RHO [--sam-adaptive]] [--distill W[,T]]]\n"
              "                      [--weights-only] [--onnx]\n"
              "                      --out DIR [--replace] [--quiet]",
              "Ranks the channels of the pruned layer (default: the last convolution whose pooled output feeds\n"
              "the dense layers, conv_3 in DeepID) by mean activation over V.h5, prunes them one at a time, and\n"
              "for each accuracy drop X takes B' at the first step whose validation accuracy is X below B's.\n"
              "Only the validation set decides; test and poisoned sets are reported. At every step k the\n"
              "GoodNet G = GoodNet<B, B'_k> is measured too (clean accuracy, false positives, and per\n"
              "poisoned set its attack success and detection rate), giving G's ROC over k.\n\n"
              "Writes DIR/sweep.csv, DIR/report.md, DIR/report.json, DIR/curve.svg, DIR/roc.svg, and for each X\n"
              "DIR/repaired_X<x>.h5 (B', a model file of B's kind that keras.models.load_model opens: a full\n"
              "model .h5, or .keras for a .keras B) and DIR/goodnet_X<x>.h5 (B and B', for 'eval --goodnet').");
    sub->footer(
        "With --fine-tune, DIR/finepruned_X<x>.h5 and DIR/goodnet_finepruned_X<x>.h5 hold the\n"
        "fine-tuned B' and its GoodNet; without --test, the figures after fine-tuning are on a held-out\n"
        "part of V.h5 (--holdout). With --k N, DIR/repaired_k<N>.h5 and DIR/goodnet_k<N>.h5 hold B' with\n"
        "N channels pruned and its GoodNet. --name TEMPLATE names B''s files instead of repaired_*: {name}\n"
        "is the default tag (X2, X10rel, k30), {x} the drop X (2, 10rel; empty for --k), {k} the\n"
        "channels pruned; e.g. --name 'pruned_{x}.h5'. Two outputs with one name are refused.\n"
        "With --onnx, every B' file also as ONNX (repaired_X<x>.onnx, ...) and every GoodNet as one ONNX graph\n"
        "(goodnet_X<x>.onnx: input (N, C, H, W) raw pixels, output 'class', N classes + 1 = backdoor detected).\n"
        "An ONNX B (--model B.onnx) gives ONNX B' files; its GoodNet files are .h5 as for Keras (and .onnx\n"
        "with --onnx).");
    o->model_opt = sub->add_option("--model", o->model, "the backdoored network B, " + std::string(model_option_help) +
                                                            "; required")
                       ->type_name("B.h5|B.keras|B.onnx");
    o->model_options.add_config(*sub);
    sub->add_option("--layer", o->model_options.layer,
                    "the Conv2D (channels) or Dense layer (neurons) to prune (default: the last convolution whose "
                    "pooled output feeds the dense layers, found from the graph: conv_3 in DeepID)")
        ->type_name("NAME");
    o->scale_opt = add_scale_option(*sub, o->scale);
    o->valid_opt = sub->add_option("--valid", o->valid, "clean validation set (decides where to stop); required")
                       ->type_name("V.h5");
    o->test_opt = sub->add_option("--test", o->test, "clean test set (reported)")->type_name("T.h5");
    o->poisoned_opt = sub->add_option("--poisoned", o->poisoned,
                                      "poisoned test set, label = attacker's target (reported as ASR); may be given "
                                      "several times, each as NAME=P.h5 or P.h5 (named by its stem)")
                          ->expected(1)
                          ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
                          ->type_name("[NAME=]P.h5");
    o->clean_reference_opt =
        sub->add_option("--clean-reference", o->clean_reference,
                        "a clean network of B's architecture and classes (e.g. make-badnet --poison 0): its rate of "
                        "predicting each poisoned set's target is the ASR floor, quoted next to the ASR in the "
                        "reports and on stderr")
            ->needs(o->poisoned_opt)
            ->type_name("CLEAN.h5");
    o->max_fpr_opt = sub->add_option("--max-fpr", o->max_fpr,
                                     "false-positive budget in percent: report the step k whose GoodNet detects most "
                                     "poisoned inputs with at most P % of clean inputs flagged")
                         ->check(CLI::Range(0.0, 100.0))
                         ->type_name("P");
    sub->add_option("--k", o->ks, "also write B' (and its GoodNet) with N channels pruned; comma list, may be repeated")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->type_name("N,...");
    sub->add_option("--name", o->name_template,
                    "B''s file names: a template with {name} (X2, k30), {x} (the drop) and {k} (channels pruned)")
        ->type_name("TEMPLATE");
    sub->add_option("--drops", o->drops, "accuracy drops X, comma-separated (default 2,4,10)")->type_name("LIST");
    sub->add_flag("--relative", o->relative, "X is a percentage of B's accuracy instead of percentage points");
    sub->add_option("--order,--policy", o->order,
                    "increasing (default, Liu et al.), decreasing, l1 (data-free kernel norm), or clp (data-free: "
                    "largest channel Lipschitz bound first, Zheng et al. ECCV 2022), or anp (lowest mask learnt "
                    "under adversarial neuron perturbation on V.h5 first, Wu and Wang NeurIPS 2021)")
        ->check(CLI::IsMember(std::vector<std::string>(pruning_order_names.begin(), pruning_order_names.end())))
        ->type_name("O");
    o->anp_eps_opt = sub->add_option("--anp-eps", o->anp_eps,
                                     "--policy anp: perturbation budget of the channels' weights and biases (default "
                                     "0.4, the paper's)")
                         ->check(CLI::Range(0.0, 1.0))
                         ->type_name("E");
    o->anp_iterations_opt = sub->add_option("--anp-iterations", o->anp_iterations,
                                            "--policy anp: mini-batches of 128 validation images the masks learn "
                                            "on (default 2000, the paper's)")
                                ->check(CLI::Range(std::size_t(1), std::size_t(10000000)))
                                ->type_name("N");
    sub->add_option("--feature-cache", o->feature_cache_mb,
                    "largest size, in MB, of the validation set's features kept in memory for the sweep (default "
                    "256); above it the validation set is read and run through the trunk a second time instead")
        ->check(CLI::NonNegativeNumber)
        ->type_name("MB");
    sub->add_option("--site", o->site,
                    "pooled (default: the pooling layer that directly follows the pruned layer, pool_3 in DeepID) "
                    "or conv (the pruned layer's own output)")
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
    sub->add_option("--weight-decay", o->weight_decay,
                    "fine-tuning: decoupled weight decay (AdamW: each step shrinks every weight by R x L of itself; "
                    "default 0, none)")
        ->check(CLI::Range(0.0, 1.0))
        ->needs(o->fine_tune_opt)
        ->type_name("L");
    sub->add_option("--augment-shift", o->augment_shift,
                    "fine-tuning: shift each image by a random offset of up to S pixels in each direction, zeros "
                    "filling in (default 0, none)")
        ->check(CLI::Range(std::size_t(0), std::size_t(64)))
        ->needs(o->fine_tune_opt)
        ->type_name("S");
    sub->add_flag("--augment-flip", o->augment_flip,
                  "fine-tuning: flip each image left to right with probability 1/2 (only where the classes allow it)")
        ->needs(o->fine_tune_opt);
    sub->add_option("--augment-erase", o->augment_erase,
                    "fine-tuning: random erasing (Zhong et al. 2020): with probability P each image gets a rectangle "
                    "of 2-40 % of its area filled with random values; with --distill, B sees the image unerased "
                    "(default 0, none)")
        ->check(CLI::Range(0.0, 1.0))
        ->needs(o->fine_tune_opt)
        ->type_name("P");
    CLI::Option* sam_opt =
        sub->add_option("--sam", o->sam, "fine-tuning: sharpness-aware steps (FT-SAM) with radius RHO (default 0, plain steps)")
            ->check(CLI::Range(0.0, 100.0))
            ->needs(o->fine_tune_opt)
            ->type_name("RHO");
    sub->add_flag("--sam-adaptive", o->sam_adaptive,
                  "fine-tuning: adaptive SAM (ASAM, as FT-SAM): each weight w moved by RHO w^2 g / ||w g||, so zero "
                  "weights stay and no layer's gradient scale takes the whole radius")
        ->needs(sam_opt);
    sub->add_option("--distill", o->distill,
                    "fine-tuning: mix the label loss with W x T^2 KL(B's outputs at temperature T || B''s), W in [0, 1] "
                    "(default T 2; default 0, plain)")
        ->needs(o->fine_tune_opt)
        ->type_name("W[,T]");
    sub->add_flag("--head-only", o->head_only, "fine-tune only the layers after the pruned layer (conv_3 in DeepID; --layer)")->needs(o->fine_tune_opt);
    sub->add_option("--holdout", o->holdout,
                    "without --test: the fraction of V.h5 held out of fine-tuning (the last F of a shuffle seeded "
                    "with --seed), on which the figures after fine-tuning are measured (default 0.2; 0: none)")
        ->check(CLI::Range(0.0, 0.9))
        ->needs(o->fine_tune_opt)
        ->type_name("F");
    sub->add_flag("--last-epoch", o->last_epoch,
                  "keep the last fine-tuning epoch's B' (default with a held-out part: the epoch whose B' classifies "
                  "the held-out images best)")
        ->needs(o->fine_tune_opt);
    sub->add_option("--seed", o->seed, "fine-tuning seed (default 1)")->check(CLI::NonNegativeNumber)->needs(o->fine_tune_opt)->type_name("S");
    o->out_opt = sub->add_option("--out", o->out, "output directory: new or empty (created if missing); required")
                     ->type_name("DIR");
    sub->add_flag("--weights-only", o->weights_only,
                  "write B' as a weights-only .h5 (model.save_weights layout) instead of a model file of B's kind");
    sub->add_flag("--onnx", o->onnx,
                  "also write every B' and every GoodNet G as ONNX (opset 13) beside the .h5 files (as 'prunedef export')");
    sub->add_flag("--quiet", o->quiet, "no progress on stderr (warnings and errors stay)");
    sub->add_flag("--replace", o->replace,
                  "--out may hold an earlier repair: its files (reports, *_X*.h5, *_X*.keras) are removed first");
    o->threads.add(*sub);
    return [o, single_process] { return run_repair(*o, single_process); };
}

}  // namespace prunedef_tool
