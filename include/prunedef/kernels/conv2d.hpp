#pragma once
// The convolution core: valid padding, stride 1, NHWC, bias and activation fused.
//
// A (kh, kw, cin, cout) Keras kernel in row-major order is already the (kh*kw*cin) x cout
// matrix that an NHWC im2col needs. Output rows are processed in blocks: the im2col rows of a
// block go into a per-thread buffer, one GEMM computes the block, and bias plus activation are
// applied while it is still in cache. Tasks are (image, block of output rows), fixed
// independently of the thread count, so results are identical with any number of threads.

#include <prunedef/core/parallel.hpp>
#include <prunedef/core/tensor.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cstring>
#include <vector>

namespace prunedef {
namespace detail {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMatrixMap = Eigen::Map<RowMatrix, Eigen::Aligned16>;
using ConstRowMatrixMap = Eigen::Map<const RowMatrix>;

/// Geometry of a valid, stride-1 convolution.
struct ConvGeometry {
    std::size_t kernel_h, kernel_w, in_channels, out_channels;
    std::size_t patch_size() const { return kernel_h * kernel_w * in_channels; }
    ImageShape output_shape(const ImageShape& in) const {
        return {in.height - kernel_h + 1, in.width - kernel_w + 1, out_channels};
    }
};

/// Output rows per task: enough pixels for a GEMM that amortises packing, few enough that the
/// im2col block stays in L2.
inline std::size_t conv_rows_per_block(const ConvGeometry& g, std::size_t out_w) {
    const std::size_t target_pixels = 128;
    std::size_t rows = std::max<std::size_t>(1, target_pixels / std::max<std::size_t>(1, out_w));
    const std::size_t bytes_per_row = out_w * g.patch_size() * sizeof(float);
    while (rows > 1 && rows * bytes_per_row > (256u << 10)) --rows;
    return rows;
}

/// Computes output rows [row_begin, row_end) of one image.
template <class Activation>
void conv2d_rows(const float* image, const ImageShape& in, const ConvGeometry& g, const float* kernel,
                 const float* bias, float* out_image, std::size_t row_begin, std::size_t row_end,
                 std::vector<float>& columns) {
    const std::size_t out_w = in.width - g.kernel_w + 1;
    const std::size_t patch = g.patch_size();
    const std::size_t segment = g.kernel_w * in.channels;  // one kernel row: contiguous in NHWC
    const std::size_t pixels = (row_end - row_begin) * out_w;
    columns.resize(pixels * patch);
    float* col = columns.data();
    for (std::size_t oy = row_begin; oy < row_end; ++oy)
        for (std::size_t ox = 0; ox < out_w; ++ox)
            for (std::size_t ky = 0; ky < g.kernel_h; ++ky) {
                std::memcpy(col, image + ((oy + ky) * in.width + ox) * in.channels, segment * sizeof(float));
                col += segment;
            }
    ConstRowMatrixMap lhs(columns.data(), static_cast<Eigen::Index>(pixels), static_cast<Eigen::Index>(patch));
    ConstRowMatrixMap rhs(kernel, static_cast<Eigen::Index>(patch), static_cast<Eigen::Index>(g.out_channels));
    Eigen::Map<RowMatrix> out(out_image + row_begin * out_w * g.out_channels, static_cast<Eigen::Index>(pixels),
                              static_cast<Eigen::Index>(g.out_channels));
    out.noalias() = lhs * rhs;
    for (std::size_t p = 0; p < pixels; ++p) {
        float* o = out_image + (row_begin * out_w + p) * g.out_channels;
        for (std::size_t c = 0; c < g.out_channels; ++c) o[c] = Activation::apply(o[c] + bias[c]);
    }
}

}  // namespace detail

/// out = Activation(conv2d(in, kernel) + bias); kernel is (kh, kw, cin, cout) row-major.
/// The caller guarantees in.channels() == cin and that the kernel fits the image.
template <class Activation>
void conv2d(const Tensor& in, const detail::ConvGeometry& g, const float* kernel, const float* bias, Tensor& out) {
    const ImageShape out_shape = g.output_shape(in.shape());
    out.resize(in.batch(), out_shape);
    const std::size_t rows = detail::conv_rows_per_block(g, out_shape.width);
    const std::size_t blocks = (out_shape.height + rows - 1) / rows;
    const std::ptrdiff_t tasks = static_cast<std::ptrdiff_t>(in.batch() * blocks);
    auto run = [&](std::vector<float>& columns, std::ptrdiff_t task) {
        const std::size_t n = static_cast<std::size_t>(task) / blocks;
        const std::size_t b = static_cast<std::size_t>(task) % blocks;
        const std::size_t r0 = b * rows, r1 = std::min(out_shape.height, r0 + rows);
        detail::conv2d_rows<Activation>(in.image(n), in.shape(), g, kernel, bias, out.image(n), r0, r1, columns);
    };
#if defined(_OPENMP)
    if (tasks > 1 && omp_get_max_threads() > 1 && !omp_in_parallel()) {
#pragma omp parallel
        {
            std::vector<float> columns;
#pragma omp for schedule(dynamic, 1)
            for (std::ptrdiff_t task = 0; task < tasks; ++task) run(columns, task);
        }
        return;
    }
#endif
    std::vector<float> columns;
    for (std::ptrdiff_t task = 0; task < tasks; ++task) run(columns, task);
}

}  // namespace prunedef
