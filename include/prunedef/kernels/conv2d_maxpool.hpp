#pragma once
// A convolution followed by a max pooling (pool p, stride s), fused: the convolution rows that
// one pooled row needs are computed into a small per-thread buffer (a slot of the caller's
// scratch, core/workspace.hpp) that stays in L1, and pooled
// from there, so the full-size convolution output is never written to memory. Uses the
// micro-kernels of conv2d.hpp; every value equals conv2d followed by maxpool2d exactly.

#include <prunedef/core/parallel.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/core/workspace.hpp>
#include <prunedef/kernels/conv2d.hpp>
#include <prunedef/kernels/maxpool2d.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

namespace prunedef {

namespace detail {

/// Max over a pool x pool window of a convolution-row buffer whose pixels are `pixel_in`
/// floats apart (a whole number of packets), stored as the first `channels` values at `out`.
inline void pool_window_packets(const float* window, std::size_t row, std::size_t pixel_in, std::size_t pool,
                                std::size_t channels, float* out) {
    using namespace Eigen::internal;
    for (std::size_t c = 0; c < channels; c += packet_size) {
        Packet m = pload<Packet>(window + c);
        for (std::size_t r = 0; r < pool; ++r)
            for (std::size_t q = r == 0 ? 1 : 0; q < pool; ++q)
                m = pmax(m, pload<Packet>(window + r * row + q * pixel_in + c));
        if (c + packet_size <= channels) {
            pstoreu(out + c, m);
        } else {
            alignas(64) float tail[packet_size];
            pstore(tail, m);
            std::memcpy(out + c, tail, (channels - c) * sizeof(float));
        }
    }
}

/// Scalar form for convolutions too wide for the micro-kernels (pixels `channels` apart).
inline void pool_window_scalar(const float* window, std::size_t row, std::size_t pool, std::size_t channels,
                               float* out) {
    std::fill(out, out + channels, -std::numeric_limits<float>::infinity());
    for (std::size_t r = 0; r < pool; ++r)
        for (std::size_t q = 0; q < pool; ++q) {
            const float* v = window + r * row + q * channels;
            for (std::size_t c = 0; c < channels; ++c) out[c] = std::max(out[c], v[c]);
        }
}

}  // namespace detail

/// out = maxpool(Activation(conv2d(in, kernel) + bias), pool, stride), the kernel already packed
/// (p, by detail::pack_kernel for this geometry); `scratch` holds the per-thread convolution rows
/// (it grows on first use and is reused after).
template <class Activation>
void conv2d_maxpool(const Tensor& in, const detail::ConvGeometry& g, const detail::PackedKernel& p,
                    const float* kernel, const float* bias, std::size_t pool, std::size_t stride, Tensor& out,
                    detail::AlignedFloats& scratch) {
    // The activation is applied to every convolution value before the pooling, so any
    // element-wise activation is exact here, monotone or not.
    static_assert(detail::check_kernel_activation<Activation>());
    const ImageShape conv_shape = g.output_shape(in.shape());
    const ImageShape os = detail::maxpool_output_shape(conv_shape, pool, stride);
    out.resize(in.batch(), os);
    if (in.batch() == 0 || os.height == 0 || os.width == 0) return;
    const bool vectorised = p.packets <= detail::max_packets;
    // In the scratch rows a pixel takes whole packets (padded channels), so that the micro-kernel
    // stores and the pooling loads are whole aligned packets.
    const std::size_t C = g.out_channels, pixel = vectorised ? std::size_t(p.packets) * detail::packet_size : C;
    const std::size_t conv_row = conv_shape.width * pixel;
    const std::size_t rows =
        std::max<std::size_t>(1, detail::conv_rows_per_block(conv_shape.width, conv_shape.height, in.batch()) / stride);
    const std::size_t blocks = (os.height + rows - 1) / rows;
    const std::size_t work = in.batch() * conv_shape.size() * g.patch_size();
    const int group_packets = detail::packets_per_group(p.packets, g.patch_size(), conv_shape.width);
    const detail::PerThreadScratch windows(scratch, pool * conv_row);  // pool rows of the conv output
    detail::parallel_for_work(static_cast<std::ptrdiff_t>(in.batch() * blocks), work, [&](std::ptrdiff_t task) {
        const std::size_t n = static_cast<std::size_t>(task) / blocks, b = static_cast<std::size_t>(task) % blocks;
        const std::size_t r0 = b * rows, r1 = std::min(os.height, r0 + rows);
        float* const window = windows.mine();
        const float* image = in.image(n);
        float* dst = out.image(n);
        for (std::size_t py = r0; py < r1; ++py) {
            for (std::size_t r = 0; r < pool; ++r) {
                const std::size_t oy = py * stride + r;
                if (vectorised)
                    detail::conv_rows_packed<Activation>(p, group_packets, image, in.shape(), g,
                                                         window + r * conv_row, pixel, true, oy, oy + 1);
                else
                    detail::conv_rows_reference<Activation>(image, in.shape(), g, kernel, bias,
                                                            window + r * conv_row, oy, oy + 1);
            }
            for (std::size_t px = 0; px < os.width; ++px) {
                const float* w = window + px * stride * pixel;
                float* o = dst + (py * os.width + px) * C;
                if (vectorised)
                    detail::pool_window_packets(w, conv_row, pixel, pool, C, o);
                else
                    detail::pool_window_scalar(w, conv_row, pool, C, o);
            }
        }
    });
}

/// out = maxpool(Activation(conv2d(in, kernel) + bias), pool, stride), packing the kernel on every
/// call into memory of its own (layers keep theirs packed and take scratch from a Workspace).
template <class Activation>
void conv2d_maxpool(const Tensor& in, const detail::ConvGeometry& g, const float* kernel, const float* bias,
                    std::size_t pool, std::size_t stride, Tensor& out) {
    detail::PackedKernel packed;
    detail::AlignedFloats scratch;
    detail::pack_kernel(g, kernel, bias, packed);
    conv2d_maxpool<Activation>(in, g, packed, kernel, bias, pool, stride, out, scratch);
}

}  // namespace prunedef
