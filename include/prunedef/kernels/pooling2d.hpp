#pragma once
// Max and average pooling over NHWC with any window, strides and padding (Keras/TensorFlow
// semantics), and their global forms. Padded positions take no part: a max is over the window's
// positions inside the input, an average divides by their number (TensorFlow's 'same' average
// pooling), so no window ever sees a zero it did not have. Averages are summed in double, in window
// order, then divided and rounded once. One task per image: nothing depends on the thread count.

#include <prunedef/core/parallel.hpp>
#include <prunedef/core/tensor.hpp>

#include <algorithm>
#include <cstddef>
#include <limits>
#include <type_traits>
#include <vector>

namespace prunedef {

/// Tag: max pooling (Keras MaxPooling2D, GlobalMaxPooling2D).
struct MaxPooling {
    static constexpr const char* name = "max";
};
/// Tag: average pooling (Keras AveragePooling2D, GlobalAveragePooling2D).
struct AveragePooling {
    static constexpr const char* name = "average";
};

namespace detail {

/// A pooling window (rows, columns), its strides and the padding before the first row and
/// column; out is the output shape (the caller computes it for valid or same padding).
struct PoolGeometry {
    std::size_t pool_h, pool_w, stride_h, stride_w, pad_top, pad_left;
    ImageShape out;
};

/// [begin, end) of the input positions of window i along an axis of `size` positions.
inline void pool_window(std::size_t i, std::size_t stride, std::size_t pad, std::size_t pool, std::size_t size,
                        std::size_t& begin, std::size_t& end) {
    const std::size_t start = i * stride;  // in padded coordinates
    begin = start > pad ? start - pad : 0;
    end = std::min(size, start + pool > pad ? start + pool - pad : 0);
}

template <class Op>
constexpr bool is_pooling_op() {
    return std::is_same_v<Op, MaxPooling> || std::is_same_v<Op, AveragePooling>;
}

}  // namespace detail

/// out[n, y, x, c] = max or average over the window at (y * stride_h - pad_top, x * stride_w -
/// pad_left) of the positions inside the input. Every window must hold at least one such
/// position (true of Keras' valid and same paddings).
template <class Op>
void pool2d(const Tensor& in, const detail::PoolGeometry& g, Tensor& out) {
    static_assert(detail::is_pooling_op<Op>(), "pool2d: Op is MaxPooling or AveragePooling");
    out.resize(in.batch(), g.out);
    const std::size_t C = in.channels(), H = in.height(), W = in.width();
    detail::parallel_for(static_cast<std::ptrdiff_t>(in.batch()), [&](std::ptrdiff_t task) {
        const std::size_t n = static_cast<std::size_t>(task);
        const float* src = in.image(n);
        float* dst = out.image(n);
        std::vector<double> sum(std::is_same_v<Op, AveragePooling> ? C : 0);
        for (std::size_t y = 0; y < g.out.height; ++y) {
            std::size_t y0, y1;
            detail::pool_window(y, g.stride_h, g.pad_top, g.pool_h, H, y0, y1);
            for (std::size_t x = 0; x < g.out.width; ++x) {
                std::size_t x0, x1;
                detail::pool_window(x, g.stride_w, g.pad_left, g.pool_w, W, x0, x1);
                float* o = dst + (y * g.out.width + x) * C;
                if constexpr (std::is_same_v<Op, MaxPooling>) {
                    std::fill(o, o + C, -std::numeric_limits<float>::infinity());
                    for (std::size_t py = y0; py < y1; ++py)
                        for (std::size_t px = x0; px < x1; ++px) {
                            const float* i = src + (py * W + px) * C;
                            for (std::size_t c = 0; c < C; ++c) o[c] = std::max(o[c], i[c]);
                        }
                } else {
                    std::fill(sum.begin(), sum.end(), 0.0);
                    for (std::size_t py = y0; py < y1; ++py)
                        for (std::size_t px = x0; px < x1; ++px) {
                            const float* i = src + (py * W + px) * C;
                            for (std::size_t c = 0; c < C; ++c) sum[c] += i[c];
                        }
                    const double count = double((y1 - y0) * (x1 - x0));
                    for (std::size_t c = 0; c < C; ++c) o[c] = static_cast<float>(sum[c] / count);
                }
            }
        }
    });
}

/// out[n, 0, 0, c] = max or average of channel c over all positions of image n (the input must
/// have at least one position).
template <class Op>
void global_pool2d(const Tensor& in, Tensor& out) {
    static_assert(detail::is_pooling_op<Op>(), "global_pool2d: Op is MaxPooling or AveragePooling");
    const std::size_t C = in.channels(), positions = in.height() * in.width();
    out.resize(in.batch(), {1, 1, C});
    detail::parallel_for(static_cast<std::ptrdiff_t>(in.batch()), [&](std::ptrdiff_t task) {
        const std::size_t n = static_cast<std::size_t>(task);
        const float* src = in.image(n);
        float* o = out.image(n);
        if constexpr (std::is_same_v<Op, MaxPooling>) {
            std::fill(o, o + C, -std::numeric_limits<float>::infinity());
            for (std::size_t p = 0; p < positions; ++p)
                for (std::size_t c = 0; c < C; ++c) o[c] = std::max(o[c], src[p * C + c]);
        } else {
            std::vector<double> sum(C, 0.0);
            for (std::size_t p = 0; p < positions; ++p)
                for (std::size_t c = 0; c < C; ++c) sum[c] += src[p * C + c];
            for (std::size_t c = 0; c < C; ++c) o[c] = static_cast<float>(sum[c] / double(positions));
        }
    });
}

}  // namespace prunedef
