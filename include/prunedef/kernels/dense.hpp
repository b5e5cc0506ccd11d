#pragma once
// Dense (fully connected): out = Activation(in * weights + bias), weights (in x out) row-major,
// one image per row. Element-wise activations are fused into the micro-kernel's stores;
// Dense<Softmax> runs the linear layer, then a softmax over each image's outputs.
//
// Runs on the convolution micro-kernel (kernels/conv_tile.hpp) as a 1x1 convolution whose
// "pixels" are images: a tile of MR images by NV packets of output columns, the weights read
// in place (row j of the kernel is the patch row j; no packing, no copy), the last out % P
// columns from a small zero-padded panel (DenseTail, kept by the Dense layer between calls). Every output is accumulated over the inputs in index
// order, so the split into tiles and tasks changes no value; tasks (blocks of images by blocks of
// columns) depend only on the sizes, never on the thread count.

#include <prunedef/core/parallel.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/kernels/conv_tile.hpp>
#include <prunedef/kernels/elementwise.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <type_traits>
#include <vector>

namespace prunedef {
namespace detail {

/// Output-column packets per dense tile for a batch of n images: the widest group whose tile
/// still holds min(n, 12) images, at most half the registers, then evened out over the columns
/// (160 columns at batch 1 on AVX-512 are 5 + 5 packets, not 8 + 2).
inline int dense_tile_packets(std::size_t n, std::size_t full_packets) {
    if (full_packets == 0) return 1;
    const int wanted_images = static_cast<int>(std::min<std::size_t>(n, 12));
    int nv = 1;
    for (int c = std::min(max_packets, (vector_registers - 1) / 2); c >= 1; --c)
        if (tile_pixels(c) >= wanted_images) {
            nv = c;
            break;
        }
    const std::size_t blocks = (full_packets + std::size_t(nv) - 1) / std::size_t(nv);
    return static_cast<int>((full_packets + blocks - 1) / blocks);
}

/// The last out % P columns of the weights and bias, zero-padded to one packet.
struct DenseTail {
    std::vector<float, Eigen::aligned_allocator<float>> weights, bias;
};

/// Fills tail from (in_features x out_features) weights and the bias (empty when out % P is 0).
inline void pack_dense_tail(const float* weights, const float* bias, std::size_t in_features,
                            std::size_t out_features, DenseTail& tail) {
    const std::size_t k = in_features, N = out_features, full = N / packet_size, rest = N % packet_size;
    tail.weights.assign(rest ? k * packet_size : 0, 0.0f);
    tail.bias.assign(rest ? packet_size : 0, 0.0f);
    if (!rest) return;
    for (std::size_t j = 0; j < k; ++j)
        std::copy(weights + j * N + full * packet_size, weights + j * N + N, tail.weights.data() + j * packet_size);
    std::copy(bias + full * packet_size, bias + N, tail.bias.data());
}

template <class Activation, int NV = 1>
void dense_tile_dispatch(int nv, int images, const float* x, std::size_t k, const ChannelGroup& c, float* out) {
    if constexpr (NV <= max_packets) {
        if (nv == NV)
            return conv_tile_of_width<NV, tile_pixels(NV), Activation>(images, x, k, 0, 1, k, c, out);
        return dense_tile_dispatch<Activation, NV + 1>(nv, images, x, k, c, out);
    }
}

/// dense() for an element-wise activation, fused into the micro-kernel's stores, with the last
/// columns already padded (tail, made by detail::pack_dense_tail from these weights).
template <class Activation>
void dense_elementwise(const Tensor& in, const float* weights, const float* bias, std::size_t out_features,
                       const DenseTail& tail, Tensor& out) {
    static_assert(activation_traits<Activation>::elementwise,
                  "dense: the activation is neither Softmax nor element-wise (a type with static float apply(float))");
    const std::size_t n = in.batch(), k = in.image_size(), N = out_features;
    out.resize(n, {1, 1, N});
    if (n == 0 || N == 0) return;
    const std::size_t full = N / packet_size, rest = N % packet_size;
    const float* tail_w = tail.weights.data();
    const float* tail_b = tail.bias.data();
    const int nv = dense_tile_packets(n, full);
    const std::size_t images_per_tile = std::size_t(tile_pixels(nv));
    const std::size_t full_blocks = (full + std::size_t(nv) - 1) / std::size_t(nv);
    const std::size_t col_blocks = full_blocks + (rest ? 1 : 0);
    const std::size_t image_blocks = (n + images_per_tile - 1) / images_per_tile;
    parallel_for_work(static_cast<std::ptrdiff_t>(image_blocks * col_blocks), n * k * N, [&](std::ptrdiff_t task) {
        const std::size_t ib = static_cast<std::size_t>(task) / col_blocks, cb = static_cast<std::size_t>(task) % col_blocks;
        const std::size_t n0 = ib * images_per_tile;
        const int images = static_cast<int>(std::min(images_per_tile, n - n0));
        const float* x = in.image(n0);
        if (cb < full_blocks) {
            const std::size_t p0 = cb * std::size_t(nv), packets = std::min<std::size_t>(nv, full - p0);
            const std::size_t c0 = p0 * packet_size;
            const ChannelGroup c{weights + c0, N, bias + c0, out.image(n0) + c0, N, packets * packet_size};
            dense_tile_dispatch<Activation>(static_cast<int>(packets), images, x, k, c, out.image(n0) + c0);
        } else {
            const std::size_t c0 = full * packet_size;
            const ChannelGroup c{tail_w, std::size_t(packet_size), tail_b, out.image(n0) + c0, N, rest};
            dense_tile_dispatch<Activation>(1, images, x, k, c, out.image(n0) + c0);
        }
    });
}

}  // namespace detail

/// out = Activation(in * weights + bias) with the last columns already padded (tail, made by
/// detail::pack_dense_tail from these weights); Softmax is over each image's out_features outputs.
template <class Activation>
void dense(const Tensor& in, const float* weights, const float* bias, std::size_t out_features,
           const detail::DenseTail& tail, Tensor& out) {
    if constexpr (std::is_same_v<Activation, Softmax>) {
        detail::dense_elementwise<Linear>(in, weights, bias, out_features, tail, out);
        detail::softmax_rows(out.data(), out.batch(), out_features);
    } else {
        detail::dense_elementwise<Activation>(in, weights, bias, out_features, tail, out);
    }
}

/// out = Activation(in * weights + bias), padding the last columns on every call into memory of
/// its own (the Dense layer keeps them padded).
template <class Activation>
void dense(const Tensor& in, const float* weights, const float* bias, std::size_t out_features, Tensor& out) {
    detail::DenseTail tail;
    detail::pack_dense_tail(weights, bias, in.image_size(), out_features, tail);
    dense<Activation>(in, weights, bias, out_features, tail, out);
}

}  // namespace prunedef
