#pragma once
// json_report(): everything a repair computed, as JSON for other programs.
//
// Top-level keys: context (files and settings), policy, activation_site, pruned_layer, channels,
// classes, images, baseline, order, mean_activation, curve, thresholds. Percentages are numbers
// in [0, 100]; a value that does not exist (no test or poisoned set) is null, and so is any
// non-finite number, so the output is always valid JSON. Written by hand: strings are escaped
// (quotes, backslashes, control characters) and numbers use std::to_chars (shortest round-trip
// form, independent of the C locale).

#include <prunedef/defense/activation_stats.hpp>
#include <prunedef/defense/metrics.hpp>
#include <prunedef/defense/repair.hpp>
#include <prunedef/defense/stopping_rule.hpp>
#include <prunedef/report/report_context.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace prunedef {

namespace detail {

inline std::string json_string(std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 0xf];
                } else {
                    out += ch;
                }
        }
    }
    return out + "\"";
}

template <class Float>
std::string json_number(Float value) {
    if (!std::isfinite(value)) return "null";
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, value);
    return std::string(buf, r.ptr);
}

inline std::string json_number(std::size_t value) { return std::to_string(value); }
inline std::string json_bool(bool value) { return value ? "true" : "false"; }

template <class T>
std::string json_optional(const std::optional<T>& value) {
    return value ? json_number(*value) : "null";
}

/// "" (an unused set) becomes null.
inline std::string json_path(const std::string& path) { return path.empty() ? "null" : json_string(path); }

using JsonMembers = std::vector<std::pair<std::string_view, std::string>>;

/// {"a": 1, "b": 2} on one line.
inline std::string json_inline_object(const JsonMembers& members) {
    std::string out = "{";
    for (std::size_t i = 0; i < members.size(); ++i)
        out += (i ? ", " : "") + json_string(members[i].first) + ": " + members[i].second;
    return out + "}";
}

/// One member per line, indented; values are already JSON and keep their own layout.
inline std::string json_block_object(const JsonMembers& members, int indent) {
    const std::string pad(std::size_t(indent + 2), ' ');
    std::string out = "{\n";
    for (std::size_t i = 0; i < members.size(); ++i)
        out += pad + json_string(members[i].first) + ": " + members[i].second + (i + 1 < members.size() ? ",\n" : "\n");
    return out + std::string(std::size_t(indent), ' ') + "}";
}

/// [a, b, c] on one line.
template <class T>
std::string json_inline_array(const std::vector<T>& values) {
    std::string out = "[";
    for (std::size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + json_number(values[i]);
    return out + "]";
}

/// One element (already JSON) per line.
inline std::string json_block_array(const std::vector<std::string>& items, int indent) {
    if (items.empty()) return "[]";
    const std::string pad(std::size_t(indent + 2), ' ');
    std::string out = "[\n";
    for (std::size_t i = 0; i < items.size(); ++i) out += pad + items[i] + (i + 1 < items.size() ? ",\n" : "\n");
    return out + std::string(std::size_t(indent), ' ') + "]";
}

inline std::string json_counts(const GoodNetCounts& c) {
    return json_inline_object({{"images", json_number(c.images)},
                               {"matched", json_number(c.matched)},
                               {"flagged", json_number(c.flagged)},
                               {"other", json_number(c.other)}});
}

inline std::string json_counts(const std::optional<GoodNetCounts>& c) { return c ? json_counts(*c) : "null"; }

inline std::string json_curve_point(const CurvePoint& p) {
    return json_inline_object({{"k", json_number(p.k)},
                               {"channel", json_optional(p.channel)},
                               {"fraction_pruned", json_number(p.fraction_pruned)},
                               {"valid_accuracy", json_number(p.valid_accuracy)},
                               {"test_accuracy", json_optional(p.test_accuracy)},
                               {"attack_success", json_optional(p.attack_success)}});
}

inline std::string json_fine_tuned(const std::optional<FineTuneResult>& f) {
    if (!f) return "null";
    return json_inline_object({{"epochs", json_number(f->epochs)},
                               {"learning_rate", json_number(double(f->learning_rate))},
                               {"lr_drop", json_number(f->lr_drop)},
                               {"head_only", json_bool(f->head_only)},
                               {"valid_accuracy", json_number(f->valid_accuracy)},
                               {"test_accuracy", json_optional(f->test_accuracy)},
                               {"attack_success", json_optional(f->attack_success)},
                               {"goodnet_valid", json_counts(f->goodnet_valid)},
                               {"goodnet_test", json_counts(f->goodnet_test)},
                               {"goodnet_poisoned", json_counts(f->goodnet_poisoned)}});
}

inline std::string json_threshold(const ThresholdResult& t, int indent) {
    return json_block_object({{"x", json_number(t.drop.x)},
                              {"relative", json_bool(t.drop.relative)},
                              {"reached", json_bool(t.reached)},
                              {"k", json_number(t.k)},
                              {"fraction_pruned", json_number(t.fraction_pruned)},
                              {"pruned_channels", json_inline_array(t.pruned_channels)},
                              {"repaired_valid_accuracy", json_number(t.valid_accuracy)},
                              {"repaired_test_accuracy", json_optional(t.test_accuracy)},
                              {"repaired_attack_success", json_optional(t.attack_success)},
                              {"goodnet_valid", json_counts(t.goodnet_valid)},
                              {"goodnet_test", json_counts(t.goodnet_test)},
                              {"goodnet_poisoned", json_counts(t.goodnet_poisoned)},
                              {"fine_tuned", json_fine_tuned(t.fine_tuned)}},
                             indent);
}

}  // namespace detail

/// The report as JSON text (two-space indentation, ending in a newline).
inline std::string json_report(const RepairResult& result, const ReportContext& context) {
    using namespace detail;
    std::string baseline = "null";
    if (!result.curve.empty()) {
        const CurvePoint& b = result.baseline();
        baseline = json_inline_object({{"valid_accuracy", json_number(b.valid_accuracy)},
                                       {"test_accuracy", json_optional(b.test_accuracy)},
                                       {"attack_success", json_optional(b.attack_success)}});
    }
    std::vector<std::string> curve, thresholds;
    for (const CurvePoint& p : result.curve) curve.push_back(json_curve_point(p));
    for (const ThresholdResult& t : result.thresholds) thresholds.push_back(json_threshold(t, 4));

    return json_block_object(
               {{"context", json_inline_object({{"model", json_path(context.model)},
                                                {"valid", json_path(context.valid)},
                                                {"test", json_path(context.test)},
                                                {"poisoned", json_path(context.poisoned)},
                                                {"input_scale", json_number(context.input_scale)}})},
                {"policy", json_string(result.policy)},
                {"activation_site", json_string(to_string(result.site))},
                {"pruned_layer", json_string(result.pruned_layer)},
                {"channels", json_number(result.channels)},
                {"classes", json_number(result.classes)},
                {"images", json_inline_object({{"valid", json_number(result.valid_images)},
                                               {"test", json_number(result.test_images)},
                                               {"poisoned", json_number(result.poisoned_images)}})},
                {"baseline", baseline},
                {"order", json_inline_array(result.order)},
                {"mean_activation", json_inline_array(result.activations.mean)},
                {"activation_images", json_number(result.activations.images)},
                {"curve", json_block_array(curve, 2)},
                {"thresholds", json_block_array(thresholds, 2)}},
               0) +
           "\n";
}

}  // namespace prunedef
