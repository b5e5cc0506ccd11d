#pragma once
// Convolution with any strides: valid padding, NHWC, bias and activation fused ('same' padding
// is a ZeroPadding2D before it). Runs on conv2d's micro-kernel (kernels/conv_tile.hpp): the MR
// output pixels of a tile read input runs stride_w * cin floats apart instead of cin, and output
// row oy reads the input rows from oy * stride_h on. Every output is therefore accumulated in the
// same order (ky, kx, ci) with the same fused multiply-adds as conv2d (with strides 1 the result
// equals conv2d's bit for bit), whatever the tiling; the kernel is packed as for conv2d
// (detail::pack_kernel; its shared-lane packet is not used here). Tasks are (image, block of
// output rows), independent of the thread count.

#include <prunedef/core/activation.hpp>
#include <prunedef/core/parallel.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/kernels/conv2d.hpp>
#include <prunedef/kernels/conv_tile.hpp>

#include <algorithm>

namespace prunedef {
namespace detail {

/// Geometry of a valid convolution with strides.
struct StridedConvGeometry {
    ConvGeometry conv;
    std::size_t stride_h, stride_w;

    /// The input must hold the kernel: floor((in - k) / stride) + 1 outputs per axis.
    ImageShape output_shape(const ImageShape& in) const {
        return {(in.height - conv.kernel_h) / stride_h + 1, (in.width - conv.kernel_w) / stride_w + 1,
                conv.out_channels};
    }
};

/// Output rows [r0, r1) of one image (out_w pixels each) for one group of NV packets of output
/// channels, written from c.out on.
template <int NV, class Activation>
void strided_conv_rows(const float* image, const ImageShape& in, const StridedConvGeometry& g, std::size_t out_w,
                       const ChannelGroup& c, std::size_t r0, std::size_t r1) {
    constexpr int MR = tile_pixels(NV);
    const std::size_t C = in.channels, segment = g.conv.kernel_w * C, row_stride = in.width * C;
    const std::size_t step = g.stride_w * C;
    for (std::size_t oy = r0; oy < r1; ++oy) {
        const float* in_row = image + oy * g.stride_h * row_stride;
        float* out_row = c.out + (oy - r0) * out_w * c.out_stride;
        for_each_equal_tile(out_w, MR, [&](std::size_t ox, std::size_t width) {
            conv_tile_of_width<NV, MR, Activation>(static_cast<int>(width), in_row + ox * step, step, row_stride,
                                                   g.conv.kernel_h, segment, c, out_row + ox * c.out_stride);
        });
    }
}

template <class Activation, int NV = 1>
void strided_conv_rows_dispatch(int packets, const float* image, const ImageShape& in, const StridedConvGeometry& g,
                                std::size_t out_w, const ChannelGroup& c, std::size_t r0, std::size_t r1) {
    if constexpr (NV <= max_packets) {
        if (packets == NV) return strided_conv_rows<NV, Activation>(image, in, g, out_w, c, r0, r1);
        return strided_conv_rows_dispatch<Activation, NV + 1>(packets, image, in, g, out_w, c, r0, r1);
    }
}

}  // namespace detail

/// out = Activation(strided valid convolution of in + bias) with the kernel already packed (p,
/// made by detail::pack_kernel for g.conv). The caller guarantees in.channels() == cin, that the
/// kernel fits the image and that the strides are positive.
template <class Activation>
void strided_conv2d(const Tensor& in, const detail::StridedConvGeometry& g, const detail::PackedKernel& p,
                    Tensor& out) {
    static_assert(detail::check_kernel_activation<Activation>());
    const ImageShape os = g.output_shape(in.shape());
    out.resize(in.batch(), os);
    if (in.batch() == 0 || os.size() == 0) return;
    const std::size_t rows = detail::conv_rows_per_block(os.width, os.height, in.batch());
    const std::size_t blocks = (os.height + rows - 1) / rows;
    const std::ptrdiff_t tasks = static_cast<std::ptrdiff_t>(in.batch() * blocks);
    // Groups of at most max_packets packets (the widest instantiated micro-kernel), split evenly.
    const int wanted = std::min(detail::packets_per_group(p.packets, g.conv.patch_size(), os.width), detail::max_packets);
    const int groups = (p.packets + wanted - 1) / wanted, group_packets = (p.packets + groups - 1) / groups;
    const std::size_t width = std::size_t(p.packets) * detail::packet_size, cout = g.conv.out_channels;
    const std::size_t work = in.batch() * os.size() * g.conv.patch_size();
    detail::parallel_for_work(tasks, work, [&](std::ptrdiff_t task) {
        const std::size_t n = static_cast<std::size_t>(task) / blocks, b = static_cast<std::size_t>(task) % blocks;
        const std::size_t r0 = b * rows, r1 = std::min(os.height, r0 + rows);
        float* rows_out = out.image(n) + r0 * os.width * cout;
        for (int v0 = 0; v0 < p.packets; v0 += group_packets) {
            const int nv = std::min(group_packets, p.packets - v0);
            const std::size_t first = std::size_t(v0) * detail::packet_size, group = std::size_t(nv) * detail::packet_size;
            const detail::ChannelGroup c{p.weights.data() + first, width, p.bias.data() + first, rows_out + first,
                                         cout, std::min(group, cout - first)};
            detail::strided_conv_rows_dispatch<Activation>(nv, in.image(n), in.shape(), g, os.width, c, r0, r1);
        }
    });
}

/// The same, packing the (kh, kw, cin, cout) row-major kernel and the bias on every call.
template <class Activation>
void strided_conv2d(const Tensor& in, const detail::StridedConvGeometry& g, const float* kernel, const float* bias,
                    Tensor& out) {
    detail::PackedKernel packed;
    detail::pack_kernel(g.conv, kernel, bias, packed);
    strided_conv2d<Activation>(in, g, packed, out);
}

}  // namespace prunedef
