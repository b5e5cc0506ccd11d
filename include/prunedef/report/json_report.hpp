#pragma once
// json_report(): everything a repair computed, as JSON for other programs (nlohmann/json;
// link the prunedef::report CMake target, Debian nlohmann-json3-dev).
//
// Top-level keys, in this order: context (files and settings), policy, activation_site,
// pruned_layer, channels, classes, images, baseline, order, mean_activation, activation_images,
// curve, thresholds. Percentages are numbers in [0, 100]; a value that does not exist (no test or
// poisoned set) is null, and so is any non-finite number. Strings are written as UTF-8: a byte
// sequence that is not valid UTF-8 (a file name in another encoding, say) has each invalid byte
// replaced by U+FFFD, so the output is always valid JSON.

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

inline Json json_curve_point(const CurvePoint& p) {
    return {{"k", p.k},
            {"channel", json_optional(p.channel)},
            {"fraction_pruned", json_number(p.fraction_pruned)},
            {"valid_accuracy", json_number(p.valid_accuracy)},
            {"test_accuracy", json_optional(p.test_accuracy)},
            {"attack_success", json_optional(p.attack_success)}};
}

inline Json json_fine_tuned(const std::optional<FineTuneResult>& f) {
    if (!f) return nullptr;
    return {{"epochs", f->epochs},
            {"learning_rate", json_number(f->learning_rate)},
            {"lr_drop", f->lr_drop},
            {"head_only", f->head_only},
            {"valid_accuracy", json_number(f->valid_accuracy)},
            {"test_accuracy", json_optional(f->test_accuracy)},
            {"attack_success", json_optional(f->attack_success)},
            {"goodnet_valid", json_counts(f->goodnet_valid)},
            {"goodnet_test", json_counts(f->goodnet_test)},
            {"goodnet_poisoned", json_counts(f->goodnet_poisoned)}};
}

inline Json json_threshold(const ThresholdResult& t) {
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
            {"fine_tuned", json_fine_tuned(t.fine_tuned)}};
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
    for (const CurvePoint& p : result.curve) curve.push_back(json_curve_point(p));
    for (const ThresholdResult& t : result.thresholds) thresholds.push_back(json_threshold(t));
    return {{"context",
             {{"model", json_path(context.model)},
              {"valid", json_path(context.valid)},
              {"test", json_path(context.test)},
              {"poisoned", json_path(context.poisoned)},
              {"input_scale", json_number(context.input_scale)},
              {"architecture", context.architecture}}},
            {"policy", result.policy},
            {"activation_site", std::string(to_string(result.site))},
            {"pruned_layer", result.pruned_layer},
            {"channels", result.channels},
            {"classes", result.classes},
            {"images",
             {{"valid", result.valid_images}, {"test", result.test_images}, {"poisoned", result.poisoned_images}}},
            {"baseline", baseline},
            {"order", result.order},
            {"mean_activation", json_numbers(result.activations.mean)},
            {"activation_images", result.activations.images},
            {"curve", curve},
            {"thresholds", thresholds}};
}

}  // namespace detail

/// The report as JSON text (two-space indentation, ending in a newline; always valid UTF-8).
inline std::string json_report(const RepairResult& result, const ReportContext& context) {
    return detail::json_report_value(result, context).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
           "\n";
}

}  // namespace prunedef
