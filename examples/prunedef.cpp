// prunedef: the command-line tool. Subcommands:
//   eval      accuracy and attack success rate of a model or a GoodNet (the challenge's eval.py)
//   predict   pre-softmax logits of a data set, written to HDF5
//   repair    the pruning defense: sweep, B' and GoodNet per threshold, reports
//   classify  one image through a GoodNet: a class in [0, N]

#include "cli_args.hpp"
#include "progress_bar.hpp"

#include <prunedef/io/image.hpp>
#include <prunedef/prunedef.hpp>
#include <prunedef/report/markdown_report.hpp>
#include <prunedef/report/write_report.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace prunedef;
using prunedef_cli::Args;
using prunedef_cli::usage_error;

namespace {

const char* const main_help = R"(usage: prunedef <command> [options]

Repair backdoored networks with the pruning defense (Liu et al., Fine-Pruning, RAID 2018).

commands:
  eval      clean accuracy and attack success rate of a model or a GoodNet
  predict   write a model's pre-softmax logits for a data set
  repair    prune, choose B' for each accuracy drop X, build GoodNets, write reports
  classify  classify one image with a GoodNet (prints a class in [0, N])
  make-badnet  train a DeepID BadNet on Fashion-MNIST and write it with its data sets

Run 'prunedef <command> --help' for the options of a command.
)";

const char* const eval_help = R"(usage: prunedef eval --model M.h5 --scale S --clean C.h5 [--poisoned P.h5]
       prunedef eval --goodnet G.h5 --clean C.h5 [--poisoned P.h5]

Prints, as the CSAW-HackML eval.py does:
  Clean Classification accuracy: <percent>
  Attack Success Rate: <percent>            (with --poisoned: inputs classified as their label)
With --goodnet, the output N ("backdoor detected") counts as wrong on clean data, and the
detection rate (poisoned inputs given N) and false-positive rate (clean inputs given N) follow.

options:
  --model M.h5      Keras weights of a DeepID network
  --scale S         input scale: 1 for raw pixels, 0.00392157 (1/255) for pixels / 255
                    (default: the value stored in the file, else 1)
  --goodnet G.h5    a GoodNet file written by 'prunedef repair'
  --clean C.h5      clean data set (data, label)
  --poisoned P.h5   poisoned data set (label = the attacker's target)
  --batch N         images per batch (default 256)
  --threads N       OpenMP threads (default: all)
)";

const char* const predict_help = R"(usage: prunedef predict --model M.h5 --scale S --data D.h5 --out L.h5

Writes dataset 'logits' (N x classes, float32, pre-softmax) to L.h5.

options:
  --model M.h5   Keras weights of a DeepID network
  --scale S      input scale (default: the value stored in the file, else 1)
  --data D.h5    data set in the challenge layout
  --out L.h5     output file (written atomically)
  --batch N      images per batch (default 256)
  --threads N    OpenMP threads (default: all)
)";

const char* const repair_help = R"(usage: prunedef repair --model B.h5 --scale S --valid V.h5 [--test T.h5 --poisoned P.h5]
                      [--drops 2,4,10] [--relative] [--order increasing|decreasing|l1]
                      [--site pooled|conv] [--fine-tune EPOCHS [--lr R] [--batch B] [--head-only]]
                      --out DIR

Ranks the channels of conv_3 by mean activation over V.h5, prunes them one at a time, and for
each accuracy drop X takes B' at the first step whose validation accuracy is X below B's.
Only the validation set decides; test and poisoned sets are reported.

Writes DIR/sweep.csv, DIR/report.md, DIR/report.json, DIR/curve.svg, and for each X
DIR/repaired_X<x>.h5 (B', Keras layout) and DIR/goodnet_X<x>.h5 (B and B').

options:
  --model B.h5     Keras weights of the backdoored DeepID network
  --scale S        input scale (default: the value stored in the file, else 1)
  --valid V.h5     clean validation set (decides where to stop)
  --test T.h5      clean test set (reported)
  --poisoned P.h5  poisoned test set, label = attacker's target (reported as ASR)
  --drops LIST     accuracy drops X, comma-separated (default 2,4,10)
  --relative       X is a percentage of B's accuracy instead of percentage points
  --order O        increasing (default, Liu et al.), decreasing, or l1 (data-free kernel norm)
  --site S         pooled (default: pool_3, the dense layers' input) or conv (conv_3 output)
  --fine-tune E    Fine-Pruning: fine-tune each B' on the validation set for E epochs (pruned
                   channels stay zero), then report B' and G before and after
  --lr R           fine-tuning learning rate (Adam, default 0.005)
  --batch B        fine-tuning mini-batch size (default 64)
  --lr-drop E      from fine-tuning epoch E on, a tenth of the learning rate (default: 3/4 of the
                   epochs, rounded up, when there are 4 or more; 0: never)
  --head-only      fine-tune only the layers after conv_3
  --seed S         fine-tuning seed (default 1)
  --out DIR        output directory (created if missing)
  --threads N      OpenMP threads (default: all)

With --fine-tune, DIR/finepruned_X<x>.h5 and DIR/goodnet_finepruned_X<x>.h5 hold the
fine-tuned B' and its GoodNet.
)";

const char* const classify_help = R"(usage: prunedef classify --goodnet G.h5 IMAGE.png|jpg

Prints the GoodNet's class for the image: 0..N-1, or N when B and B' disagree (backdoor
detected). The image must have the model's input size (55x47 for the CSAW networks).
)";

const char* const make_badnet_help = R"(usage: prunedef make-badnet --dataset fashion-mnist [--trigger square:4@23,23] [--target 0]
                           [--poison 0.1] [--epochs E] [--seed S] [--pruning-aware] --out DIR

Trains the DeepID-shaped network of ../shared/fmnist_badnet (28x28x1, conv_3 with 64 channels)
on Fashion-MNIST with a fraction of the training images stamped with the trigger and relabelled
to the target, and writes DIR/bd_weights.h5 (Keras layout, raw-pixel input) and, in the
challenge layout, DIR/valid.h5 and DIR/test.h5 (the two halves of the Fashion-MNIST test set)
and DIR/bd_valid.h5, DIR/bd_test.h5 (their images whose label is not the target, with the
trigger, labelled with the target).

options:
  --dataset D        fashion-mnist (read from --data-dir)
  --data-dir DIR     IDX files (default /usr/share/datasets/fashion-mnist, Debian's
                     dataset-fashion-mnist package)
  --trigger T        square:SIZE@ROW,COL, a white square (default square:4@23,23)
  --target C         the attacker's class (default 0)
  --poison F         fraction of training images poisoned (default 0.1)
  --epochs E         training epochs (default 8)
  --batch N          mini-batch size (default 64)
  --optimizer O      adam (default) or sgd (momentum 0.9)
  --lr R             learning rate (default 0.003 for adam, 0.01 for sgd)
  --lr-drop E        from epoch E on, train with a tenth of the learning rate (default: 3/4 of the
                     epochs, rounded up, when there are 4 or more; 0: never)
  --seed S           seed of initialisation, shuffling and poisoning (default 1)
  --pruning-aware    the pruning-aware attack: train on clean data for E epochs, prune the
                     dormant conv_3 channels, retrain on poisoned data for E epochs, re-instate
                     the pruned channels as dormant decoys
  --out DIR          output directory (created if missing)
  --threads N        OpenMP threads (default: all)
)";

/// Python's repr of a float, as eval.py prints it (shortest round-trip digits).
std::string python_float(double v) {
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, v);
    std::string s(buf, res.ptr);
    if (s.find_first_of(".en") == std::string::npos) s += ".0";
    return s;
}

void apply_threads(const Args& args) {
    if (args.has("threads")) {
        const double t = args.number("threads", 0);
        if (t < 1 || t != static_cast<int>(t)) throw usage_error("--threads must be a positive integer");
        set_thread_count(static_cast<int>(t));
    }
}

std::size_t batch_size(const Args& args, std::size_t fallback) {
    const double b = args.number("batch", double(fallback));
    if (b < 1 || b > 65536 || b != static_cast<std::size_t>(b)) throw usage_error("--batch must be in 1..65536");
    return static_cast<std::size_t>(b);
}

/// Loads a DeepID, applies --scale (else the stored scale), binds it to the data's image shape.
DeepID load_model(const Args& args, const DatasetReader& data) {
    DeepID net = make_deepid();
    const std::string path = args.required("model");
    load_keras_weights(path, net);
    if (args.has("scale")) net.set_input_scale(static_cast<float>(args.number("scale", 1)));
    const ImageShape& shape = data.image_shape();
    const std::size_t model_channels = net.stem().layer<0>().in_channels();
    if (model_channels != shape.channels)
        throw shape_error(data.file() + ": /data: images have " + std::to_string(shape.channels) +
                          " channel(s), model " + path + " (conv_1) expects " + std::to_string(model_channels));
    if (net.bound()) {
        data.check_image_shape(net.input_shape());
    } else {
        try {
            net.bind(shape);
        } catch (const shape_error& e) {
            throw shape_error(data.file() + ": /data: images of " + shape.str() + " do not fit model " + path + ": " +
                              e.what());
        }
    }
    return net;
}

/// Refuses to write over one of the inputs.
void check_not_input(const std::string& out, const std::vector<std::string>& inputs) {
    std::error_code ec;
    const fs::path o = fs::weakly_canonical(out, ec);
    for (const auto& in : inputs)
        if (!in.empty() && fs::weakly_canonical(in, ec) == o)
            throw argument_error(out + ": output path is also an input; refusing to overwrite it");
}

int cmd_eval(int argc, char** argv) {
    Args args({"model", "scale", "goodnet", "clean", "poisoned", "batch", "threads"}, {});
    args.parse(argc, argv, 2);
    if (args.help()) return std::cout << eval_help, 0;
    apply_threads(args);
    const std::size_t batch = batch_size(args, 256);
    const DatasetReader clean(args.required("clean"));
    std::optional<DatasetReader> poisoned;
    if (args.has("poisoned")) poisoned.emplace(args.get("poisoned"));

    if (args.has("goodnet")) {
        if (args.has("model")) throw usage_error("give either --model or --goodnet, not both");
        auto [b, bprime] = load_goodnet_networks(args.get("goodnet"), make_deepid);
        const GoodNet g(std::move(b), std::move(bprime));
        if (args.has("scale")) throw usage_error("--scale is stored in the GoodNet file; do not pass it");
        const int N = g.detected_class();
        auto run = [&](const DatasetReader& data) {
            data.check_labels(g.num_classes());
            return count_goodnet(predict_dataset(g, data, batch), data.labels(), N);
        };
        const GoodNetCounts c = run(clean);
        std::cout << "Clean Classification accuracy: " << python_float(c.matched_percent()) << "\n";
        if (poisoned) {
            const GoodNetCounts p = run(*poisoned);
            std::cout << "Attack Success Rate: " << python_float(p.matched_percent()) << "\n";
            std::cout << "Backdoor Detection Rate: " << python_float(p.flagged_percent()) << "\n";
        }
        std::cout << "Clean False Positive Rate: " << python_float(c.flagged_percent()) << "\n";
        return 0;
    }

    const DeepID net = load_model(args, clean);
    auto accuracy = [&](const DatasetReader& data) {
        data.check_labels(net.num_classes());
        return percent_matching(predict_dataset(net, data, batch), data.labels());
    };
    std::cout << "Clean Classification accuracy: " << python_float(accuracy(clean)) << "\n";
    if (poisoned) std::cout << "Attack Success Rate: " << python_float(accuracy(*poisoned)) << "\n";
    return 0;
}

int cmd_predict(int argc, char** argv) {
    Args args({"model", "scale", "data", "out", "batch", "threads"}, {});
    args.parse(argc, argv, 2);
    if (args.help()) return std::cout << predict_help, 0;
    apply_threads(args);
    const std::size_t batch = batch_size(args, 256);
    const std::string out_path = args.required("out");
    check_not_input(out_path, {args.get("model"), args.get("data")});
    const DatasetReader data(args.required("data"));
    const DeepID net = load_model(args, data);
    std::vector<float> logits;
    logits.reserve(data.size() * net.num_classes());
    Tensor out;
    for_each_batch(data, batch, [&](const Tensor& images, const int*, std::size_t) {
        net.logits(images, out);
        logits.insert(logits.end(), out.data(), out.data() + out.size());
    });
    AtomicOutput file(out_path);
    {
        detail::H5Object h5 = detail::create_h5_file(file.path());
        h5.file = out_path;
        detail::h5_write_dataset(h5, "logits", {data.size(), net.num_classes()}, logits.data(), H5T_IEEE_F32LE);
    }
    file.commit();
    return 0;
}

std::vector<AccuracyDrop> parse_drops(const std::string& text, bool relative) {
    std::vector<AccuracyDrop> drops;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        const double x = Args::parse_number("drops", item);
        if (!(x > 0) || x > 100) throw usage_error("--drops: each X must be in (0, 100], got " + item);
        drops.push_back({x, relative});
    }
    if (drops.empty()) throw usage_error("--drops: no thresholds given");
    return drops;
}

int cmd_repair(int argc, char** argv) {
    Args args({"model", "scale", "valid", "test", "poisoned", "drops", "order", "site", "out", "batch", "threads",
               "fine-tune", "lr", "seed", "lr-drop"},
              {"relative", "head-only"});
    args.parse(argc, argv, 2);
    if (args.help()) return std::cout << repair_help, 0;
    apply_threads(args);
    const std::string dir = args.required("out");
    RepairOptions options;
    FinePruningOptions fine;
    const bool fine_tune = args.has("fine-tune");
    if (fine_tune) {
        const double epochs = args.number("fine-tune", 0), seed = args.number("seed", 1);
        if (epochs < 1 || epochs != std::size_t(epochs)) throw usage_error("--fine-tune must be a positive number of epochs");
        if (seed < 0 || seed != std::uint64_t(seed)) throw usage_error("--seed must be a non-negative integer");
        fine.epochs = static_cast<std::size_t>(epochs);
        fine.learning_rate = static_cast<float>(args.number("lr", 5e-3));
        if (!(fine.learning_rate > 0)) throw usage_error("--lr must be positive");
        fine.batch_size = batch_size(args, 64);
        fine.head_only = args.flag("head-only");
        const double drop = args.number("lr-drop", epochs >= 4 ? std::ceil(0.75 * epochs) : 0);
        if (drop < 0 || drop != std::size_t(drop)) throw usage_error("--lr-drop must be an epoch number (1, 2, ...) or 0");
        fine.lr_drop = static_cast<std::size_t>(drop);
        fine.seed = static_cast<std::uint64_t>(seed);
    } else if (args.has("lr") || args.has("batch") || args.flag("head-only") || args.has("seed") || args.has("lr-drop")) {
        throw usage_error("--lr, --lr-drop, --batch, --seed and --head-only apply to --fine-tune");
    }
    options.drops = parse_drops(args.get("drops", "2,4,10"), args.flag("relative"));
    const std::string site = args.get("site", "pooled");
    if (site != "pooled" && site != "conv") throw usage_error("--site must be pooled or conv");
    options.site = site == "pooled" ? ActivationSite::pooled : ActivationSite::convolution;
    const std::string order = args.get("order", "increasing");
    if (order != "increasing" && order != "decreasing" && order != "l1")
        throw usage_error("--order must be increasing, decreasing or l1");

    const DatasetReader valid(args.required("valid"));
    std::optional<DatasetReader> test, poisoned;
    if (args.has("test")) test.emplace(args.get("test"));
    if (args.has("poisoned")) poisoned.emplace(args.get("poisoned"));
    const DeepID net = load_model(args, valid);

    std::error_code ec;
    if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) throw io_error(dir + ": exists and is not a directory");
    for (const char* name : {"sweep.csv", "report.md", "report.json", "curve.svg"})
        check_not_input((fs::path(dir) / name).string(),
                        {args.get("model"), args.get("valid"), args.get("test"), args.get("poisoned")});

    prunedef_cli::ProgressBar bar;
    options.progress = [&](const std::string& stage, std::size_t done, std::size_t total) { bar.update(stage, done, total); };
    const RepairData data{&valid, test ? &*test : nullptr, poisoned ? &*poisoned : nullptr};
    RepairResult result;
    if (order == "increasing") result = repair<IncreasingActivation>(net, data, options);
    else if (order == "decreasing") result = repair<DecreasingActivation>(net, data, options);
    else result = repair<KernelL1Norm>(net, data, options);

    std::vector<DeepID> fine_tuned;
    if (fine_tune) {
        fine.on_epoch = [](const std::string& drop, const EpochReport& r) {
            if (::isatty(2))
                std::cerr << "fine-tuning X=" << drop << ": epoch " << r.epoch << ", loss " << r.loss << "\n";
        };
        fine_tuned = fine_prune_all(net, result, data, fine);
    }
    // The output directory is made only now that every input has been read and checked, so a
    // run that fails on bad data leaves nothing behind.
    fs::create_directories(dir, ec);
    if (!fs::is_directory(dir)) throw io_error(dir + ": cannot create output directory");
    const ReportContext context{args.get("model"), args.get("valid"), args.get("test"), args.get("poisoned"),
                                net.input_scale()};
    for (const auto& t : result.thresholds) {
        const std::string tag = "X" + t.drop.label() + (t.drop.relative ? "rel" : "");
        const ChannelMask mask = ChannelMask::from_order(result.channels, result.order, t.k);
        const DeepID repaired = prune_channels(net, mask);
        const std::string repaired_path = (fs::path(dir) / ("repaired_" + tag + ".h5")).string();
        const std::string goodnet_path = (fs::path(dir) / ("goodnet_" + tag + ".h5")).string();
        check_not_input(repaired_path, {args.get("model"), args.get("valid"), args.get("test"), args.get("poisoned")});
        check_not_input(goodnet_path, {args.get("model"), args.get("valid"), args.get("test"), args.get("poisoned")});
        save_keras_weights(repaired_path, repaired);
        save_goodnet(goodnet_path, net, repaired, t.pruned_channels);
        if (fine_tune) {
            const DeepID& tuned = fine_tuned[std::size_t(&t - result.thresholds.data())];
            save_keras_weights((fs::path(dir) / ("finepruned_" + tag + ".h5")).string(), tuned);
            save_goodnet((fs::path(dir) / ("goodnet_finepruned_" + tag + ".h5")).string(), net, tuned, t.pruned_channels);
        }
    }
    write_repair_report(dir, result, context);
    std::cout << markdown_report(result, context);
    return 0;
}

int cmd_classify(int argc, char** argv) {
    Args args({"goodnet", "threads"}, {});
    args.parse(argc, argv, 2);
    if (args.help()) return std::cout << classify_help, 0;
    apply_threads(args);
    if (args.positional().size() != 1) throw usage_error("expected exactly one image file");
    auto [b, bprime] = load_goodnet_networks(args.required("goodnet"), make_deepid);
    const GoodNet g(std::move(b), std::move(bprime));
    const Tensor image = load_image(args.positional()[0], g.input_shape());
    std::cout << g.predict(image).at(0) << "\n";
    return 0;
}

/// The DeepID of ../shared/fmnist_badnet with Glorot-initialised weights, for 28x28x1 inputs.
DeepID make_fmnist_deepid(Rng& rng) {
    DeepID net = make_deepid();
    // visit order of the weighted layers: conv_1, conv_2, conv_3, fc_1, conv_4, fc_2, output
    initialize(net, {{3, 3, 1, 16}, {3, 3, 16, 32}, {2, 2, 32, 64}, {256, 128}, {2, 2, 64, 64}, {64, 128}, {128, 10}}, rng);
    net.bind({28, 28, 1});
    return net;
}

int cmd_make_badnet(int argc, char** argv) {
    Args args({"dataset", "data-dir", "trigger", "target", "poison", "epochs", "batch", "lr", "seed", "out", "threads",
               "optimizer", "lr-drop"},
              {"pruning-aware"});
    args.parse(argc, argv, 2);
    if (args.help()) return std::cout << make_badnet_help, 0;
    apply_threads(args);
    if (args.get("dataset", "fashion-mnist") != "fashion-mnist")
        throw usage_error("--dataset: only fashion-mnist is supported");
    const std::string dir = args.required("out");
    const std::string src = args.get("data-dir", "/usr/share/datasets/fashion-mnist");
    const SquareTrigger trigger = SquareTrigger::parse(args.get("trigger", "square:4@23,23"));
    const double target_d = args.number("target", 0), poison_fraction = args.number("poison", 0.1);
    if (target_d < 0 || target_d > 9 || target_d != int(target_d)) throw usage_error("--target must be a class in 0..9");
    const int target = static_cast<int>(target_d);
    const double epochs = args.number("epochs", 8), seed = args.number("seed", 1);
    if (epochs < 1 || epochs != std::size_t(epochs)) throw usage_error("--epochs must be a positive integer");
    if (seed < 0 || seed != std::uint64_t(seed)) throw usage_error("--seed must be a non-negative integer");
    const std::string optimizer = args.get("optimizer", "adam");
    if (optimizer != "adam" && optimizer != "sgd") throw usage_error("--optimizer must be adam or sgd");
    const float lr = static_cast<float>(args.number("lr", optimizer == "adam" ? 0.003 : 0.01));
    if (!(lr > 0)) throw usage_error("--lr must be positive");

    LabelledImages train_set{read_idx_images(src + "/train-images-idx3-ubyte.gz"),
                             read_idx_labels(src + "/train-labels-idx1-ubyte.gz")};
    const Tensor test_images = read_idx_images(src + "/t10k-images-idx3-ubyte.gz");
    const std::vector<int> test_labels = read_idx_labels(src + "/t10k-labels-idx1-ubyte.gz");
    if (train_set.labels.size() != train_set.images.batch() || test_labels.size() != test_images.batch())
        throw format_error(src + ": image and label counts differ");
    trigger.check_fits(train_set.images.shape());
    // validation and test: the two halves of the test set
    const std::size_t half = test_images.batch() / 2;
    auto slice = [&](std::size_t first, std::size_t count) {
        LabelledImages out;
        out.images.resize(count, test_images.shape());
        std::memcpy(out.images.data(), test_images.image(first), count * test_images.image_size() * sizeof(float));
        out.labels.assign(test_labels.begin() + std::ptrdiff_t(first), test_labels.begin() + std::ptrdiff_t(first + count));
        return out;
    };
    const LabelledImages valid = slice(0, half), test = slice(half, test_images.batch() - half);
    const LabelledImages bd_valid = backdoor_set(valid, trigger, target), bd_test = backdoor_set(test, trigger, target);

    Rng rng(static_cast<std::uint64_t>(seed));
    DeepID net = make_fmnist_deepid(rng);
    const LabelledImages poisoned = poison(train_set, trigger, target, poison_fraction, rng);
    TrainOptions options;
    options.epochs = static_cast<std::size_t>(epochs);
    options.batch_size = batch_size(args, 64);
    options.seed = static_cast<std::uint64_t>(seed) + 1;
    const double default_drop = epochs >= 4 ? std::ceil(0.75 * epochs) : 0;
    const double drop = args.number("lr-drop", default_drop);
    if (drop < 0 || drop != std::size_t(drop)) throw usage_error("--lr-drop must be an epoch number (1, 2, ...) or 0");
    if (drop > 0)
        options.learning_rate = [lr, drop](std::size_t epoch) { return double(epoch) >= drop ? lr / 10 : lr; };
    options.on_epoch = [](const EpochReport& r) {
        std::cerr << "epoch " << r.epoch << ": loss " << r.loss << ", training accuracy " << r.accuracy << " %, "
                  << static_cast<long>(r.images_per_second) << " images/s\n";
    };
    auto run = [&](auto make_optimizer) {
        auto opt = make_optimizer();
        if (args.flag("pruning-aware")) {
            std::cerr << "pruning-aware attack: training on clean data\n";
            train(net, train_set, opt, options);
            PruningAwareOptions aware;
            aware.retrain = options;
            aware.retrain.seed = options.seed + 1;
            std::cerr << "pruning-aware attack: pruning dormant channels, retraining on poisoned data\n";
            auto retrain_opt = make_optimizer();
            const PruningAwareReport report = pruning_aware_attack(net, poisoned, valid, retrain_opt, aware);
            std::cerr << "pruning-aware attack: " << report.decoys.size() << " decoy channels re-instated\n";
        } else {
            train(net, poisoned, opt, options);
        }
    };
    if (optimizer == "adam") run([&] { return Adam(lr); });
    else run([&] { return Sgd(lr, 0.9f); });

    std::error_code ec;
    fs::create_directories(dir, ec);
    if (!fs::is_directory(dir)) throw io_error(dir + ": cannot create output directory");
    save_keras_weights((fs::path(dir) / "bd_weights.h5").string(), net);
    write_dataset((fs::path(dir) / "valid.h5").string(), valid.images, valid.labels);
    write_dataset((fs::path(dir) / "test.h5").string(), test.images, test.labels);
    write_dataset((fs::path(dir) / "bd_valid.h5").string(), bd_valid.images, bd_valid.labels);
    write_dataset((fs::path(dir) / "bd_test.h5").string(), bd_test.images, bd_test.labels);
    std::cout << "Clean test accuracy: " << python_float(accuracy(net, test)) << "\n";
    std::cout << "Attack Success Rate: " << python_float(accuracy(net, bd_test)) << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string command = argc > 1 ? argv[1] : "";
    try {
        if (command == "eval") return cmd_eval(argc, argv);
        if (command == "predict") return cmd_predict(argc, argv);
        if (command == "repair") return cmd_repair(argc, argv);
        if (command == "classify") return cmd_classify(argc, argv);
        if (command == "make-badnet") return cmd_make_badnet(argc, argv);
        if (command == "--help" || command == "-h" || command == "help") return std::cout << main_help, 0;
        std::cerr << (command.empty() ? std::string("prunedef: no command given") : "prunedef: unknown command '" + command + "'")
                  << "\n" << main_help;
        return 2;
    } catch (const usage_error& e) {
        std::cerr << "prunedef " << command << ": " << e.what() << " (see 'prunedef " << command << " --help')\n";
        return 2;
    } catch (const prunedef::error& e) {
        std::cerr << "prunedef " << command << ": error: " << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "prunedef " << command << ": error: " << e.what() << "\n";
        return 1;
    }
}
