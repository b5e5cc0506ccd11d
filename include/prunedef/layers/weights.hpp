#pragma once
// WeightArray: one named array of a layer's weights (a Keras "kernel:0" or "bias:0"), the unit
// that the weight readers and writers exchange with layers.

#include <prunedef/core/error.hpp>
#include <prunedef/core/shape.hpp>

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

namespace prunedef {

struct WeightArray {
    std::string name;                // e.g. "kernel:0"
    std::vector<std::size_t> dims;   // e.g. {4, 4, 3, 20}
    std::vector<float> values;       // row-major

    std::size_t element_count() const {
        std::size_t n = 1;
        for (auto d : dims) n *= d;
        return n;
    }
};

namespace detail {

/// Throws format_error if any value is NaN or infinite.
inline void check_finite(const std::string& layer, const WeightArray& w) {
    for (std::size_t i = 0; i < w.values.size(); ++i)
        if (!std::isfinite(w.values[i]))
            throw format_error("layer " + layer + ": weight " + w.name + " has a non-finite value (" +
                               std::to_string(w.values[i]) + ") at flat index " + std::to_string(i));
}

/// Checks that a layer received the expected number of arrays of the expected ranks.
inline void check_weight_ranks(const std::string& layer, const std::vector<WeightArray>& w,
                               const std::vector<std::size_t>& ranks, const char* what) {
    if (w.size() != ranks.size())
        throw format_error("layer " + layer + ": expected " + std::to_string(ranks.size()) + " weight arrays (" +
                           what + "), found " + std::to_string(w.size()));
    for (std::size_t i = 0; i < ranks.size(); ++i) {
        if (w[i].dims.size() != ranks[i])
            throw shape_error("layer " + layer + ": weight " + w[i].name + " should have rank " +
                              std::to_string(ranks[i]) + ", found shape " + dims_str(w[i].dims));
        if (w[i].values.size() != w[i].element_count())
            throw format_error("layer " + layer + ": weight " + w[i].name + " holds " +
                               std::to_string(w[i].values.size()) + " values for shape " + dims_str(w[i].dims));
        check_finite(layer, w[i]);
    }
}

}  // namespace detail
}  // namespace prunedef
