#pragma once
// Backward passes of pool2d and global_pool2d (kernels/pooling2d.hpp), TensorFlow's semantics:
// a max sends each output's gradient to the first position of its window (row-major order,
// positions inside the input only) that holds the maximum, the one the forward pass chose; an
// average spreads it evenly over the window's positions inside the input (with 'same' padding a
// border window divides by its own count, as the forward pass). One task per image: nothing
// depends on the thread count.

#include <prunedef/core/parallel.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/kernels/pooling2d.hpp>

#include <algorithm>
#include <type_traits>

namespace prunedef {

/// din (shaped as in) = the gradient of pool2d<Op>(in, g) for dout.
template <class Op>
void pool2d_backward(const Tensor& in, const detail::PoolGeometry& g, const Tensor& dout, Tensor& din) {
    static_assert(detail::is_pooling_op<Op>(), "pool2d_backward: Op is MaxPooling or AveragePooling");
    din.resize(in.batch(), in.shape());
    std::fill(din.data(), din.data() + din.size(), 0.0f);
    const std::size_t C = in.channels(), H = in.height(), W = in.width();
    detail::parallel_for(static_cast<std::ptrdiff_t>(in.batch()), [&](std::ptrdiff_t task) {
        const std::size_t n = static_cast<std::size_t>(task);
        const float* x = in.image(n);
        const float* d = dout.image(n);
        float* dx = din.image(n);
        for (std::size_t y = 0; y < g.out.height; ++y) {
            std::size_t y0, y1;
            detail::pool_window(y, g.stride_h, g.pad_top, g.pool_h, H, y0, y1);
            for (std::size_t xo = 0; xo < g.out.width; ++xo) {
                std::size_t x0, x1;
                detail::pool_window(xo, g.stride_w, g.pad_left, g.pool_w, W, x0, x1);
                const float* dy = d + (y * g.out.width + xo) * C;
                if constexpr (std::is_same_v<Op, MaxPooling>) {
                    for (std::size_t c = 0; c < C; ++c) {
                        std::size_t best = (y0 * W + x0) * C + c;
                        for (std::size_t py = y0; py < y1; ++py)
                            for (std::size_t px = x0; px < x1; ++px) {
                                const std::size_t i = (py * W + px) * C + c;
                                if (x[i] > x[best]) best = i;
                            }
                        dx[best] += dy[c];
                    }
                } else {
                    const float count = float((y1 - y0) * (x1 - x0));
                    for (std::size_t py = y0; py < y1; ++py)
                        for (std::size_t px = x0; px < x1; ++px) {
                            float* o = dx + (py * W + px) * C;
                            for (std::size_t c = 0; c < C; ++c) o[c] += dy[c] / count;
                        }
                }
            }
        }
    });
}

/// din (shaped as in) = the gradient of global_pool2d<Op>(in) for dout ({1, 1, C} per image).
template <class Op>
void global_pool2d_backward(const Tensor& in, const Tensor& dout, Tensor& din) {
    static_assert(detail::is_pooling_op<Op>(), "global_pool2d_backward: Op is MaxPooling or AveragePooling");
    din.resize(in.batch(), in.shape());
    std::fill(din.data(), din.data() + din.size(), 0.0f);
    const std::size_t C = in.channels(), positions = in.height() * in.width();
    detail::parallel_for(static_cast<std::ptrdiff_t>(in.batch()), [&](std::ptrdiff_t task) {
        const std::size_t n = static_cast<std::size_t>(task);
        const float* x = in.image(n);
        const float* d = dout.image(n);
        float* dx = din.image(n);
        if constexpr (std::is_same_v<Op, MaxPooling>) {
            for (std::size_t c = 0; c < C; ++c) {
                std::size_t best = c;
                for (std::size_t p = 0; p < positions; ++p)
                    if (x[p * C + c] > x[best]) best = p * C + c;
                dx[best] += d[c];
            }
        } else {
            const float count = float(positions);
            for (std::size_t p = 0; p < positions; ++p)
                for (std::size_t c = 0; c < C; ++c) dx[p * C + c] = d[c] / count;
        }
    });
}

}  // namespace prunedef
