#pragma once
// json_report(): everything a repair computed, as JSON for other programs (nlohmann/json;
// link the prunedef::report CMake target, Debian nlohmann-json3-dev).
//
// Top-level keys, in this order: context (files and settings), policy, activation_site,
// pruned_layer, channels, classes, images, poisoned_sets, valid_features, baseline, order, mean_activation,
// activation_images, curve, thresholds, roc, warnings (data_warnings.hpp: one sentence each, an
// empty array when none). Percentages are numbers in [0, 100]; a value that does not exist (no test or
// poisoned set) is null, and so is any non-finite number. Strings are written as UTF-8: a byte
// sequence that is not valid UTF-8 (a file name in another encoding, say) has each invalid byte
// replaced by U+FFFD, so the output is always valid JSON.
//
// Every curve point holds B''s figures at step k, G's (goodnet_valid_accuracy, goodnet_valid_fpr,
// goodnet_test_accuracy, goodnet_test_fpr) and "poisoned": one object per poisoned set (name,
// attack_success of B', goodnet_attack_success, goodnet_detection). attack_success, at the top of
// a point or threshold, is the first poisoned set's. Every threshold (and its fine_tuned) holds
// "poisoned_sets": per set, repaired_attack_success and goodnet counts. "roc" holds one object
// per poisoned set: name, fpr_on ("test" or "valid"), auc (a fraction, closed at (100, 100)),
// max_fpr and chosen (the point within the budget, null without one), points (k,
// false_positive, detection; sorted by false-positive rate). A threshold's fine_tuned names in
// clean_set ("test", "holdout" or "valid") the set its "after" figures a report quotes come from:
// holdout_* are on the validation images held out of fine-tuning (null when none were);
// valid_accuracy and goodnet_valid are on the whole validation set, fine-tuning data included.
// Each of the top-level poisoned_sets holds clean_floor: the percentage of its images that the
// clean reference (context.clean_reference; clean_floor.hpp) classifies as the target, null
// without one.

#include <prunedef/defense/activation_stats.hpp>
#include <prunedef/defense/metrics.hpp>
#include <prunedef/defense/repair.hpp>
#include <prunedef/defense/stopping_rule.hpp>
#include <prunedef/report/report_context.hpp>

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace prunedef {

namespace detail {

using Json = nlohmann::ordered_json;  // members keep the order they are written in

inline Json json_number(double value) { return std::isfinite(value) ? Json(value) : Json(nullptr); }

/// A float as the double with the float's shortest decimal form (0.1f -> 0.1, not 0.100000001).
inline Json json_number(float value) {
    if (!std::isfinite(value)) return nullptr;
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf - 1, value);
    *r.ptr = '\0';
    return std::strtod(buf, nullptr);
}

template <class T>
Json json_optional(const std::optional<T>& value) {
    if (!value) return nullptr;
    if constexpr (std::is_floating_point_v<T>) return json_number(*value);
    else return *value;
}

/// "" (an unused set) becomes null.
inline Json json_path(const std::string& path) { return path.empty() ? Json(nullptr) : Json(path); }

inline Json json_numbers(const std::vector<double>& values) {
    Json out = Json::array();
    for (const double v : values) out.push_back(json_number(v));
    return out;
}

inline Json json_counts(const GoodNetCounts& c) {
    return {{"images", c.images}, {"matched", c.matched}, {"flagged", c.flagged}, {"other", c.other}};
}

inline Json json_counts(const std::optional<GoodNetCounts>& c) { return c ? json_counts(*c) : Json(nullptr); }

inline Json json_curve_point(const CurvePoint& p, const RepairResult& r) {
    Json poisoned = Json::array();
    for (std::size_t s = 0; s < p.poisoned.size(); ++s)
        poisoned.push_back({{"name", s < r.poisoned_sets.size() ? r.poisoned_sets[s].name : std::string()},
                            {"attack_success", json_number(p.poisoned[s].attack_success)},
                            {"goodnet_attack_success", json_number(p.poisoned[s].goodnet_attack_success)},
                            {"goodnet_detection", json_number(p.poisoned[s].goodnet_detection)}});
    return {{"k", p.k},
            {"channel", json_optional(p.channel)},
            {"fraction_pruned", json_number(p.fraction_pruned)},
            {"valid_accuracy", json_number(p.valid_accuracy)},
            {"test_accuracy", json_optional(p.test_accuracy)},
            {"attack_success", json_optional(p.attack_success)},
            {"goodnet_valid_accuracy", json_number(p.goodnet_valid_accuracy)},
            {"goodnet_valid_fpr", json_number(p.goodnet_valid_fpr)},
            {"goodnet_test_accuracy", json_optional(p.goodnet_test_accuracy)},
            {"goodnet_test_fpr", json_optional(p.goodnet_test_fpr)},
            {"poisoned", poisoned}};
}

/// Per poisoned set: B''s attack success and G's counts.
inline Json json_poisoned_sets(const RepairedFigures& f, const RepairResult& r) {
    Json out = Json::array();
    for (std::size_t s = 0; s < f.goodnet_poisoned_sets.size(); ++s)
        out.push_back({{"name", s < r.poisoned_sets.size() ? r.poisoned_sets[s].name : std::string()},
                       {"repaired_attack_success",
                        s < f.poisoned_attack_success.size() ? json_number(f.poisoned_attack_success[s]) : Json(nullptr)},
                       {"goodnet", json_counts(f.goodnet_poisoned_sets[s])}});
    return out;
}

inline Json json_roc_point(const RocPoint& p) {
    return {{"k", p.k}, {"false_positive", json_number(p.false_positive)}, {"detection", json_number(p.detection)}};
}

inline Json json_roc(const RepairResult& r) {
    Json out = Json::array();
    for (std::size_t s = 0; s < r.roc.size(); ++s) {
        const GoodNetRoc& roc = r.roc[s];
        Json points = Json::array();
        for (const RocPoint& p : roc.points) points.push_back(json_roc_point(p));
        out.push_back({{"name", s < r.poisoned_sets.size() ? r.poisoned_sets[s].name : std::string()},
                       {"fpr_on", r.has_test() ? "test" : "valid"},
                       {"auc", json_number(roc.auc)},
                       {"max_fpr", json_optional(roc.max_fpr)},
                       {"chosen", roc.chosen ? json_roc_point(*roc.chosen) : Json(nullptr)},
                       {"points", points}});
    }
    return out;
}

inline Json json_fine_tuned(const std::optional<FineTuneResult>& f, const RepairResult& r) {
    if (!f) return nullptr;
    return {{"epochs", f->epochs},
            {"learning_rate", json_number(f->learning_rate)},
            {"lr_drop", f->lr_drop},
            {"head_only", f->head_only},
            {"weight_decay", json_number(f->weight_decay)},
            {"augment_shift", f->augment_shift},
            {"augment_flip", f->augment_flip},
            {"augment_erase", json_number(f->augment_erase)},
            {"sam_rho", json_number(f->sam_rho)},
            {"sam_adaptive", f->sam_adaptive},
            {"distillation", f->distill_weight > 0 ? Json{{"weight", json_number(f->distill_weight)},
                                                          {"temperature", json_number(f->distill_temperature)}}
                                                    : Json(nullptr)},
            {"batch_size", f->batch_size},
            {"seed", f->seed},
            {"clean_set", f->clean_set},
            {"tuned_images", f->tuned_images},
            {"holdout_fraction", json_number(f->holdout_fraction)},
            {"holdout_images", f->holdout_images},
            {"holdout_accuracy_before", json_optional(f->holdout_accuracy_before)},
            {"holdout_accuracy", json_optional(f->holdout_accuracy)},
            {"goodnet_holdout", json_counts(f->goodnet_holdout)},
            {"chosen_epoch", json_optional(f->chosen_epoch)},
            {"holdout_accuracy_per_epoch", json_numbers(f->holdout_accuracy_per_epoch)},
            {"valid_accuracy", json_number(f->valid_accuracy)},
            {"test_accuracy", json_optional(f->test_accuracy)},
            {"attack_success", json_optional(f->attack_success)},
            {"goodnet_valid", json_counts(f->goodnet_valid)},
            {"goodnet_test", json_counts(f->goodnet_test)},
            {"goodnet_poisoned", json_counts(f->goodnet_poisoned)},
            {"poisoned_sets", json_poisoned_sets(*f, r)}};
}

inline Json json_threshold(const ThresholdResult& t, const RepairResult& r) {
    return {{"x", json_number(t.drop.x)},
            {"relative", t.drop.relative},
            {"reached", t.reached},
            {"k", t.k},
            {"fraction_pruned", json_number(t.fraction_pruned)},
            {"pruned_channels", t.pruned_channels},
            {"repaired_valid_accuracy", json_number(t.valid_accuracy)},
            {"repaired_test_accuracy", json_optional(t.test_accuracy)},
            {"repaired_attack_success", json_optional(t.attack_success)},
            {"goodnet_valid", json_counts(t.goodnet_valid)},
            {"goodnet_test", json_counts(t.goodnet_test)},
            {"goodnet_poisoned", json_counts(t.goodnet_poisoned)},
            {"poisoned_sets", json_poisoned_sets(t, r)},
            {"fine_tuned", json_fine_tuned(t.fine_tuned, r)}};
}

/// The report as a JSON value (see the file comment for its keys).
inline Json json_report_value(const RepairResult& result, const ReportContext& context) {
    Json baseline = nullptr;
    if (!result.curve.empty()) {
        const CurvePoint& b = result.baseline();
        baseline = {{"valid_accuracy", json_number(b.valid_accuracy)},
                    {"test_accuracy", json_optional(b.test_accuracy)},
                    {"attack_success", json_optional(b.attack_success)}};
    }
    Json curve = Json::array(), thresholds = Json::array();
    for (const CurvePoint& p : result.curve) curve.push_back(json_curve_point(p, result));
    for (const ThresholdResult& t : result.thresholds) thresholds.push_back(json_threshold(t, result));
    Json poisoned_sets = Json::array();
    for (std::size_t s = 0; s < result.poisoned_sets.size(); ++s) {
        std::string file;
        if (s < context.poisoned_files.size()) file = context.poisoned_files[s];
        else if (s == 0 && context.poisoned_files.empty()) file = context.poisoned;
        poisoned_sets.push_back(
            {{"name", result.poisoned_sets[s].name},
             {"file", json_path(file)},
             {"images", result.poisoned_sets[s].images},
             {"clean_floor", json_optional(result.poisoned_sets[s].clean_floor)}});
    }
    return {{"context",
             {{"model", json_path(context.model)},
              {"valid", json_path(context.valid)},
              {"test", json_path(context.test)},
              {"poisoned", json_path(context.poisoned)},
              {"input_scale", json_number(context.input_scale)},
              {"architecture", context.architecture},
              {"clean_reference", json_path(context.clean_reference)}}},
            {"policy", result.policy},
            {"activation_site", std::string(to_string(result.site))},
            {"pruned_layer", result.pruned_layer},
            {"channels", result.channels},
            {"classes", result.classes},
            {"images",
             {{"valid", result.valid_images}, {"test", result.test_images}, {"poisoned", result.poisoned_images}}},
            {"poisoned_sets", poisoned_sets},
            {"ranks", result.ranks},
            {"valid_features",
             {{"cached_images", result.cached_feature_images},
              {"recomputed_images", result.valid_images - result.cached_feature_images},
              {"bytes", result.valid_feature_bytes},
              {"cache_budget_bytes", result.feature_cache_bytes}}},
            {"baseline", baseline},
            {"order", result.order},
            {"mean_activation", json_numbers(result.activations.mean)},
            {"activation_images", result.activations.images},
            {"curve", curve},
            {"thresholds", thresholds},
            {"roc", json_roc(result)},
            {"warnings", result.warnings}};
}

}  // namespace detail

/// The report as JSON text (two-space indentation, ending in a newline; always valid UTF-8).
inline std::string json_report(const RepairResult& result, const ReportContext& context) {
    return detail::json_report_value(result, context).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
           "\n";
}

}  // namespace prunedef
