#pragma once
// Backward pass of the valid NHWC convolution with any strides (kernels/strided_conv2d.hpp): from
// dZ (the loss gradient with respect to the pre-activation output) to the kernel, bias and input
// gradients, as conv2d_backward (kernels/conv2d_backward.hpp) with the patches taken stride_h
// rows and stride_w columns apart:
//
//   dW = sum over images of im2col(X)^T dZ      db = sum of dZ      dX = col2im(dZ W^T)
//
// Input positions no window covers (strides larger than the kernel, a ragged border) get a zero
// gradient. Images are split into fixed tasks with buffers of their own, added in task order:
// the result does not depend on the thread count.

#include <prunedef/core/parallel.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/kernels/conv2d.hpp>
#include <prunedef/kernels/strided_conv2d.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cstring>
#include <vector>

namespace prunedef {

/// Overwrites dkernel ((kh*kw*cin) x cout) and dbias (cout); writes din when not null.
inline void strided_conv2d_backward(const Tensor& in, const detail::StridedConvGeometry& sg, const float* kernel,
                                    const Tensor& dz, float* dkernel, float* dbias, Tensor* din) {
    using RowMatrix = detail::RowMatrix;
    const auto E = [](std::size_t v) { return static_cast<Eigen::Index>(v); };
    const detail::ConvGeometry& g = sg.conv;
    const ImageShape os = dz.shape();
    const std::size_t K = g.patch_size(), Cout = g.out_channels, pixels = os.height * os.width;
    const std::size_t C = in.channels(), segment = g.kernel_w * C;
    constexpr std::size_t images_per_task = 8;
    const std::size_t n = in.batch(), tasks = (n + images_per_task - 1) / images_per_task;
    std::vector<float, Eigen::aligned_allocator<float>> partial_w(tasks * K * Cout, 0.0f), partial_b(tasks * Cout, 0.0f);
    if (din) {
        din->resize(n, in.shape());
        std::fill(din->data(), din->data() + din->size(), 0.0f);
    }
    Eigen::Map<const RowMatrix> w(kernel, E(K), E(Cout));
    const auto start = [&](std::size_t oy, std::size_t ox, std::size_t ky) {
        return ((oy * sg.stride_h + ky) * in.width() + ox * sg.stride_w) * C;
    };

    detail::parallel_for(static_cast<std::ptrdiff_t>(tasks), [&](std::ptrdiff_t t) {
        std::vector<float> columns(pixels * K);
        RowMatrix dcols;
        Eigen::Map<RowMatrix> dw(partial_w.data() + std::size_t(t) * K * Cout, E(K), E(Cout));
        Eigen::Map<Eigen::RowVectorXf> db(partial_b.data() + std::size_t(t) * Cout, E(Cout));
        const std::size_t first = std::size_t(t) * images_per_task, last = std::min(n, first + images_per_task);
        for (std::size_t i = first; i < last; ++i) {
            const float* image = in.image(i);
            float* col = columns.data();
            for (std::size_t oy = 0; oy < os.height; ++oy)
                for (std::size_t ox = 0; ox < os.width; ++ox)
                    for (std::size_t ky = 0; ky < g.kernel_h; ++ky) {
                        std::memcpy(col, image + start(oy, ox, ky), segment * sizeof(float));
                        col += segment;
                    }
            Eigen::Map<const RowMatrix> cols(columns.data(), E(pixels), E(K));
            Eigen::Map<const RowMatrix> d(dz.image(i), E(pixels), E(Cout));
            dw.noalias() += cols.transpose() * d;
            db += d.colwise().sum();
            if (din) {
                dcols.noalias() = d * w.transpose();
                float* dx = din->image(i);
                const float* src = dcols.data();
                for (std::size_t oy = 0; oy < os.height; ++oy)
                    for (std::size_t ox = 0; ox < os.width; ++ox)
                        for (std::size_t ky = 0; ky < g.kernel_h; ++ky) {
                            float* dst = dx + start(oy, ox, ky);
                            for (std::size_t j = 0; j < segment; ++j) dst[j] += src[j];
                            src += segment;
                        }
            }
        }
    });
    std::fill(dkernel, dkernel + K * Cout, 0.0f);
    std::fill(dbias, dbias + Cout, 0.0f);
    for (std::size_t t = 0; t < tasks; ++t) {
        const float* pw = partial_w.data() + t * K * Cout;
        for (std::size_t j = 0; j < K * Cout; ++j) dkernel[j] += pw[j];
        const float* pb = partial_b.data() + t * Cout;
        for (std::size_t j = 0; j < Cout; ++j) dbias[j] += pb[j];
    }
}

}  // namespace prunedef
