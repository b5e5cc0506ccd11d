#pragma once
// Max pooling over NHWC, valid windows, output size floor((in - pool) / stride) + 1 as in Keras.

#include <prunedef/core/parallel.hpp>
#include <prunedef/core/tensor.hpp>

#include <algorithm>
#include <limits>

namespace prunedef {
namespace detail {

inline ImageShape maxpool_output_shape(const ImageShape& in, std::size_t pool, std::size_t stride) {
    if (in.height < pool || in.width < pool) return {0, 0, in.channels};
    return {(in.height - pool) / stride + 1, (in.width - pool) / stride + 1, in.channels};
}

}  // namespace detail

/// out[n, y, x, c] = max over the pool x pool window at (y * stride, x * stride).
inline void maxpool2d(const Tensor& in, std::size_t pool, std::size_t stride, Tensor& out) {
    const ImageShape os = detail::maxpool_output_shape(in.shape(), pool, stride);
    out.resize(in.batch(), os);
    const std::size_t C = in.channels(), W = in.width();
    detail::parallel_for(static_cast<std::ptrdiff_t>(in.batch()), [&](std::ptrdiff_t task) {
        const std::size_t n = static_cast<std::size_t>(task);
        const float* src = in.image(n);
        float* dst = out.image(n);
        for (std::size_t y = 0; y < os.height; ++y)
            for (std::size_t x = 0; x < os.width; ++x) {
                float* o = dst + (y * os.width + x) * C;
                std::fill(o, o + C, -std::numeric_limits<float>::infinity());
                for (std::size_t py = 0; py < pool; ++py)
                    for (std::size_t px = 0; px < pool; ++px) {
                        const float* i = src + ((y * stride + py) * W + x * stride + px) * C;
                        for (std::size_t c = 0; c < C; ++c) o[c] = std::max(o[c], i[c]);
                    }
            }
    });
}

}  // namespace prunedef
