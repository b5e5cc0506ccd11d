#pragma once
// Convolution rows for layers whose channel count is not a multiple of the SIMD width, where
// the last packet of every pixel would be mostly padding (DeepID conv_1: 20 channels are 16 + 4
// on AVX-512, so 12 of every 32 lanes multiply zeros). Here the R remainder channels of
// Q = packet_size / R neighbouring pixels share one packet: lane l holds channel F*P + l % R of
// pixel l / R (F full packets of P lanes before it). The shared packet's input (lane l = the
// input of pixel l / R) is one masked load of the Q pixels' inputs, which lie cin floats apart,
// and one lane permutation; its weights are the R remainder channels' weights repeated Q times.
// Conv_1 then issues 5 multiply-adds per 4 pixels and input instead of 8.
//
// AVX-512 only (masked loads and permutexvar); elsewhere shared_packet_lanes() is 0 and the
// plain micro-kernel runs. Every value equals the plain micro-kernel's bit for bit: the same
// fused multiply-adds in the same order, only in other lanes.

#include <prunedef/kernels/conv_tile.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(EIGEN_VECTORIZE_AVX512)
#include <immintrin.h>
#endif

namespace prunedef {
namespace detail {

/// Lanes per pixel of a shared last packet for a layer of these channel counts (4 or 8), or 0
/// when the layer runs on the plain micro-kernel: without AVX-512, or when the channels are not
/// one or two whole packets plus 4 or 8, or the Q pixels' inputs do not fit one packet.
inline int shared_packet_lanes(std::size_t out_channels, std::size_t in_channels) {
#if defined(EIGEN_VECTORIZE_AVX512)
    const std::size_t full = out_channels / packet_size, rest = out_channels % packet_size;
    if (full < 1 || full > 2 || (rest != 4 && rest != 8)) return 0;
    const std::size_t pixels = packet_size / rest;
    return (pixels - 1) * in_channels < std::size_t(packet_size) ? static_cast<int>(rest) : 0;
#else
    (void)out_channels;
    (void)in_channels;
    return 0;
#endif
}

/// The weights and bias of a shared last packet: each remainder channel's repeated Q times.
struct SharedPacket {
    const float* weights;  // patch rows of one packet each
    const float* bias;     // one packet
};

#if defined(EIGEN_VECTORIZE_AVX512)

/// Pixel groups per tile: accumulators for G*Q pixels x F packets plus G shared packets, beside
/// F + 1 weight packets, a broadcast, a shared input and the permutation index; at most 16 pixels.
template <int F, int R>
constexpr int shared_tile_groups() {
    constexpr int Q = packet_size / R;
    const int by_registers = (vector_registers - F - 4) / (Q * F + 1);
    const int by_pixels = 12 / Q;
    return std::max(1, std::min(by_registers, by_pixels));
}

/// A tile of G groups of Q pixels: F full packets per pixel, one shared packet per group.
template <int F, int G, int R, class Activation>
inline void conv_tile_shared(const float* input, std::size_t step, std::size_t row_stride, std::size_t kernel_h,
                             std::size_t segment, const ChannelGroup& c, const SharedPacket& s, float* out) {
    using namespace Eigen::internal;
    constexpr int Q = packet_size / R, MR = G * Q;
    Packet acc[MR][F], shared[G];
    PRUNEDEF_UNROLL_16
    for (int m = 0; m < MR; ++m)
        for (int v = 0; v < F; ++v) acc[m][v] = pset1<Packet>(0.0f);
    for (int q = 0; q < G; ++q) shared[q] = pset1<Packet>(0.0f);
    alignas(64) std::int32_t lane_offset[packet_size];
    for (int l = 0; l < packet_size; ++l) lane_offset[l] = static_cast<std::int32_t>((l / R) * step);
    const __m512i index = _mm512_load_si512(lane_offset);
    const __mmask16 loaded = static_cast<__mmask16>((1u << ((Q - 1) * step + 1)) - 1);
    for (std::size_t ky = 0; ky < kernel_h; ++ky) {
        const float* in_row = input + ky * row_stride;
        const float* w_row = c.weights + ky * segment * c.weight_row;
        const float* s_row = s.weights + ky * segment * packet_size;
        for (std::size_t j = 0; j < segment; ++j) {
            Packet w[F];
            for (int v = 0; v < F; ++v) w[v] = pload<Packet>(w_row + j * c.weight_row + v * packet_size);
            const Packet ws = pload<Packet>(s_row + j * packet_size);
            // Fully unrolled so that the accumulators stay in registers (GCC stops at 16 by default).
            PRUNEDEF_UNROLL_16
            for (int m = 0; m < MR; ++m) {
                const Packet x = pset1<Packet>(in_row[m * step + j]);
                for (int v = 0; v < F; ++v) acc[m][v] = pmadd(x, w[v], acc[m][v]);
            }
            PRUNEDEF_UNROLL_16
            for (int q = 0; q < G; ++q) {
                const Packet xs =
                    _mm512_permutexvar_ps(index, _mm512_maskz_loadu_ps(loaded, in_row + std::size_t(q) * Q * step + j));
                shared[q] = pmadd(xs, ws, shared[q]);
            }
        }
    }
    PRUNEDEF_UNROLL_16
    for (int m = 0; m < MR; ++m)
        for (int v = 0; v < F; ++v)
            pstoreu(out + std::size_t(m) * c.out_stride + v * packet_size,
                    activate_packet<Activation>(padd(acc[m][v], pload<Packet>(c.bias + v * packet_size))));
    PRUNEDEF_UNROLL_16
    for (int q = 0; q < G; ++q) {
        alignas(64) float lanes[packet_size];
        pstore(lanes, activate_packet<Activation>(padd(shared[q], pload<Packet>(s.bias))));
        for (int i = 0; i < Q; ++i)
            std::memcpy(out + std::size_t(q * Q + i) * c.out_stride + F * packet_size, lanes + i * R, R * sizeof(float));
    }
}

template <int F, int G, int R, class Activation>
inline void conv_tile_shared_of_groups(int groups, const float* input, std::size_t step, std::size_t row_stride,
                                       std::size_t kernel_h, std::size_t segment, const ChannelGroup& c,
                                       const SharedPacket& s, float* out) {
    if constexpr (G > 1) {
        if (groups < G)
            return conv_tile_shared_of_groups<F, G - 1, R, Activation>(groups, input, step, row_stride, kernel_h,
                                                                       segment, c, s, out);
    }
    conv_tile_shared<F, G, R, Activation>(input, step, row_stride, kernel_h, segment, c, s, out);
}

/// Output rows [row_begin, row_end) of one image: whole groups of Q pixels in tiles of about
/// equal width, then the last out_w % Q pixels on the plain micro-kernel (F + 1 packets).
template <int F, int R, class Activation>
void conv_rows_shared(const float* image, const ImageShape& in, const ConvGeometry& g, const ChannelGroup& c,
                      const SharedPacket& s, std::size_t row_begin, std::size_t row_end) {
    constexpr int Q = packet_size / R, GMAX = shared_tile_groups<F, R>();
    const std::size_t out_w = in.width - g.kernel_w + 1, C = in.channels, segment = g.kernel_w * C;
    const std::size_t row_stride = in.width * C, groups = out_w / Q, rest = out_w % Q, ox = groups * Q;
    for (std::size_t oy = row_begin; oy < row_end; ++oy) {
        const float* in_row = image + oy * row_stride;
        float* out_row = c.out + (oy - row_begin) * out_w * c.out_stride;
        for_each_equal_tile(groups, GMAX, [&](std::size_t first, std::size_t n) {
            const std::size_t x = first * Q;
            conv_tile_shared_of_groups<F, GMAX, R, Activation>(static_cast<int>(n), in_row + x * C, C, row_stride,
                                                               g.kernel_h, segment, c, s, out_row + x * c.out_stride);
        });
        if (rest)
            conv_tile_of_width<F + 1, Q - 1, Activation>(static_cast<int>(rest), in_row + ox * C, C, row_stride,
                                                         g.kernel_h, segment, c, out_row + ox * c.out_stride);
    }
}

/// conv_rows_shared for the run-time F (1 or 2 full packets) and R (4 or 8 lanes).
template <class Activation>
void conv_rows_shared_dispatch(int lanes, const float* image, const ImageShape& in, const ConvGeometry& g,
                               const ChannelGroup& c, const SharedPacket& s, std::size_t r0, std::size_t r1) {
    const int full = static_cast<int>(g.out_channels / packet_size);
    if (full == 1 && lanes == 4) return conv_rows_shared<1, 4, Activation>(image, in, g, c, s, r0, r1);
    if (full == 1 && lanes == 8) return conv_rows_shared<1, 8, Activation>(image, in, g, c, s, r0, r1);
    if (full == 2 && lanes == 4) return conv_rows_shared<2, 4, Activation>(image, in, g, c, s, r0, r1);
    if (full == 2 && lanes == 8) return conv_rows_shared<2, 8, Activation>(image, in, g, c, s, r0, r1);
}

#else

template <class Activation>
void conv_rows_shared_dispatch(int, const float*, const ImageShape&, const ConvGeometry&, const ChannelGroup&,
                               const SharedPacket&, std::size_t, std::size_t) {}

#endif

}  // namespace detail
}  // namespace prunedef
