#pragma once
// repair(): the whole pruning defense from a backdoored network B and clean validation data.
//
//  1. one streamed pass over D_valid: per-channel mean activation, and the features (the pruned
//     layer's pooled output) of as many images as RepairOptions::feature_cache_bytes holds, from
//     the first; the sweep reads the rest of D_valid again and recomputes theirs (memory bounded
//     by the budget and a batch, not by the data; the results are identical);
//  2. the policy turns activations into an order of channels;
//  3. one sweep over every data set given (validation decides, test and poisoned are reported);
//     at every step k, B' and G = GoodNet<B, B'_k> are measured on every set, and G's ROC over k
//     (goodnet_roc.hpp) is drawn for every poisoned set;
//  4. for each threshold X, B' = B with the first k_X channels pruned, G = GoodNet<B, B'>, and
//     their metrics.
// Every figure is computed from the sweep's per-image predictions (no further forward pass).
//
// Data-parallel (RepairOptions::communicator, e.g. prunedef/mpi/mpi_communicator.hpp): each rank
// reads its own contiguous slice of every data set (rank_slice; the validation slices start at
// multiples of activation_block_images), the ranks' activation block sums are gathered and added
// in block order, and the per-step counts of the sweep (integers) are summed. Every rank returns
// the same result, identical to the single-process one (channel order, thresholds, figures).
// Every rank must call repair with the same data files; a rank that fails ends every rank's
// repair (rank_failure, core/communicator.hpp).

#include <prunedef/core/communicator.hpp>
#include <prunedef/core/error.hpp>
#include <prunedef/data/batch_slice.hpp>
#include <prunedef/data/batch_source.hpp>
#include <prunedef/data/batch_source_ref.hpp>
#include <prunedef/defense/activation_stats.hpp>
#include <prunedef/defense/data_warnings.hpp>
#include <prunedef/defense/goodnet.hpp>
#include <prunedef/defense/goodnet_roc.hpp>
#include <prunedef/defense/metrics.hpp>
#include <prunedef/defense/pruning_policy.hpp>
#include <prunedef/defense/stopping_rule.hpp>
#include <prunedef/defense/sweep.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace prunedef {

struct RepairOptions {
    std::vector<AccuracyDrop> drops{{2.0, false}, {4.0, false}, {10.0, false}};
    ActivationSite site = ActivationSite::pooled;
    std::size_t batch_size = 256;  // images per streamed batch (bounds memory)
    /// Largest size of the validation set's features kept in memory between the activation pass
    /// and the sweep: the features of the first images that fit are kept, the trunk is run a
    /// second time over the remaining images.
    std::size_t feature_cache_bytes = std::size_t(256) << 20;
    /// False-positive budget (percent) for the ROC's chosen point; none: no choice is made.
    std::optional<double> max_fpr;
    /// Called after each batch with a stage name, images done and images in the stage (for a
    /// progress bar); may be empty.
    std::function<void(const std::string& stage, std::size_t done, std::size_t total)> progress;
    /// The ranks that share the work (each reads a slice of every set; progress counts this
    /// rank's slice); none: this process alone. Must outlive the call.
    const Communicator* communicator = nullptr;
};

/// A poisoned set and the name its figures are reported under.
struct NamedSource {
    std::string name;
    BatchSourcePtr source;
};

/// The data sets of a repair: validation decides; test (clean) and the poisoned sets are only
/// reported. Each points to any batch source (a DatasetReader, an ArrayBatchSource, a BatchSlice,
/// ...), which must outlive the repair; test and poisoned may be null. The poisoned sets are
/// `poisoned` (named "poisoned"), when given, followed by `poisoned_sets`; their names must be
/// distinct and non-empty.
struct RepairData {
    BatchSourcePtr valid;
    BatchSourcePtr test;
    BatchSourcePtr poisoned;
    std::vector<NamedSource> poisoned_sets{};

    /// Every poisoned set in order; throws argument_error on a null source, an empty or a
    /// repeated name.
    std::vector<NamedSource> poisoned_list() const {
        std::vector<NamedSource> all;
        if (poisoned) all.push_back({"poisoned", poisoned});
        all.insert(all.end(), poisoned_sets.begin(), poisoned_sets.end());
        for (std::size_t i = 0; i < all.size(); ++i) {
            if (!all[i].source) throw argument_error("repair: poisoned set '" + all[i].name + "' has no data");
            if (all[i].name.empty()) throw argument_error("repair: a poisoned set has an empty name");
            for (std::size_t j = 0; j < i; ++j)
                if (all[j].name == all[i].name)
                    throw argument_error("repair: two poisoned sets are named '" + all[i].name + "'");
        }
        return all;
    }
};

/// A poisoned set's figures at one pruning step (percentages).
struct PoisonedStep {
    double attack_success = 0;           // B'_k's attack success rate
    double goodnet_attack_success = 0;   // G's: poisoned inputs given their (target) label
    double goodnet_detection = 0;        // G's detection rate: poisoned inputs given class N
};

/// One point of the pruning curve (percentages; empty where a set was not given).
struct CurvePoint {
    std::size_t k = 0;
    std::optional<std::size_t> channel;  // the channel removed at this step; none for k = 0
    double fraction_pruned = 0;
    double valid_accuracy = 0;
    std::optional<double> test_accuracy;
    std::optional<double> attack_success;  // B''s, on the first poisoned set (poisoned[0])
    // G = GoodNet<B, B'_k>: clean accuracy (class N counts as wrong) and false-positive rate
    // (clean inputs given class N) on the validation set and on the test set when given
    double goodnet_valid_accuracy = 0;
    double goodnet_valid_fpr = 0;
    std::optional<double> goodnet_test_accuracy;
    std::optional<double> goodnet_test_fpr;
    std::vector<PoisonedStep> poisoned;    // one per poisoned set, in RepairResult::poisoned_sets' order
};

/// B' and G = GoodNet<B, B'> measured on the data sets of a repair (percentages and counts;
/// empty where a set was not given): after pruning (ThresholdResult) and after Fine-Pruning
/// (FineTuneResult).
struct RepairedFigures {
    // B'
    double valid_accuracy = 0;
    std::optional<double> test_accuracy;
    std::optional<double> attack_success;
    // G = GoodNet<B, B'>
    GoodNetCounts goodnet_valid;
    std::optional<GoodNetCounts> goodnet_test;
    std::optional<GoodNetCounts> goodnet_poisoned;   // on the first poisoned set
    // every poisoned set, in RepairResult::poisoned_sets' order (the first repeats the above)
    std::vector<double> poisoned_attack_success;
    std::vector<GoodNetCounts> goodnet_poisoned_sets;
};

/// B' and G after Fine-Pruning (B' fine-tuned on the validation set, pruned channels kept zero),
/// and how B' was fine-tuned.
struct FineTuneResult : RepairedFigures {
    std::size_t epochs = 0;
    float learning_rate = 0;
    std::size_t lr_drop = 0;   // epoch from which a tenth of the rate was used (0: none)
    bool head_only = false;
    float weight_decay = 0;        // decoupled (AdamW) weight decay; 0: none
    std::size_t augment_shift = 0; // random shifts of up to this many pixels; 0: none
    bool augment_flip = false;     // random horizontal flips
    double augment_erase = 0;      // random erasing's probability per image (Zhong et al.); 0: none
    float sam_rho = 0;             // FT-SAM's radius; 0: plain steps
    bool sam_adaptive = false;     // adaptive SAM (ASAM): perturbation in proportion to w^2
    float distill_weight = 0;      // agreement fine-tuning toward B: weight of the KL term; 0: none
    float distill_temperature = 1; // and its temperature
    std::size_t batch_size = 0;    // images per fine-tuning step
    std::uint64_t seed = 0;        // shuffling, augmentation and the held-out split
    /// The clean set the "after" figures a report quotes come from: "test" (test_accuracy,
    /// goodnet_test), "holdout" (images of the validation set held out of fine-tuning:
    /// holdout_accuracy, goodnet_holdout) or "valid" (nothing held out: the fine-tuning data).
    /// valid_accuracy and goodnet_valid are always on the whole validation set, which includes
    /// the fine-tuning data.
    std::string clean_set = "valid";
    std::size_t tuned_images = 0;      // images B' was fine-tuned on
    double holdout_fraction = 0;       // fraction of the validation set held out (0: none)
    std::size_t holdout_images = 0;
    std::optional<double> holdout_accuracy_before;  // B' before fine-tuning, on the held-out images
    std::optional<double> holdout_accuracy;         // B' after fine-tuning, on the held-out images
    std::optional<GoodNetCounts> goodnet_holdout;   // G after fine-tuning, on the held-out images
    /// The epoch kept (FinePruningOptions::choose_epoch, with a held-out part): the one whose B'
    /// classified the held-out images best; absent when the last epoch was kept unconditionally.
    std::optional<std::size_t> chosen_epoch;
    std::vector<double> holdout_accuracy_per_epoch;  // B' on the held-out images after each epoch
};

/// Results for one threshold X: which channels B' prunes, and B' and G after pruning.
struct ThresholdResult : RepairedFigures {
    AccuracyDrop drop;
    bool reached = false;   // false: no step reached the drop, k is the last step
    std::size_t k = 0;      // channels pruned in B'
    double fraction_pruned = 0;
    std::vector<std::size_t> pruned_channels;  // in pruning order
    // after Fine-Pruning, when it was run (fine_prune_all)
    std::optional<FineTuneResult> fine_tuned;
};

struct RepairResult {
    std::string policy;
    ActivationSite site = ActivationSite::pooled;
    std::string pruned_layer;
    std::size_t channels = 0;
    std::size_t classes = 0;
    std::size_t valid_images = 0, test_images = 0, poisoned_images = 0;  // poisoned: the first set
    /// How the validation set's features reached the sweep: those of the first
    /// cached_feature_images images were kept in memory after the activation pass, those of the
    /// others recomputed by a second pass over them (when valid_feature_bytes, the features of
    /// the whole set, exceed feature_cache_bytes, RepairOptions).
    std::size_t cached_feature_images = 0;  // over all ranks
    std::size_t valid_feature_bytes = 0;
    std::size_t feature_cache_bytes = 0;
    bool all_features_cached() const { return cached_feature_images == valid_images; }
    struct PoisonedSet {
        std::string name;
        std::size_t images = 0;
        /// A clean reference network's rate (percent) of predicting this set's labels, the ASR
        /// floor (clean_floor.hpp: add_clean_floors); absent without a reference.
        std::optional<double> clean_floor{};
    };
    std::vector<PoisonedSet> poisoned_sets;
    /// G's ROC over k for each poisoned set (false positives on the test set when given, else on
    /// the validation set); empty without a poisoned set.
    std::vector<GoodNetRoc> roc;
    ChannelActivations activations;
    std::vector<std::size_t> order;
    std::vector<CurvePoint> curve;
    std::vector<ThresholdResult> thresholds;
    /// Signs that the data sets are not what they claim to be (data_warnings.hpp), one sentence
    /// each; the run's figures are computed all the same.
    std::vector<std::string> warnings;
    /// The number of ranks (processes) that computed it (RepairOptions::communicator); 1: one process.
    std::size_t ranks = 1;

    /// B's figures are the curve's first point.
    const CurvePoint& baseline() const { return curve.front(); }
    /// The clean set a report quotes: test when given, else validation.
    bool has_test() const { return test_images > 0; }
    bool has_poisoned() const { return !poisoned_sets.empty(); }
};

namespace detail {

/// GoodNet<B, B'>'s outputs where B' is B with the first k channels of the sweep's order pruned.
inline std::vector<int> goodnet_column(const SweepPredictions& p, std::size_t k, int classes) {
    std::vector<int> b(p.images), bprime(p.images);
    for (std::size_t i = 0; i < p.images; ++i) {
        b[i] = p.at(i, 0);
        bprime[i] = p.at(i, k);
    }
    return combine_goodnet(std::move(b), bprime, classes);
}

inline std::vector<std::size_t> matches_per_step(const SweepPredictions& p) {
    std::vector<std::size_t> m(p.steps + 1);
    for (std::size_t k = 0; k <= p.steps; ++k) m[k] = p.matches(k);
    return m;
}

}  // namespace detail

namespace detail {

/// Appends the per-step counts of a slice's sweep: matches, then G's matched, flagged, other.
inline void append_step_counts(const SweepPredictions& p, int classes, std::vector<std::int64_t>& out) {
    for (std::size_t k = 0; k <= p.steps; ++k) out.push_back(static_cast<std::int64_t>(p.matches(k)));
    for (const GoodNetCounts& g : goodnet_counts_per_step(p, classes)) {
        out.push_back(static_cast<std::int64_t>(g.matched));
        out.push_back(static_cast<std::int64_t>(g.flagged));
        out.push_back(static_cast<std::int64_t>(g.other));
    }
}

/// Reads back what append_step_counts wrote (summed over the ranks) for a set of `images` images.
inline void read_step_counts(const std::vector<std::int64_t>& in, std::size_t& at, std::size_t steps,
                             std::size_t images, std::vector<std::size_t>& matches, std::vector<GoodNetCounts>& goodnet) {
    matches.assign(steps + 1, 0);
    goodnet.assign(steps + 1, GoodNetCounts{});
    for (std::size_t k = 0; k <= steps; ++k) matches[k] = static_cast<std::size_t>(in.at(at++));
    for (std::size_t k = 0; k <= steps; ++k) {
        goodnet[k].images = images;
        goodnet[k].matched = static_cast<std::size_t>(in.at(at++));
        goodnet[k].flagged = static_cast<std::size_t>(in.at(at++));
        goodnet[k].other = static_cast<std::size_t>(in.at(at++));
        if (goodnet[k].matched + goodnet[k].flagged + goodnet[k].other != images)
            throw error("repair: the ranks' counts at step " + std::to_string(k) + " add up to " +
                        std::to_string(goodnet[k].matched + goodnet[k].flagged + goodnet[k].other) + " images, not " +
                        std::to_string(images));
    }
}

/// Every rank reads the same data: the sizes of every set agree (a rank given other files is refused).
inline void check_same_sizes(const Communicator& comm, const std::vector<std::int64_t>& sizes) {
    if (comm.size() <= 1) return;
    const std::vector<std::int64_t> all = comm.gather(sizes);
    for (std::size_t r = 1; r < comm.size(); ++r)
        for (std::size_t i = 0; i < sizes.size(); ++i)
            if (all.at(r * sizes.size() + i) != all[i])
                throw argument_error("repair: rank " + std::to_string(r) + "'s data set " + std::to_string(i + 1) +
                                     " has " + std::to_string(all[r * sizes.size() + i]) + " images, rank 0's " +
                                     std::to_string(all[i]) + " (every rank must read the same files)");
}

template <class Policy, class Net>
RepairResult repair_on_ranks(const Net& net, const RepairData& data, const RepairOptions& options,
                             const Policy& policy, const Communicator& comm) {
    if (!data.valid) throw argument_error("repair: a validation set is required");
    for (const auto& d : options.drops) check_drop(d);
    const BatchSourceRef& valid = *data.valid;
    valid.check_image_shape(net.input_shape());
    valid.check_labels(net.num_classes());
    const std::vector<NamedSource> poisoned_sets = data.poisoned_list();
    std::vector<BatchSourcePtr> others{data.test};
    for (const NamedSource& p : poisoned_sets) others.push_back(p.source);
    for (const BatchSourcePtr other : others)
        if (other) {
            other->check_image_shape(net.input_shape());
            other->check_labels(net.num_classes());
        }
    const std::size_t ranks = comm.size(), me = comm.rank();
    {
        std::vector<std::int64_t> sizes;
        for (const BatchSourcePtr set : {BatchSourcePtr(data.valid), data.test})
            sizes.push_back(set ? static_cast<std::int64_t>(set->size()) : -1);
        for (const NamedSource& p : poisoned_sets) sizes.push_back(static_cast<std::int64_t>(p.source->size()));
        check_same_sizes(comm, sizes);
    }

    RepairResult r;
    r.policy = std::string(Policy::name);
    r.site = options.site;
    r.pruned_layer = net.pruned_layer().name();
    r.channels = net.prunable_channels();
    r.classes = net.num_classes();
    r.ranks = ranks;

    // 1. One pass over this rank's share of validation (whole activation blocks): activations
    //    accumulated, the first images' features cached.
    const BatchSlice<BatchSourceRef> vslice = rank_slice(valid, me, ranks, activation_block_images);
    const std::size_t image_feature_bytes = net.feature_shape().size() * sizeof(float);
    r.valid_feature_bytes = valid.size() * image_feature_bytes;
    r.feature_cache_bytes = options.feature_cache_bytes;
    const std::size_t cached = std::min(vslice.size(), options.feature_cache_bytes / image_feature_bytes);
    Tensor valid_features(cached, net.feature_shape());
    {
        // (an empty slice, of a rank beyond the last block, starts at the end of the set)
        ChannelActivationAccumulator acc(r.channels, options.site, vslice.size() > 0 ? vslice.first() : 0);
        Tensor conv, pooled;
        for_each_batch(vslice, options.batch_size, [&](const Tensor& images, const int*, std::size_t start) {
            acc.add(trunk_outputs(net, images, options.site, pooled, conv));
            if (start < cached) {
                const std::size_t n = std::min(images.batch(), cached - start);
                std::memcpy(valid_features.image(start), pooled.data(), n * image_feature_bytes);
            }
            if (options.progress) options.progress("validation", start + images.batch(), vslice.size());
        });
        // every rank's block sums, in rank order = block order
        r.activations = ChannelActivationAccumulator::combine(comm.gather(acc.block_sums()), r.channels, valid.size(),
                                                              options.site);
    }
    // 2. The order (the same on every rank: the same activations and weights).
    r.order = policy.order(net, r.activations);
    // 3. The sweep of this rank's share of every set.
    auto progress_of = [&](const std::string& stage) -> SweepProgress {
        if (!options.progress) return {};
        return [&options, stage](std::size_t done, std::size_t total) { options.progress(stage, done, total); };
    };
    SweepPredictions pv = sweep_features(net, valid_features, vslice.labels().data(), r.order);
    valid_features = Tensor();
    if (cached < vslice.size())
        pv.append(sweep_dataset(net, BatchSlice<BatchSlice<BatchSourceRef>>(vslice, cached, vslice.size() - cached),
                                r.order, options.batch_size, progress_of("validation sweep")));
    const int classes = static_cast<int>(r.classes);
    std::vector<std::int64_t> counts;  // summed over the ranks
    append_step_counts(pv, classes, counts);
    if (data.test)
        append_step_counts(sweep_dataset(net, rank_slice(*data.test, me, ranks), r.order, options.batch_size,
                                         progress_of("test")),
                           classes, counts);
    for (const NamedSource& p : poisoned_sets)
        append_step_counts(sweep_dataset(net, rank_slice(*p.source, me, ranks), r.order, options.batch_size,
                                         progress_of(poisoned_sets.size() == 1 ? "poisoned" : "poisoned " + p.name)),
                           classes, counts);
    counts.push_back(static_cast<std::int64_t>(cached));
    comm.sum(counts);

    r.valid_images = valid.size();
    r.test_images = data.test ? data.test->size() : 0;
    r.poisoned_images = poisoned_sets.empty() ? 0 : poisoned_sets.front().source->size();
    for (const NamedSource& p : poisoned_sets) r.poisoned_sets.push_back({p.name, p.source->size()});
    const std::size_t steps = r.order.size();
    std::size_t at = 0;
    std::vector<std::size_t> valid_correct, test_correct;
    std::vector<GoodNetCounts> goodnet_valid, goodnet_test;
    read_step_counts(counts, at, steps, r.valid_images, valid_correct, goodnet_valid);
    const bool has_test = static_cast<bool>(data.test);
    if (has_test) read_step_counts(counts, at, steps, r.test_images, test_correct, goodnet_test);
    std::vector<std::vector<std::size_t>> attack(poisoned_sets.size());
    std::vector<std::vector<GoodNetCounts>> goodnet_poisoned(poisoned_sets.size());
    for (std::size_t s = 0; s < poisoned_sets.size(); ++s)
        read_step_counts(counts, at, steps, r.poisoned_sets[s].images, attack[s], goodnet_poisoned[s]);
    r.cached_feature_images = static_cast<std::size_t>(counts.at(at++));

    for (std::size_t k = 0; k <= steps; ++k) {
        CurvePoint p;
        p.k = k;
        if (k > 0) p.channel = r.order[k - 1];
        p.fraction_pruned = double(k) / double(r.channels);
        p.valid_accuracy = percent_of(valid_correct[k], r.valid_images);
        p.goodnet_valid_accuracy = goodnet_valid[k].matched_percent();
        p.goodnet_valid_fpr = goodnet_valid[k].flagged_percent();
        if (has_test) {
            p.test_accuracy = percent_of(test_correct[k], r.test_images);
            p.goodnet_test_accuracy = goodnet_test[k].matched_percent();
            p.goodnet_test_fpr = goodnet_test[k].flagged_percent();
        }
        for (std::size_t s = 0; s < poisoned_sets.size(); ++s)
            p.poisoned.push_back({percent_of(attack[s][k], r.poisoned_sets[s].images),
                                  goodnet_poisoned[s][k].matched_percent(), goodnet_poisoned[s][k].flagged_percent()});
        if (!poisoned_sets.empty()) p.attack_success = p.poisoned.front().attack_success;
        r.curve.push_back(p);
    }
    // G's ROC over k for each poisoned set.
    for (std::size_t s = 0; s < poisoned_sets.size(); ++s) {
        std::vector<RocPoint> points;
        for (const CurvePoint& p : r.curve)
            points.push_back({p.k, has_test ? *p.goodnet_test_fpr : p.goodnet_valid_fpr, p.poisoned[s].goodnet_detection});
        r.roc.push_back(goodnet_roc(std::move(points), options.max_fpr));
    }

    // 4. B' and G for every threshold.
    for (const auto& drop : options.drops) {
        ThresholdResult t;
        t.drop = drop;
        const auto k = first_step_reaching(valid_correct, r.valid_images, drop);
        t.reached = k.has_value();
        t.k = k ? *k : r.order.size();
        t.fraction_pruned = double(t.k) / double(r.channels);
        t.pruned_channels = std::vector<std::size_t>(r.order.begin(), r.order.begin() + static_cast<std::ptrdiff_t>(t.k));
        t.valid_accuracy = r.curve[t.k].valid_accuracy;
        t.test_accuracy = r.curve[t.k].test_accuracy;
        t.attack_success = r.curve[t.k].attack_success;
        t.goodnet_valid = goodnet_valid[t.k];
        if (has_test) t.goodnet_test = goodnet_test[t.k];
        for (std::size_t s = 0; s < poisoned_sets.size(); ++s) {
            t.poisoned_attack_success.push_back(r.curve[t.k].poisoned[s].attack_success);
            t.goodnet_poisoned_sets.push_back(goodnet_poisoned[s][t.k]);
        }
        if (!poisoned_sets.empty()) t.goodnet_poisoned = goodnet_poisoned.front()[t.k];
        r.thresholds.push_back(std::move(t));
    }

    // 5. Warnings about the data (every rank has every set's labels).
    DataFacts facts;
    facts.classes = r.classes;
    facts.valid_accuracy = r.curve.front().valid_accuracy;
    facts.valid_labels = &valid.labels();
    if (data.test) facts.test_labels = &data.test->labels();
    for (std::size_t s = 0; s < poisoned_sets.size(); ++s)
        facts.poisoned.push_back({poisoned_sets[s].name, &poisoned_sets[s].source->labels(),
                                  r.curve.front().poisoned[s].attack_success});
    r.warnings = data_warnings(facts);
    comm.check();  // the last collective: a rank that failed after the sum is known to every rank
    return r;
}

}  // namespace detail

/// Runs the pruning defense. Policy is IncreasingActivation, DecreasingActivation, KernelL1Norm,
/// UserRanking or any type with the same order() member. With options.communicator, every rank
/// calls it (see the top of this file); an error on one rank is rethrown there and ends every
/// other rank's call with rank_failure.
template <class Policy = IncreasingActivation, class Net>
RepairResult repair(const Net& net, const RepairData& data, const RepairOptions& options = {},
                    const Policy& policy = {}) {
    const SingleProcess single;
    const Communicator& comm = options.communicator ? *options.communicator : single;
    try {
        return detail::repair_on_ranks(net, data, options, policy, comm);
    } catch (const rank_failure&) {
        throw;
    } catch (const std::exception& e) {
        comm.share_failure(e.what());
        throw;
    } catch (...) {
        comm.share_failure("unknown error");
        throw;
    }
}

}  // namespace prunedef
