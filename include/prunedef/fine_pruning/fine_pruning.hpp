#pragma once
// Fine-Pruning (Liu et al., Sec. 4): fine-tune each pruned network B' on the clean validation
// data, keeping its pruned channels at zero, then measure B' and GoodNet<B, B'> again.

#include <prunedef/defense/goodnet.hpp>
#include <prunedef/defense/metrics.hpp>
#include <prunedef/defense/repair.hpp>
#include <prunedef/model/channel_mask.hpp>
#include <prunedef/model/graph_network.hpp>
#include <prunedef/model/layer_spec.hpp>
#include <prunedef/model/predict.hpp>
#include <prunedef/training/optimizer.hpp>
#include <prunedef/training/trainer.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace prunedef {

struct FinePruningOptions {
    // Defaults: what removed the pruning-aware backdoor best on the Fashion-MNIST BadNets of
    // make-badnet (README, "Fine-Pruning"): a high rate that unsettles the backdoor, then a tenth
    // of it to recover clean accuracy.
    std::size_t epochs = 10;
    float learning_rate = 5e-3f;    // Adam
    std::size_t batch_size = 64;
    std::uint64_t seed = 1;
    std::size_t lr_drop = 8;        // from this epoch on, a tenth of the learning rate (0: never)
    bool head_only = false;         // fine-tune only the layers after the pruned one
    std::function<void(const std::string& drop, const EpochReport&)> on_epoch;
};

/// How a network type is trained when its fast form cannot be (a GraphNetwork with
/// BatchNormalization folded: graph_training_form()): to_training makes the trainable form of a
/// network, to_inference the fast form of a trained one. Empty functions: the network trains as
/// it is.
template <class Net>
struct TrainingForm {
    std::function<Net(const Net&)> to_training, to_inference;
};

/// For GraphNetworks built from spec: trained unfolded and unfused (every BatchNormalization a
/// layer of its own, trained in inference mode: gamma and beta), rebuilt folded afterwards.
inline TrainingForm<GraphNetwork> graph_training_form(const ModelSpec& spec) {
    return {[spec](const GraphNetwork& n) { return rebuild_graph_network(spec, n, false, false); },
            [spec](const GraphNetwork& n) { return rebuild_graph_network(spec, n, true, true); }};
}

/// B' fine-tuned: B with mask's channels pruned, trained on clean data with them held at zero.
template <class Net>
Net fine_prune(const Net& b, const ChannelMask& mask, const LabelledImages& clean, const FinePruningOptions& options,
               const std::function<void(const EpochReport&)>& on_epoch = {}) {
    Net bprime = prune_channels(b, mask);
    Adam adam(options.learning_rate);
    TrainOptions train_options;
    train_options.epochs = options.epochs;
    train_options.batch_size = options.batch_size;
    train_options.seed = options.seed;
    train_options.train_trunk = !options.head_only;
    train_options.on_epoch = on_epoch;
    if (options.lr_drop > 0)
        train_options.learning_rate = [lr = options.learning_rate, drop = options.lr_drop](std::size_t epoch) {
            return epoch >= drop ? lr / 10 : lr;
        };
    train(bprime, clean, adam, train_options, [&mask](Net& n) { zero_channels(n.pruned_layer(), mask); });
    return bprime;
}

namespace detail {
inline GoodNetCounts goodnet_counts(const std::vector<int>& b, const std::vector<int>& bprime,
                                    const std::vector<int>& labels, int classes) {
    return count_goodnet(combine_goodnet(b, bprime, classes), labels, classes);
}
}  // namespace detail

/// Fine-tunes B' of every threshold of a repair on the validation set and fills each
/// threshold's fine_tuned figures. Returns the fine-tuned networks in threshold order (in their
/// fast form when `form` converts: trained in form.to_training(b), measured and returned after
/// form.to_inference).
template <class Net>
std::vector<Net> fine_prune_all(const Net& b, RepairResult& result, const RepairData& data,
                                const FinePruningOptions& options, std::size_t batch_size = 256,
                                const TrainingForm<Net>& form = {}) {
    std::optional<Net> trainable;
    if (form.to_training) trainable = form.to_training(b);
    const LabelledImages clean = read_all(*data.valid);
    const int classes = static_cast<int>(result.classes);
    std::vector<int> b_valid = predict_dataset(b, *data.valid, batch_size), b_test;
    if (data.test) b_test = predict_dataset(b, *data.test, batch_size);
    const std::vector<NamedSource> poisoned = data.poisoned_list();
    std::vector<std::vector<int>> b_poisoned;
    for (const NamedSource& p : poisoned) b_poisoned.push_back(predict_dataset(b, *p.source, batch_size));
    std::vector<Net> tuned;
    for (auto& t : result.thresholds) {
        const ChannelMask mask = ChannelMask::from_order(result.channels, result.order, t.k);
        const std::string drop = t.drop.label();
        Net bprime = fine_prune(trainable ? *trainable : b, mask, clean, options, [&](const EpochReport& r) {
            if (options.on_epoch) options.on_epoch(drop, r);
        });
        if (form.to_inference) bprime = form.to_inference(bprime);
        FineTuneResult f;
        f.epochs = options.epochs;
        f.learning_rate = options.learning_rate;
        f.lr_drop = options.lr_drop;
        f.head_only = options.head_only;
        const auto pv = predict_dataset(bprime, *data.valid, batch_size);
        f.valid_accuracy = percent_matching(pv, data.valid->labels());
        f.goodnet_valid = detail::goodnet_counts(b_valid, pv, data.valid->labels(), classes);
        if (data.test) {
            const auto pt = predict_dataset(bprime, *data.test, batch_size);
            f.test_accuracy = percent_matching(pt, data.test->labels());
            f.goodnet_test = detail::goodnet_counts(b_test, pt, data.test->labels(), classes);
        }
        for (std::size_t s = 0; s < poisoned.size(); ++s) {
            const auto pp = predict_dataset(bprime, *poisoned[s].source, batch_size);
            f.poisoned_attack_success.push_back(percent_matching(pp, poisoned[s].source->labels()));
            f.goodnet_poisoned_sets.push_back(
                detail::goodnet_counts(b_poisoned[s], pp, poisoned[s].source->labels(), classes));
        }
        if (!poisoned.empty()) {
            f.attack_success = f.poisoned_attack_success.front();
            f.goodnet_poisoned = f.goodnet_poisoned_sets.front();
        }
        t.fine_tuned = f;
        tuned.push_back(std::move(bprime));
    }
    return tuned;
}

}  // namespace prunedef
