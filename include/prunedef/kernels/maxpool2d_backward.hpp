#pragma once
// Backward pass of max pooling: each output's gradient goes to the first input of its window
// that holds the maximum (the forward pass's choice). Where windows overlap, an input's
// gradients are added in output order (row by row).
//
// Features are channel-last, so each window is searched for all channels at once: the running
// maximum and its position are kept per channel in two arrays of equal width (float and 32-bit
// index), which the compiler turns into vector compares and blends. Each image's gradient is
// zeroed by the task that fills it, so the zeroing runs in parallel and in cache.

#include <prunedef/core/error.hpp>
#include <prunedef/core/parallel.hpp>
#include <prunedef/core/tensor.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace prunedef {

inline void maxpool2d_backward(const Tensor& in, std::size_t pool, std::size_t stride, const Tensor& dout, Tensor& din) {
    if (in.image_size() > std::numeric_limits<std::uint32_t>::max())
        throw shape_error("maxpool2d_backward: an image of more than 2^32 values");
    din.resize(in.batch(), in.shape());
    const std::size_t C = in.channels(), W = in.width(), size = in.image_size();
    const ImageShape os = dout.shape();
    detail::parallel_for(static_cast<std::ptrdiff_t>(in.batch()), [&](std::ptrdiff_t task) {
        const std::size_t n = static_cast<std::size_t>(task);
        const float* x = in.image(n);
        const float* d = dout.image(n);
        float* dx = din.image(n);
        std::fill(dx, dx + size, 0.0f);
        std::vector<float> best_value(C);
        std::vector<std::uint32_t> best_index(C);
        float* bv = best_value.data();
        std::uint32_t* bi = best_index.data();
        for (std::size_t y = 0; y < os.height; ++y)
            for (std::size_t xo = 0; xo < os.width; ++xo) {
                const std::size_t first = (y * stride * W + xo * stride) * C;
                for (std::size_t c = 0; c < C; ++c) {
                    bv[c] = x[first + c];
                    bi[c] = static_cast<std::uint32_t>(first + c);
                }
                for (std::size_t py = 0; py < pool; ++py)
                    for (std::size_t px = 0; px < pool; ++px) {
                        if (py == 0 && px == 0) continue;
                        const std::size_t base = ((y * stride + py) * W + xo * stride + px) * C;
                        const float* xs = x + base;
                        const auto base32 = static_cast<std::uint32_t>(base);
                        for (std::size_t c = 0; c < C; ++c) {
                            const bool greater = xs[c] > bv[c];  // strictly: the first maximum stays
                            bv[c] = greater ? xs[c] : bv[c];
                            bi[c] = greater ? base32 + static_cast<std::uint32_t>(c) : bi[c];
                        }
                    }
                const float* dd = d + (y * os.width + xo) * C;
                for (std::size_t c = 0; c < C; ++c) dx[bi[c]] += dd[c];
            }
    });
}

}  // namespace prunedef
