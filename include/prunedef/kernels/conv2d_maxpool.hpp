#pragma once
// A convolution followed by a max pooling (pool p, stride s), fused: the convolution rows that
// one pooled row needs are computed into a small per-thread buffer that stays in L1, and pooled
// from there, so the full-size convolution output is never written to memory. Uses the
// micro-kernels of conv2d.hpp; every value equals conv2d followed by maxpool2d exactly.

#include <prunedef/core/parallel.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/kernels/conv2d.hpp>
#include <prunedef/kernels/maxpool2d.hpp>

#include <algorithm>
#include <limits>
#include <vector>

namespace prunedef {

/// out = maxpool(Activation(conv2d(in, kernel) + bias), pool, stride).
template <class Activation>
void conv2d_maxpool(const Tensor& in, const detail::ConvGeometry& g, const float* kernel, const float* bias,
                    std::size_t pool, std::size_t stride, Tensor& out) {
    const ImageShape conv_shape = g.output_shape(in.shape());
    const ImageShape os = detail::maxpool_output_shape(conv_shape, pool, stride);
    out.resize(in.batch(), os);
    if (in.batch() == 0 || os.height == 0 || os.width == 0) return;
    thread_local detail::PackedKernel packed;
    detail::pack_kernel(g, kernel, bias, packed);
    const detail::PackedKernel& p = packed;
    const std::size_t C = g.out_channels, conv_row = conv_shape.width * C;
    const std::size_t rows = std::max<std::size_t>(1, detail::conv_rows_per_block(conv_shape.width, in.batch()) / stride);
    const std::size_t blocks = (os.height + rows - 1) / rows;
    detail::parallel_for(static_cast<std::ptrdiff_t>(in.batch() * blocks), [&](std::ptrdiff_t task) {
        const std::size_t n = static_cast<std::size_t>(task) / blocks, b = static_cast<std::size_t>(task) % blocks;
        const std::size_t r0 = b * rows, r1 = std::min(os.height, r0 + rows);
        thread_local std::vector<float> window;  // the pool rows of the convolution output
        window.resize(pool * conv_row);
        const float* image = in.image(n);
        float* dst = out.image(n);
        for (std::size_t py = r0; py < r1; ++py) {
            for (std::size_t r = 0; r < pool; ++r) {
                const std::size_t oy = py * stride + r;
                if (p.packets <= detail::max_packets)
                    detail::conv_rows_dispatch<Activation>(p.packets, image, in.shape(), g, p.weights.data(),
                                                           p.bias.data(), window.data() + r * conv_row, oy, oy + 1);
                else
                    detail::conv_rows_reference<Activation>(image, in.shape(), g, kernel, bias,
                                                            window.data() + r * conv_row, oy, oy + 1);
            }
            for (std::size_t px = 0; px < os.width; ++px) {
                float* o = dst + (py * os.width + px) * C;
                std::fill(o, o + C, -std::numeric_limits<float>::infinity());
                for (std::size_t r = 0; r < pool; ++r)
                    for (std::size_t q = 0; q < pool; ++q) {
                        const float* v = window.data() + r * conv_row + (px * stride + q) * C;
                        for (std::size_t c = 0; c < C; ++c) o[c] = std::max(o[c], v[c]);
                    }
            }
        }
    });
}

}  // namespace prunedef
