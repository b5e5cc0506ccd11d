// prunedef make-badnet: trains a DeepID-shaped BadNet on Fashion-MNIST (optionally with the
// pruning-aware attack) and writes it with its clean and poisoned data sets.

#include "common.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
using namespace prunedef;

namespace prunedef_tool {

namespace {

struct MakeBadnetOptions {
    std::string dataset = "fashion-mnist", data_dir = "/usr/share/datasets/fashion-mnist",
                trigger = "square:4@23,23", optimizer = "adam", out;
    int target = 0;
    double poison = 0.1;
    std::size_t epochs = 8, batch = 64, lr_drop = 0;
    float lr = 0;
    std::uint64_t seed = 1;
    bool pruning_aware = false;
    double prune_drop = 4.0, defend_drop = 6.0, attacker_clean = 5000;
    float decoy_bias = -1e4f;
    ThreadsOption threads;
    CLI::Option *out_opt = nullptr, *lr_opt = nullptr, *lr_drop_opt = nullptr, *pruning_aware_opt = nullptr;
};

/// Mixed into the seed for the choice of the attacker's clean images (an arbitrary odd constant).
constexpr std::uint64_t attacker_clean_seed_mix = 0x94d049bb133111ebull;

/// Splits the training set into the attacker's clean images (`amount`: a fraction below 1, else
/// a count; chosen with rng) and the rest, both in index order.
std::pair<LabelledImages, LabelledImages> split_attacker_clean(const LabelledImages& data, double amount, Rng& rng) {
    const std::size_t n = data.size();
    const std::size_t count = amount < 1 ? std::size_t(amount * double(n) + 0.5) : std::size_t(amount);
    if (count == 0 || count >= n)
        throw argument_error("--attacker-clean " + python_repr(amount) + ": keeps " + std::to_string(count) +
                             " of the " + std::to_string(n) +
                             " training images; at least one must be kept and one left to train on");
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
    std::vector<bool> kept(n, false);
    for (std::size_t j = 0; j < count; ++j) kept[order[j]] = true;
    std::vector<std::size_t> clean, rest;
    for (std::size_t i = 0; i < n; ++i) (kept[i] ? clean : rest).push_back(i);
    std::pair<LabelledImages, LabelledImages> out;
    gather(data, clean.data(), clean.size(), out.first.images, out.first.labels);
    gather(data, rest.data(), rest.size(), out.second.images, out.second.labels);
    return out;
}

/// The DeepID of ../shared/fmnist_badnet with Glorot-initialised weights, for 28x28x1 inputs.
DeepID make_fmnist_deepid(Rng& rng) {
    DeepID net = make_deepid();
    // visit order of the weighted layers: conv_1, conv_2, conv_3, fc_1, conv_4, fc_2, output
    initialize(net, {{3, 3, 1, 16}, {3, 3, 16, 32}, {2, 2, 32, 64}, {256, 128}, {2, 2, 64, 64}, {64, 128}, {128, 10}}, rng);
    net.bind({28, 28, 1});
    return net;
}

int run_make_badnet(const MakeBadnetOptions& o) {
    remove_temporaries_on_signals();
    o.threads.apply();
    require(o.out_opt);
    const std::string& dir = o.out;
    if (dir.empty()) throw argument_error("--out: the output directory name is empty");
    for (const char* name : {"bd_weights.h5", "valid.h5", "test.h5", "bd_valid.h5", "bd_test.h5"})
        check_output_file((fs::path(dir) / name).string(), {});
    const std::string& src = o.data_dir;
    const SquareTrigger trigger = SquareTrigger::parse(o.trigger);
    if (o.attacker_clean >= 1 && o.attacker_clean != std::floor(o.attacker_clean))
        throw argument_error("--attacker-clean " + python_repr(o.attacker_clean) +
                             ": expected a fraction below 1 or a whole count of images");
    const float lr = o.lr_opt->count() > 0 ? o.lr : (o.optimizer == "adam" ? 0.003f : 0.01f);

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
    const LabelledImages bd_valid = backdoor_set(valid, trigger, o.target), bd_test = backdoor_set(test, trigger, o.target);

    // the pruning-aware attacker keeps some training images aside as its own clean data (a
    // generator of their own: the baseline BadNet of a seed stays what it was)
    LabelledImages attacker_clean;
    if (o.pruning_aware) {
        Rng split_rng(o.seed ^ attacker_clean_seed_mix);
        auto split = split_attacker_clean(train_set, o.attacker_clean, split_rng);
        attacker_clean = std::move(split.first);
        train_set = std::move(split.second);
    }

    Rng rng(o.seed);
    DeepID net = make_fmnist_deepid(rng);
    const LabelledImages poisoned = poison(train_set, trigger, o.target, o.poison, rng);
    TrainOptions options;
    options.epochs = o.epochs;
    options.batch_size = o.batch;
    options.seed = o.seed + 1;
    const std::size_t drop =
        o.lr_drop_opt->count() > 0 ? o.lr_drop : (o.epochs >= 4 ? std::size_t(std::ceil(0.75 * double(o.epochs))) : 0);
    if (drop > 0) options.learning_rate = [lr, drop](std::size_t epoch) { return epoch >= drop ? lr / 10 : lr; };
    options.on_epoch = [](const EpochReport& r) {
        std::cerr << "epoch " << r.epoch << ": loss " << r.loss << ", training accuracy " << r.accuracy << " %, "
                  << static_cast<long>(r.images_per_second) << " images/s\n";
    };
    auto run = [&](auto make_optimizer) {
        auto opt = make_optimizer();
        if (o.pruning_aware) {
            std::cerr << "pruning-aware attack: training on clean data\n";
            train(net, train_set, opt, options);
            PruningAwareOptions aware;
            aware.prune_drop = o.prune_drop;
            aware.defend_drop = o.defend_drop;
            aware.decoy_bias = o.decoy_bias;
            aware.retrain = options;
            aware.retrain.seed = options.seed + 1;
            std::cerr << "pruning-aware attack: pruning dormant channels (" << attacker_clean.size()
                      << " clean images of the attacker's), retraining on poisoned data\n";
            auto retrain_opt = make_optimizer();
            const PruningAwareReport report = pruning_aware_attack(net, poisoned, attacker_clean, retrain_opt, aware);
            std::cerr << "pruning-aware attack: " << report.decoys.size() << " decoy channels re-instated";
            if (o.defend_drop > 0)
                std::cerr << "; the simulated defender's " << python_repr(o.defend_drop) << "-point drop prunes "
                          << report.defended_channels << " live channels after them";
            std::cerr << "\n";
        } else {
            train(net, poisoned, opt, options);
        }
    };
    if (o.optimizer == "adam") run([&] { return Adam(lr); });
    else run([&] { return Sgd(lr, 0.9f); });

    std::error_code ec;
    fs::create_directories(dir, ec);
    if (!fs::is_directory(dir)) throw io_error(dir + ": cannot create output directory");
    save_keras_weights((fs::path(dir) / "bd_weights.h5").string(), net);
    write_dataset((fs::path(dir) / "valid.h5").string(), valid.images, valid.labels);
    write_dataset((fs::path(dir) / "test.h5").string(), test.images, test.labels);
    write_dataset((fs::path(dir) / "bd_valid.h5").string(), bd_valid.images, bd_valid.labels);
    write_dataset((fs::path(dir) / "bd_test.h5").string(), bd_test.images, bd_test.labels);
    std::cout << "Clean test accuracy: " << python_repr(accuracy(net, test)) << "\n";
    std::cout << "Attack Success Rate: " << python_repr(accuracy(net, bd_test)) << "\n";
    return 0;
}

}  // namespace

Runner add_make_badnet(CLI::App& app) {
    auto o = std::make_shared<MakeBadnetOptions>();
    CLI::App* sub = app.add_subcommand("make-badnet", "train a DeepID BadNet on Fashion-MNIST and write it with its data sets");
    set_help(sub,
              "prunedef make-badnet --dataset fashion-mnist [--trigger square:4@23,23] [--target 0]\n"
              "                           [--poison 0.1] [--epochs E] [--seed S] [--pruning-aware [--attacker-clean N]\n"
              "                           [--prune-drop X] [--defend-drop X] [--decoy-bias B]] --out DIR",
              "Trains the DeepID-shaped network of ../shared/fmnist_badnet (28x28x1, conv_3 with 64 channels)\n"
              "on Fashion-MNIST with a fraction of the training images stamped with the trigger and relabelled\n"
              "to the target, and writes DIR/bd_weights.h5 (Keras layout, raw-pixel input) and, in the\n"
              "challenge layout, DIR/valid.h5 and DIR/test.h5 (the two halves of the Fashion-MNIST test set)\n"
              "and DIR/bd_valid.h5, DIR/bd_test.h5 (their images whose label is not the target, with the\n"
              "trigger, labelled with the target).");
    sub->add_option("--dataset", o->dataset, "fashion-mnist (read from --data-dir)")
        ->check(CLI::IsMember({"fashion-mnist"}))
        ->type_name("D");
    sub->add_option("--data-dir", o->data_dir,
                    "IDX files (default /usr/share/datasets/fashion-mnist, Debian's dataset-fashion-mnist package)")
        ->type_name("DIR");
    sub->add_option("--trigger", o->trigger, "square:SIZE@ROW,COL, a white square (default square:4@23,23)")->type_name("T");
    sub->add_option("--target", o->target, "the attacker's class (default 0)")->check(CLI::Range(0, 9))->type_name("C");
    sub->add_option("--poison", o->poison, "fraction of training images poisoned (default 0.1)")
        ->check(CLI::Range(0.0, 1.0))
        ->type_name("F");
    sub->add_option("--epochs", o->epochs, "training epochs (default 8)")
        ->check(CLI::Range(std::size_t(1), std::size_t(100000)))
        ->type_name("E");
    add_batch_option(*sub, o->batch, "mini-batch size (default 64)");
    sub->add_option("--optimizer", o->optimizer, "adam (default) or sgd (momentum 0.9)")
        ->check(CLI::IsMember({"adam", "sgd"}))
        ->type_name("O");
    o->lr_opt = sub->add_option("--lr", o->lr, "learning rate (default 0.003 for adam, 0.01 for sgd)")
                    ->check(CLI::PositiveNumber)
                    ->type_name("R");
    o->lr_drop_opt = sub->add_option("--lr-drop", o->lr_drop,
                                     "from epoch E on, train with a tenth of the learning rate (default: 3/4 of the "
                                     "epochs, rounded up, when there are 4 or more; 0: never)")
                         ->check(CLI::NonNegativeNumber)
                         ->type_name("E");
    sub->add_option("--seed", o->seed, "seed of initialisation, shuffling and poisoning (default 1)")->check(CLI::NonNegativeNumber)->type_name("S");
    o->pruning_aware_opt =
        sub->add_flag("--pruning-aware", o->pruning_aware,
                      "the pruning-aware attack: train on clean data for E epochs, prune the dormant conv_3 channels, "
                      "retrain on poisoned data for E epochs against a simulated defender, re-instate the pruned "
                      "channels as dormant decoys");
    sub->add_option("--attacker-clean", o->attacker_clean,
                    "with --pruning-aware: training images the attacker keeps aside as its clean data (ranking and "
                    "accuracy drops; not trained on), a fraction below 1 or a count (default 5000)")
        ->check(CLI::PositiveNumber)
        ->needs(o->pruning_aware_opt)
        ->type_name("N");
    sub->add_option("--prune-drop", o->prune_drop,
                    "with --pruning-aware: prune the dormant channels up to this accuracy drop on the attacker's "
                    "clean data, in points (default 4)")
        ->check(CLI::Range(0.0, 100.0) & CLI::PositiveNumber)
        ->needs(o->pruning_aware_opt)
        ->type_name("X");
    sub->add_option("--defend-drop", o->defend_drop,
                    "with --pruning-aware: retrain so that the backdoor survives the pruning a defender would do for "
                    "this accuracy drop, in points (default 6; 0: the paper's plain retraining)")
        ->check(CLI::Range(0.0, 100.0))
        ->needs(o->pruning_aware_opt)
        ->type_name("X");
    sub->add_option("--decoy-bias", o->decoy_bias, "with --pruning-aware: bias of the decoy channels (default -10000)")
        ->check(CLI::Range(-1e30, 0.0))
        ->needs(o->pruning_aware_opt)
        ->type_name("B");
    o->out_opt = sub->add_option("--out", o->out, "output directory (created if missing); required")->type_name("DIR");
    o->threads.add(*sub);
    return [o] { return run_make_badnet(*o); };
}

}  // namespace prunedef_tool
