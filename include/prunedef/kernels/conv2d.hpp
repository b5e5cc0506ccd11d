#pragma once
// The convolution core: valid padding, stride 1, NHWC, bias and activation fused.
//
// Direct convolution with a register-blocked micro-kernel, no im2col copy: in NHWC, one kernel
// row (kw taps x cin channels) of an output pixel's receptive field is kw*cin contiguous input
// values, so a tile of MR neighbouring output pixels reads MR input runs that are cin values
// apart. The kernel is packed into rows of SIMD packets (cout rounded up to the packet size,
// zero-padded; once when a layer's weights change, see layers/conv2d.hpp); the micro-kernel takes a group of NV packets and MR pixels, keeps
// MR x NV accumulators in registers, and for each of the kh*kw*cin inputs broadcasts one value
// per pixel and issues MR*NV fused multiply-adds. Bias and activation are applied before the
// tile is stored. Rows are cut into tiles of equal width, and the channels into groups when the
// kernel does not fit the L1 cache (packets_per_group).
//
// The SIMD width is whatever Eigen's packet math has for the compiler flags (SSE, AVX, AVX-512),
// so no machine-specific flag is required; -march=native makes it faster. Every output value is
// accumulated in the same order (ky, kx, ci) whatever the tiling, and tasks (image, block of
// output rows) do not depend on the thread count: results are identical with any number of
// threads.

#include <prunedef/core/activation.hpp>
#include <prunedef/core/parallel.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/kernels/conv2d_shared_packet.hpp>
#include <prunedef/kernels/conv_tile.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

namespace prunedef {

namespace detail {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// The kernel as (kh*kw*cin) rows of `packets` packets, zero-padded, and the bias likewise. The
/// packed form does not depend on the input: the channel grouping for a row width is chosen per
/// call (packets_per_group). With shared_lanes > 0 (conv2d_shared_packet.hpp) the last packet
/// can be shared by several pixels (used when the channels run as one group) and
/// shared_weights / shared_bias hold its repeated remainder channels.
struct PackedKernel {
    std::vector<float, Eigen::aligned_allocator<float>> weights, bias, shared_weights, shared_bias;
    int packets = 0, shared_lanes = 0;
};

/// Packets per channel group. When the packed kernel is larger than the L1 data cache its
/// weights stream from L2 once per tile, so tiles must be wide: if a row's tiles would be
/// narrower than 8 pixels (e.g. DeepID conv_3: 60 channels = 4 AVX-512 packets give 6-pixel
/// tiles, so its 8-pixel rows run as 4+4), the channels are split into the fewest groups whose
/// tiles are that wide (2 + 2 packets, 8-pixel tiles). Values do not depend on the grouping.
inline int packets_per_group(int packets, std::size_t patch_rows, std::size_t out_w) {
    constexpr std::size_t l1_budget = 40 * 1024;
    if (patch_rows * std::size_t(packets) * packet_size * sizeof(float) <= l1_budget || out_w == 0) return packets;
    const std::size_t want = std::min<std::size_t>(8, out_w);
    for (int groups = 1; groups <= packets; ++groups) {
        const int nv = (packets + groups - 1) / groups;
        if (out_w / row_tiles(out_w, tile_pixels(nv)) >= want) return nv;
    }
    return 1;
}

/// Packs the kernel (for any input size).
inline void pack_kernel(const ConvGeometry& g, const float* kernel, const float* bias, PackedKernel& p) {
    p.packets = static_cast<int>((g.out_channels + packet_size - 1) / packet_size);
    const std::size_t width = std::size_t(p.packets) * packet_size, rows = g.patch_size(), cout = g.out_channels;
    // Each value is written once (a resize keeps the storage of earlier calls; no fill first).
    p.weights.resize(rows * width);
    p.bias.resize(width);
    const auto copy_padded = [&](float* dst, const float* src) {
        std::memcpy(dst, src, cout * sizeof(float));
        std::fill(dst + cout, dst + width, 0.0f);
    };
    for (std::size_t r = 0; r < rows; ++r) copy_padded(p.weights.data() + r * width, kernel + r * cout);
    copy_padded(p.bias.data(), bias);
    p.shared_lanes = shared_packet_lanes(cout, g.in_channels);
    if (p.shared_lanes) {
        const std::size_t first = cout - cout % packet_size, lanes = std::size_t(p.shared_lanes);
        const auto repeat = [&](float* dst, const float* src) {
            for (std::size_t l = 0; l < std::size_t(packet_size); ++l) dst[l] = src[first + l % lanes];
        };
        p.shared_weights.resize(rows * packet_size);
        p.shared_bias.resize(packet_size);
        for (std::size_t r = 0; r < rows; ++r) repeat(p.shared_weights.data() + r * packet_size, kernel + r * cout);
        repeat(p.shared_bias.data(), bias);
    }
}

/// Output rows [r0, r1) of one image, all channels, groups of group_packets packets
/// (packets_per_group for the row width) one after another, written from out_rows on with output
/// pixels out_stride floats apart. With pad_channels every packet is stored whole
/// (out_stride is then p.packets whole packets: a padded scratch buffer), else only the
/// g.out_channels real channels.
template <class Activation>
void conv_rows_packed(const PackedKernel& p, int group_packets, const float* image, const ImageShape& in,
                      const ConvGeometry& g, float* out_rows, std::size_t out_stride, bool pad_channels, std::size_t r0,
                      std::size_t r1) {
    const std::size_t width = std::size_t(p.packets) * packet_size;
    if (p.shared_lanes && group_packets == p.packets) {
        const ChannelGroup all{p.weights.data(), width, p.bias.data(), out_rows, out_stride,
                               pad_channels ? width : g.out_channels};
        return conv_rows_shared_dispatch<Activation>(p.shared_lanes, image, in, g, all,
                                                     {p.shared_weights.data(), p.shared_bias.data()}, r0, r1);
    }
    for (int v0 = 0; v0 < p.packets; v0 += group_packets) {
        const int nv = std::min(group_packets, p.packets - v0);
        const std::size_t first = std::size_t(v0) * packet_size, group = std::size_t(nv) * packet_size;
        const ChannelGroup c{p.weights.data() + first, width,      p.bias.data() + first, out_rows + first,
                             out_stride, pad_channels ? group : std::min(group, g.out_channels - first)};
        conv_rows_dispatch<Activation>(nv, image, in, g, c, r0, r1);
    }
}

/// Output rows per task: about 256 output pixels per task in large batches, at most 32 in small
/// ones so that a single image still splits across threads. (The split does not change any value:
/// each output is accumulated in the same order whatever the tiling.)
inline std::size_t conv_rows_per_block(std::size_t out_w, std::size_t out_h, std::size_t batch) {
    if (batch >= 8) return std::max<std::size_t>(1, 256 / std::max<std::size_t>(1, out_w));
    // Small batches: at least 4 tasks per image when it has 4 rows, so that two threads share
    // even a small layer (conv_4's 4x3 outputs) evenly.
    const std::size_t rows = std::min(32 / std::max<std::size_t>(1, out_w), (out_h + 3) / 4);
    return std::max<std::size_t>(1, rows);
}

/// Reference path for layers with more output channels than the micro-kernels cover: one
/// output pixel at a time, plain loops, same accumulation order.
template <class Activation>
void conv_rows_reference(const float* image, const ImageShape& in, const ConvGeometry& g, const float* kernel,
                         const float* bias, float* out_rows, std::size_t r0, std::size_t r1) {
    static_assert(check_kernel_activation<Activation>());
    const std::size_t out_w = in.width - g.kernel_w + 1, C = in.channels, segment = g.kernel_w * C, cout = g.out_channels;
    std::vector<float> acc(cout);
    for (std::size_t oy = r0; oy < r1; ++oy)
        for (std::size_t ox = 0; ox < out_w; ++ox) {
            std::fill(acc.begin(), acc.end(), 0.0f);
            for (std::size_t ky = 0; ky < g.kernel_h; ++ky) {
                const float* x = image + ((oy + ky) * in.width + ox) * C;
                const float* w = kernel + ky * segment * cout;
                for (std::size_t j = 0; j < segment; ++j)
                    for (std::size_t c = 0; c < cout; ++c) acc[c] += x[j] * w[j * cout + c];
            }
            float* o = out_rows + ((oy - r0) * out_w + ox) * cout;
            for (std::size_t c = 0; c < cout; ++c) {
                const float v = acc[c] + bias[c];
                o[c] = Activation::apply(v);  // Relu::apply is std::max(v, 0.0f), Linear's v
            }
        }
}

}  // namespace detail

/// out = Activation(conv2d(in, kernel) + bias) with the kernel already packed (p, made by
/// detail::pack_kernel for this geometry); kernel and bias are read only by the
/// plain path for layers wider than the micro-kernels.
template <class Activation>
void conv2d(const Tensor& in, const detail::ConvGeometry& g, const detail::PackedKernel& p, const float* kernel,
            const float* bias, Tensor& out) {
    static_assert(detail::check_kernel_activation<Activation>());
    const ImageShape out_shape = g.output_shape(in.shape());
    out.resize(in.batch(), out_shape);
    if (in.batch() == 0) return;
    const std::size_t rows = detail::conv_rows_per_block(out_shape.width, out_shape.height, in.batch());
    const std::size_t blocks = (out_shape.height + rows - 1) / rows;
    const std::ptrdiff_t tasks = static_cast<std::ptrdiff_t>(in.batch() * blocks);
    const int group_packets = detail::packets_per_group(p.packets, g.patch_size(), out_shape.width);
    const std::size_t work = in.batch() * out_shape.size() * g.patch_size();
    detail::parallel_for_work(tasks, work, [&](std::ptrdiff_t task) {
        const std::size_t n = static_cast<std::size_t>(task) / blocks, b = static_cast<std::size_t>(task) % blocks;
        const std::size_t r0 = b * rows, r1 = std::min(out_shape.height, r0 + rows);
        float* rows_out = out.image(n) + r0 * out_shape.width * out_shape.channels;
        if (p.packets <= detail::max_packets)
            detail::conv_rows_packed<Activation>(p, group_packets, in.image(n), in.shape(), g, rows_out,
                                                 out_shape.channels, false, r0, r1);
        else
            detail::conv_rows_reference<Activation>(in.image(n), in.shape(), g, kernel, bias, rows_out, r0, r1);
    });
}

/// out = Activation(conv2d(in, kernel) + bias); kernel is (kh, kw, cin, cout) row-major.
/// The caller guarantees in.channels() == cin and that the kernel fits the image. Packs the
/// kernel on every call, into memory of its own (layers keep theirs packed: Conv2D,
/// kernels/packed_kernel_cache.hpp).
template <class Activation>
void conv2d(const Tensor& in, const detail::ConvGeometry& g, const float* kernel, const float* bias, Tensor& out) {
    detail::PackedKernel packed;
    detail::pack_kernel(g, kernel, bias, packed);
    conv2d<Activation>(in, g, packed, kernel, bias, out);
}

}  // namespace prunedef
