#pragma once
// Backward pass of a dense layer: dW = X^T dY, db = column sums of dY, dX = dY W^T.

#include <prunedef/core/tensor.hpp>

#include <Eigen/Core>

namespace prunedef {

/// Overwrites dkernel (in x out) and dbias (out); writes din when not null.
inline void dense_backward(const Tensor& in, const float* kernel, const Tensor& dy, float* dkernel, float* dbias,
                           Tensor* din) {
    using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const auto E = [](std::size_t v) { return static_cast<Eigen::Index>(v); };
    const std::size_t n = in.batch(), k = in.image_size(), m = dy.image_size();
    Eigen::Map<const RowMatrix> x(in.data(), E(n), E(k));
    Eigen::Map<const RowMatrix> d(dy.data(), E(n), E(m));
    Eigen::Map<const RowMatrix> w(kernel, E(k), E(m));
    Eigen::Map<RowMatrix>(dkernel, E(k), E(m)).noalias() = x.transpose() * d;
    Eigen::Map<Eigen::RowVectorXf>(dbias, E(m)) = d.colwise().sum();
    if (din) {
        din->resize(n, in.shape());
        Eigen::Map<RowMatrix>(din->data(), E(n), E(k)).noalias() = d * w.transpose();
    }
}

}  // namespace prunedef
