#pragma once
// The convolution core: valid padding, stride 1, NHWC, bias and activation fused.
//
// Direct convolution with a register-blocked micro-kernel, no im2col copy: in NHWC, one kernel
// row (kw taps x cin channels) of an output pixel's receptive field is kw*cin contiguous input
// values, so a tile of MR neighbouring output pixels reads MR input runs that are cin values
// apart. The kernel is packed once per call into rows of SIMD packets (cout rounded up to the
// packet size, zero-padded); the micro-kernel takes a group of NV packets and MR pixels, keeps
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

#include <Eigen/Core>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

namespace prunedef {

namespace detail {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Geometry of a valid, stride-1 convolution.
struct ConvGeometry {
    std::size_t kernel_h, kernel_w, in_channels, out_channels;
    std::size_t patch_size() const { return kernel_h * kernel_w * in_channels; }
    ImageShape output_shape(const ImageShape& in) const {
        return {in.height - kernel_h + 1, in.width - kernel_w + 1, out_channels};
    }
};

using Packet = Eigen::internal::packet_traits<float>::type;
constexpr int packet_size = Eigen::internal::packet_traits<float>::size;
#if defined(EIGEN_VECTORIZE_AVX512)
constexpr int vector_registers = 32;
#else
constexpr int vector_registers = 16;
#endif

/// Pixels per micro-kernel tile for nv packets of output channels: as many accumulators as fit
/// in the registers beside the nv weight packets and one broadcast.
constexpr int tile_pixels(int nv) {
    const int mr = (vector_registers - nv - 1) / nv;
    return mr < 1 ? 1 : (mr > 12 ? 12 : mr);
}

/// A row of out_w pixels is cut into the fewest tiles of at most max_tile pixels, of equal width
/// give or take one: a 44-pixel row with 12-pixel tiles runs as 11+11+11+11, not 12+12+12 and
/// eight one-pixel tiles (which have too few independent accumulators to hide the multiply-add
/// latency and ran conv_1 at half speed). Returns the number of tiles.
inline std::size_t row_tiles(std::size_t out_w, int max_tile) {
    return (out_w + std::size_t(max_tile) - 1) / std::size_t(max_tile);
}

template <class Activation>
inline Packet activate_packet(const Packet& x) {
    if constexpr (std::is_same_v<Activation, Relu>) return Eigen::internal::pmax(x, Eigen::internal::pset1<Packet>(0.0f));
    else return x;
}

/// One tile: MR output pixels in a row (input runs `step` floats apart), NV packets of channels
/// whose weights start at `weights`, one patch row every `weight_row` floats. Output pixels are
/// `out_stride` floats apart; the first `store_channels` of the NV packets' values are stored.
template <int NV, int MR, class Activation>
inline void conv_tile(const float* input, std::size_t step, std::size_t row_stride, std::size_t kernel_h,
                      std::size_t segment, const float* weights, std::size_t weight_row, const float* bias,
                      float* out, std::size_t out_stride, std::size_t store_channels) {
    using namespace Eigen::internal;
    Packet acc[MR][NV];
    for (int m = 0; m < MR; ++m)
        for (int v = 0; v < NV; ++v) acc[m][v] = pset1<Packet>(0.0f);
    for (std::size_t ky = 0; ky < kernel_h; ++ky) {
        const float* in_row = input + ky * row_stride;
        const float* w_row = weights + ky * segment * weight_row;
        for (std::size_t j = 0; j < segment; ++j) {
            Packet w[NV];
            for (int v = 0; v < NV; ++v) w[v] = pload<Packet>(w_row + j * weight_row + v * packet_size);
            for (int m = 0; m < MR; ++m) {
                const Packet x = pset1<Packet>(in_row[m * step + j]);
                for (int v = 0; v < NV; ++v) acc[m][v] = pmadd(x, w[v], acc[m][v]);
            }
        }
    }
    const std::size_t full = store_channels / packet_size, rest = store_channels % packet_size;
    for (int m = 0; m < MR; ++m) {
        float* o = out + std::size_t(m) * out_stride;
        for (int v = 0; v < NV; ++v) {
            const Packet r = activate_packet<Activation>(padd(acc[m][v], pload<Packet>(bias + v * packet_size)));
            if (std::size_t(v) < full) {
                pstoreu(o + v * packet_size, r);
            } else if (std::size_t(v) == full && rest) {
                alignas(64) float tail[packet_size];
                pstore(tail, r);
                std::memcpy(o + v * packet_size, tail, rest * sizeof(float));
            }
        }
    }
}

/// Where one channel group's weights are and where its outputs go.
struct ChannelGroup {
    const float* weights;        // patch row 0 of the group's first packet
    std::size_t weight_row;      // floats from one patch row to the next
    const float* bias;           // the group's first packet of bias
    float* out;                  // the group's first channel of output pixel 0 of the first row
    std::size_t out_stride;      // floats from one output pixel to the next
    std::size_t store_channels;  // how many of the group's channels are stored
};

/// A tile of `pixels` (1..MR) output pixels: the run-time tile width picks its instantiation.
template <int NV, int MR, class Activation>
inline void conv_tile_of_width(int pixels, const float* input, std::size_t step, std::size_t row_stride,
                               std::size_t kernel_h, std::size_t segment, const ChannelGroup& c, float* out) {
    if constexpr (MR > 1) {
        if (pixels < MR)
            return conv_tile_of_width<NV, MR - 1, Activation>(pixels, input, step, row_stride, kernel_h, segment, c,
                                                              out);
    }
    conv_tile<NV, MR, Activation>(input, step, row_stride, kernel_h, segment, c.weights, c.weight_row, c.bias, out,
                                  c.out_stride, c.store_channels);
}

/// Output rows [row_begin, row_end) of one image for one group of NV packets of output channels,
/// written from c.out on (the first of these rows), in equal-width tiles (row_tiles).
template <int NV, class Activation>
void conv_rows(const float* image, const ImageShape& in, const ConvGeometry& g, const ChannelGroup& c,
               std::size_t row_begin, std::size_t row_end) {
    constexpr int MR = tile_pixels(NV);
    const std::size_t out_w = in.width - g.kernel_w + 1, C = in.channels, segment = g.kernel_w * C;
    const std::size_t row_stride = in.width * C;
    const std::size_t tiles = row_tiles(out_w, MR), narrow = out_w / tiles, wide = out_w % tiles;
    for (std::size_t oy = row_begin; oy < row_end; ++oy) {
        const float* in_row = image + oy * row_stride;
        float* out_row = c.out + (oy - row_begin) * out_w * c.out_stride;
        std::size_t ox = 0;
        for (std::size_t t = 0; t < tiles; ++t) {
            const std::size_t width = narrow + (t < wide ? 1 : 0);
            conv_tile_of_width<NV, MR, Activation>(static_cast<int>(width), in_row + ox * C, C, row_stride, g.kernel_h,
                                                   segment, c, out_row + ox * c.out_stride);
            ox += width;
        }
    }
}

/// Largest number of output-channel packets the micro-kernels are instantiated for.
constexpr int max_packets = 128 / packet_size;

template <class Activation, int NV = 1>
void conv_rows_dispatch(int packets, const float* image, const ImageShape& in, const ConvGeometry& g,
                        const ChannelGroup& c, std::size_t r0, std::size_t r1) {
    if constexpr (NV <= max_packets) {
        if (packets == NV) return conv_rows<NV, Activation>(image, in, g, c, r0, r1);
        return conv_rows_dispatch<Activation, NV + 1>(packets, image, in, g, c, r0, r1);
    }
}

/// The kernel as (kh*kw*cin) rows of `packets` packets, zero-padded, and the bias likewise; the
/// micro-kernel runs over groups of `group_packets` packets at a time.
struct PackedKernel {
    std::vector<float, Eigen::aligned_allocator<float>> weights, bias;
    int packets = 0, group_packets = 0;
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

/// Packs the kernel for output rows of out_w pixels.
inline void pack_kernel(const ConvGeometry& g, const float* kernel, const float* bias, std::size_t out_w,
                        PackedKernel& p) {
    p.packets = static_cast<int>((g.out_channels + packet_size - 1) / packet_size);
    const std::size_t width = std::size_t(p.packets) * packet_size, rows = g.patch_size(), cout = g.out_channels;
    p.group_packets = packets_per_group(p.packets, rows, out_w);
    // Each value is written once (a resize keeps the storage of earlier calls; no fill first).
    p.weights.resize(rows * width);
    p.bias.resize(width);
    const auto copy_padded = [&](float* dst, const float* src) {
        std::memcpy(dst, src, cout * sizeof(float));
        std::fill(dst + cout, dst + width, 0.0f);
    };
    for (std::size_t r = 0; r < rows; ++r) copy_padded(p.weights.data() + r * width, kernel + r * cout);
    copy_padded(p.bias.data(), bias);
}

/// Output rows [r0, r1) of one image, all channels, group by group, written from out_rows on
/// with output pixels out_stride floats apart. With pad_channels every packet is stored whole
/// (out_stride is then p.packets whole packets: a padded scratch buffer), else only the
/// g.out_channels real channels.
template <class Activation>
void conv_rows_packed(const PackedKernel& p, const float* image, const ImageShape& in, const ConvGeometry& g,
                      float* out_rows, std::size_t out_stride, bool pad_channels, std::size_t r0, std::size_t r1) {
    const std::size_t width = std::size_t(p.packets) * packet_size;
    for (int v0 = 0; v0 < p.packets; v0 += p.group_packets) {
        const int nv = std::min(p.group_packets, p.packets - v0);
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
                o[c] = std::is_same_v<Activation, Relu> ? std::max(v, 0.0f) : v;
            }
        }
}

}  // namespace detail

/// out = Activation(conv2d(in, kernel) + bias); kernel is (kh, kw, cin, cout) row-major.
/// The caller guarantees in.channels() == cin and that the kernel fits the image.
template <class Activation>
void conv2d(const Tensor& in, const detail::ConvGeometry& g, const float* kernel, const float* bias, Tensor& out) {
    const ImageShape out_shape = g.output_shape(in.shape());
    out.resize(in.batch(), out_shape);
    if (in.batch() == 0) return;
    thread_local detail::PackedKernel packed;
    detail::pack_kernel(g, kernel, bias, out_shape.width, packed);
    const detail::PackedKernel& p = packed;
    const std::size_t rows = detail::conv_rows_per_block(out_shape.width, out_shape.height, in.batch());
    const std::size_t blocks = (out_shape.height + rows - 1) / rows;
    const std::ptrdiff_t tasks = static_cast<std::ptrdiff_t>(in.batch() * blocks);
    detail::parallel_for(tasks, [&](std::ptrdiff_t task) {
        const std::size_t n = static_cast<std::size_t>(task) / blocks, b = static_cast<std::size_t>(task) % blocks;
        const std::size_t r0 = b * rows, r1 = std::min(out_shape.height, r0 + rows);
        float* rows_out = out.image(n) + r0 * out_shape.width * out_shape.channels;
        if (p.packets <= detail::max_packets)
            detail::conv_rows_packed<Activation>(p, in.image(n), in.shape(), g, rows_out, out_shape.channels, false,
                                                 r0, r1);
        else
            detail::conv_rows_reference<Activation>(in.image(n), in.shape(), g, kernel, bias, rows_out, r0, r1);
    });
}

}  // namespace prunedef
