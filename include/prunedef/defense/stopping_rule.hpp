#pragma once
// The stopping rule: B' for a threshold X is the network at the first pruning step whose
// validation accuracy is at least X below the original's, either X percentage points
// (absolute, the default) or X percent of the original accuracy (relative). Decided on counts,
// so exact boundaries are exact: acc_k <= acc_0 - X  <=>  100 (c_0 - c_k) >= X n.

#include <prunedef/core/error.hpp>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

namespace prunedef {

struct AccuracyDrop {
    double x = 2.0;         // percentage points, or percent of the original when relative
    bool relative = false;

    std::string label() const {
        std::string s = std::to_string(x);
        s.erase(s.find_last_not_of('0') + 1);
        if (!s.empty() && s.back() == '.') s.pop_back();
        return s;
    }
};

/// Throws argument_error unless 0 < x <= 100.
inline void check_drop(const AccuracyDrop& d) {
    if (!(d.x > 0.0) || d.x > 100.0 || !std::isfinite(d.x))
        throw argument_error("accuracy drop must be in (0, 100], got " + std::to_string(d.x));
}

/// True when an accuracy of correct_k / images is at least the drop below correct_0 / images.
inline bool drop_reached(std::size_t correct_0, std::size_t correct_k, std::size_t images, const AccuracyDrop& d) {
    const double lost = 100.0 * (double(correct_0) - double(correct_k));
    const double needed = d.x * (d.relative ? double(correct_0) : double(images));
    // X is usually a decimal (1.9 is not exact in binary): allow for its rounding error only.
    return lost >= needed - 1e-9 * std::max(1.0, needed);
}

/// The first step k (>= 1) whose accuracy reaches the drop; empty when no step does.
/// correct[k] is the number of correctly classified validation images after k steps.
inline std::optional<std::size_t> first_step_reaching(const std::vector<std::size_t>& correct, std::size_t images,
                                                      const AccuracyDrop& d) {
    check_drop(d);
    if (correct.empty()) return std::nullopt;
    for (std::size_t k = 1; k < correct.size(); ++k)
        if (drop_reached(correct[0], correct[k], images, d)) return k;
    return std::nullopt;
}

}  // namespace prunedef
