#pragma once
// Keras' two paddings of convolutions and poolings (channels_last): 'valid' uses only windows
// that lie inside the input, 'same' gives ceil(in / stride) outputs per axis and pads the input
// as TensorFlow does, the odd row or column at the bottom or right.

#include <prunedef/core/error.hpp>
#include <prunedef/core/shape.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <string>

namespace prunedef {

enum class Padding { valid, same };

/// "valid" or "same" (a Keras config's padding); anything else (e.g. "causal") is refused.
inline Padding padding_from_keras(const std::string& name) {
    if (name == "valid") return Padding::valid;
    if (name == "same") return Padding::same;
    throw argument_error("padding '" + name + "' is not supported (only 'valid' and 'same')");
}

inline const char* padding_name(Padding p) { return p == Padding::valid ? "valid" : "same"; }

/// TensorFlow's 'same' split for a window `kernel` {rows, columns} moved by `strides` {rows,
/// columns}: out = ceil(in / stride), total = max((out - 1) * stride + kernel - in, 0), of which
/// total / 2 go to the top (left) and the rest to the bottom (right). Returns {top, bottom,
/// left, right}. Strides must be positive.
inline std::array<std::size_t, 4> same_padding(ImageShape in, std::array<std::size_t, 2> kernel,
                                               std::array<std::size_t, 2> strides) {
    const auto split = [](std::size_t size, std::size_t k, std::size_t s) -> std::array<std::size_t, 2> {
        const std::size_t out = (size + s - 1) / s;
        const std::size_t span = out == 0 ? 0 : (out - 1) * s + k;
        const std::size_t total = span > size ? span - size : 0;
        return {total / 2, total - total / 2};
    };
    const auto rows = split(in.height, kernel[0], strides[0]), cols = split(in.width, kernel[1], strides[1]);
    return {rows[0], rows[1], cols[0], cols[1]};
}

}  // namespace prunedef
