#pragma once
// The convolution micro-kernel: a tile of MR neighbouring output pixels of one row by a group of
// NV SIMD packets of output channels, MR x NV accumulators in registers, valid padding, stride 1,
// NHWC. In NHWC one kernel row (kw taps x cin channels) of an output pixel's receptive field is
// kw*cin contiguous input values, so the MR pixels read MR input runs cin values apart; for each
// of the kh*kw*cin inputs the kernel broadcasts one value per pixel and issues MR*NV fused
// multiply-adds, then adds the bias, applies the activation and stores the tile. Every output
// value is accumulated in the same order (ky, kx, ci) whatever the tile or group it is in.
// Drivers (packing, rows, threads) are in conv2d.hpp; dense.hpp runs dense layers on it too.

#include <prunedef/core/activation.hpp>
#include <prunedef/core/tensor.hpp>

#include <Eigen/Core>

#include <cstddef>
#include <cstring>
#include <type_traits>

#if defined(__clang__)
#define PRUNEDEF_UNROLL_16 _Pragma("unroll 16")
#elif defined(__GNUC__)
#define PRUNEDEF_UNROLL_16 _Pragma("GCC unroll 16")
#else
#define PRUNEDEF_UNROLL_16
#endif

namespace prunedef {
namespace detail {

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

/// Calls tile(first, width) for each of those row_tiles(count, max_tile) tiles, in order.
template <class Tile>
inline void for_each_equal_tile(std::size_t count, int max_tile, Tile&& tile) {
    if (count == 0) return;
    const std::size_t tiles = row_tiles(count, max_tile), narrow = count / tiles, wide = count % tiles;
    std::size_t first = 0;
    for (std::size_t t = 0; t < tiles; ++t) {
        const std::size_t width = narrow + (t < wide ? 1 : 0);
        tile(first, width);
        first += width;
    }
}

/// Refuses at compile time an activation the convolution micro-kernels cannot apply (Softmax,
/// or a type without an element-wise apply). Used by every kernel entry point built on them.
template <class Activation>
constexpr bool check_kernel_activation() {
    static_assert(!std::is_same_v<Activation, Softmax>,
                  "Conv2D<Softmax> is not supported: softmax normalises over the last axis, so it is valid only as "
                  "the output activation of a Dense layer (Dense<Softmax>) or as an Activation<Softmax> layer");
    static_assert(std::is_same_v<Activation, Softmax> || activation_traits<Activation>::elementwise,
                  "the convolution kernels apply only element-wise activations (a type with static float "
                  "apply(float) and without elementwise = false)");
    return true;
}

/// The activation on a packet: ReLU and Linear inline, others through their apply_packet, or
/// lane by lane through apply for user-defined activations without one.
template <class Activation>
inline Packet activate_packet(const Packet& x) {
    static_assert(check_kernel_activation<Activation>());
    if constexpr (std::is_same_v<Activation, Relu>) return Eigen::internal::pmax(x, Eigen::internal::pset1<Packet>(0.0f));
    else if constexpr (std::is_same_v<Activation, Linear>) return x;
    else if constexpr (has_packet_apply<Activation, Packet>()) return Activation::apply_packet(x);
    else {
        alignas(64) float lanes[packet_size];
        Eigen::internal::pstore(lanes, x);
        for (float& v : lanes) v = Activation::apply(v);
        return Eigen::internal::pload<Packet>(lanes);
    }
}

/// One tile: MR output pixels in a row (input runs `step` floats apart), NV packets of channels
/// whose weights start at `weights`, one patch row every `weight_row` floats (no alignment
/// needed: dense layers pass their kernel as it is). Output pixels are
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
            for (int v = 0; v < NV; ++v) w[v] = ploadu<Packet>(w_row + j * weight_row + v * packet_size);
            PRUNEDEF_UNROLL_16  // fully unrolled: the accumulators stay in registers
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
            const Packet r = activate_packet<Activation>(padd(acc[m][v], ploadu<Packet>(bias + v * packet_size)));
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
    for (std::size_t oy = row_begin; oy < row_end; ++oy) {
        const float* in_row = image + oy * row_stride;
        float* out_row = c.out + (oy - row_begin) * out_w * c.out_stride;
        for_each_equal_tile(out_w, MR, [&](std::size_t ox, std::size_t width) {
            conv_tile_of_width<NV, MR, Activation>(static_cast<int>(width), in_row + ox * C, C, row_stride, g.kernel_h,
                                                   segment, c, out_row + ox * c.out_stride);
        });
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

}  // namespace detail
}  // namespace prunedef
