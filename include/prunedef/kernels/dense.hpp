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
    constexpr std::size_t rows_per_task = 32;
    const std::size_t tasks = (n + rows_per_task - 1) / rows_per_task;
    detail::parallel_for(static_cast<std::ptrdiff_t>(tasks), [&](std::ptrdiff_t task) {
        const std::size_t r0 = static_cast<std::size_t>(task) * rows_per_task;
        const std::size_t rows = std::min(rows_per_task, n - r0);
        Eigen::Map<const RowMatrix> x(in.image(r0), static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(k));
        Eigen::Map<RowMatrix> y(out.image(r0), static_cast<Eigen::Index>(rows),
                                static_cast<Eigen::Index>(out_features));
        y.noalias() = x * w;
        y.rowwise() += b;
        y = y.unaryExpr([](float v) { return Activation::apply(v); });
    });
}

}  // namespace prunedef
