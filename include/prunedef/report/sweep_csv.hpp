#pragma once
// sweep_csv(): the pruning curve of a repair as CSV, one row per step k.
//
//   k,channel,fraction_pruned,valid_acc,test_acc,asr
//   0,,0.0000,88.220,87.950,99.990
//   1,12,0.0167,88.220,87.940,99.990
//
// Percentages with 3 decimals, the fraction with 4. The channel cell is empty for k = 0 (nothing
// pruned yet); test_acc and asr are empty when no test or poisoned set was given. Numbers are
// written with std::to_chars, so the output does not depend on the C locale.

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

}  // namespace detail

/// The pruning curve as CSV text (header line, then one line per CurvePoint, '\n' endings).
inline std::string sweep_csv(const RepairResult& result) {
    std::string out = "k,channel,fraction_pruned,valid_acc,test_acc,asr\n";
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
        out += ',';
        out += detail::csv_optional(p.attack_success, 3);
        out += '\n';
    }
    return out;
}

}  // namespace prunedef
