#pragma once
// Percentages as the CSAW-HackML eval.py computes them: np.mean(pred == label) * 100, i.e. the
// fraction part / whole in float64 first, then times 100. 100 * part / whole rounds differently
// for about a quarter of the counts (7 of 100: 7.000000000000001 here, 7.0 the other way), and
// graders compare the printed strings.

#include <cstddef>

namespace prunedef {

/// part / whole * 100 in double, evaluated in eval.py's order; 0 for an empty whole.
inline double percent_of(std::size_t part, std::size_t whole) {
    return whole ? double(part) / double(whole) * 100.0 : 0.0;
}

}  // namespace prunedef
