#pragma once
// Dense (fully connected): out = Activation(in * weights + bias), weights (in x out) row-major,
// one image per row. Rows are split into fixed blocks so that results do not depend on the
// thread count.

#include <prunedef/core/parallel.hpp>
#include <prunedef/core/tensor.hpp>

#include <Eigen/Core>

#include <algorithm>

namespace prunedef {

template <class Activation>
void dense(const Tensor& in, const float* weights, const float* bias, std::size_t out_features, Tensor& out) {
    using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const std::size_t n = in.batch(), k = in.image_size();
    out.resize(n, {1, 1, out_features});
    Eigen::Map<const RowMatrix> w(weights, static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(out_features));
    Eigen::Map<const Eigen::RowVectorXf> b(bias, static_cast<Eigen::Index>(out_features));
    // Tasks are blocks of 32 images by blocks of output columns (when the batch is small, so
    // that one image still splits across threads: blocks of equal width, a multiple of 16, about
    // 128 wide and at least two, e.g. 160 = 80 + 80). The split depends only on the sizes, never
    // on the thread count.
    constexpr std::size_t rows_per_task = 32;
    const std::size_t col_blocks = std::max<std::size_t>(2, (out_features + 127) / 128);
    const std::size_t cols_per_task = n < 64 ? std::max<std::size_t>(16, (out_features + col_blocks * 16 - 1) /
                                                                             (col_blocks * 16) * 16)
                                             : out_features;
    const std::size_t row_tasks = (n + rows_per_task - 1) / rows_per_task;
    const std::size_t col_tasks = (out_features + cols_per_task - 1) / cols_per_task;
    detail::parallel_for(static_cast<std::ptrdiff_t>(row_tasks * col_tasks), [&](std::ptrdiff_t task) {
        const std::size_t r0 = static_cast<std::size_t>(task) / col_tasks * rows_per_task;
        const std::size_t c0 = static_cast<std::size_t>(task) % col_tasks * cols_per_task;
        const std::size_t rows = std::min(rows_per_task, n - r0), cols = std::min(cols_per_task, out_features - c0);
        const auto E = [](std::size_t v) { return static_cast<Eigen::Index>(v); };
        Eigen::Map<const RowMatrix> x(in.image(r0), E(rows), E(k));
        Eigen::Map<RowMatrix, 0, Eigen::OuterStride<>> y(out.image(r0) + c0, E(rows), E(cols),
                                                         Eigen::OuterStride<>(E(out_features)));
        y.noalias() = x * w.middleCols(E(c0), E(cols));
        y.rowwise() += b.segment(E(c0), E(cols));
        y = y.unaryExpr([](float v) { return Activation::apply(v); });
    });
}

}  // namespace prunedef
