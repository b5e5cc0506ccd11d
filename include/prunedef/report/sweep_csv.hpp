#pragma once
// sweep_csv(): the pruning curve of a repair as CSV, one row per step k.
//
//   k,channel,fraction_pruned,valid_acc,test_acc,asr,g_valid_acc,g_valid_fpr,g_test_acc,g_test_fpr,g_asr,g_detect
//   0,,0.0000,88.220,87.950,99.990,88.220,0.000,87.950,0.000,99.990,0.000
//   1,12,0.0167,88.220,87.940,99.990,88.200,0.020,87.930,0.010,99.990,0.000
//
// B' at step k: valid_acc, test_acc, asr (attack success rate). G = GoodNet<B, B'_k>: g_valid_acc
// and g_valid_fpr (clean accuracy, class N counting as wrong, and false-positive rate: clean
// inputs given class N) on the validation set; g_test_acc and g_test_fpr on the test set (these
// two columns only when a test set was given); g_asr and g_detect (G's attack success and
// detection rate) on the poisoned set.
//
// With one poisoned set (or none) the columns are as above (asr empty, no g_asr/g_detect without
// one). With several, asr, g_asr and g_detect are replaced by asr_NAME, g_asr_NAME and
// g_detect_NAME for each set NAME, in order (a header cell is quoted as RFC 4180 says when the
// name holds a comma, a quote or a line break).
//
// Percentages with 3 decimals, the fraction with 4. The channel cell is empty for k = 0 (nothing
// pruned yet); test_acc is empty when no test set was given. Numbers are written with
// std::to_chars, so the output does not depend on the C locale.

#include <prunedef/defense/repair.hpp>

#include <charconv>
#include <cmath>
#include <optional>
#include <string>

namespace prunedef {

namespace detail {

/// value with a fixed number of decimals, locale-independent; "" when not finite.
inline std::string csv_fixed(double value, int decimals) {
    if (!std::isfinite(value)) return "";
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed, decimals);
    return std::string(buf, r.ptr);
}

inline std::string csv_optional(const std::optional<double>& value, int decimals) {
    return value ? csv_fixed(*value, decimals) : std::string();
}

/// A header cell, quoted when it holds a comma, a quote or a line break.
inline std::string csv_cell(const std::string& text) {
    if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
    std::string out = "\"";
    for (const char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

}  // namespace detail

/// The pruning curve as CSV text (header line, then one line per CurvePoint, '\n' endings).
inline std::string sweep_csv(const RepairResult& result) {
    const std::size_t sets = result.poisoned_sets.size();
    const bool test = result.has_test();
    std::string out = "k,channel,fraction_pruned,valid_acc,test_acc";
    if (sets <= 1) out += ",asr";
    out += ",g_valid_acc,g_valid_fpr";
    if (test) out += ",g_test_acc,g_test_fpr";
    if (sets == 1) out += ",g_asr,g_detect";
    if (sets > 1)
        for (const auto& s : result.poisoned_sets)
            out += "," + detail::csv_cell("asr_" + s.name) + "," + detail::csv_cell("g_asr_" + s.name) + "," +
                   detail::csv_cell("g_detect_" + s.name);
    out += '\n';
    for (const CurvePoint& p : result.curve) {
        out += std::to_string(p.k);
        out += ',';
        if (p.channel) out += std::to_string(*p.channel);
        out += ',';
        out += detail::csv_fixed(p.fraction_pruned, 4);
        out += ',';
        out += detail::csv_fixed(p.valid_accuracy, 3);
        out += ',';
        out += detail::csv_optional(p.test_accuracy, 3);
        if (sets <= 1) {
            out += ',';
            out += detail::csv_optional(p.attack_success, 3);
        }
        out += ',' + detail::csv_fixed(p.goodnet_valid_accuracy, 3) + ',' + detail::csv_fixed(p.goodnet_valid_fpr, 3);
        if (test)
            out += ',' + detail::csv_optional(p.goodnet_test_accuracy, 3) + ',' +
                   detail::csv_optional(p.goodnet_test_fpr, 3);
        for (std::size_t s = 0; s < sets; ++s) {
            const bool have = s < p.poisoned.size();
            if (sets > 1) out += ',' + (have ? detail::csv_fixed(p.poisoned[s].attack_success, 3) : std::string());
            out += ',' + (have ? detail::csv_fixed(p.poisoned[s].goodnet_attack_success, 3) : std::string());
            out += ',' + (have ? detail::csv_fixed(p.poisoned[s].goodnet_detection, 3) : std::string());
        }
        out += '\n';
    }
    return out;
}

}  // namespace prunedef
