#pragma once
// Element-wise kernels: Add, activation in place, Softmax over the last axis, argmax.

#include <prunedef/core/activation.hpp>
#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

namespace prunedef {

/// out = a + b; a and b must have the same shape.
inline void add(const Tensor& a, const Tensor& b, Tensor& out) {
    if (a.batch() != b.batch() || a.shape() != b.shape())
        throw shape_error("add: operands " + std::to_string(a.batch()) + " x " + a.shape().str() + " and " +
                          std::to_string(b.batch()) + " x " + b.shape().str() + " differ");
    out.resize(a.batch(), a.shape());
    const float* pa = a.data();
    const float* pb = b.data();
    float* po = out.data();
    for (std::size_t i = 0, n = a.size(); i < n; ++i) po[i] = pa[i] + pb[i];
}

namespace detail {

/// Softmax of each of `rows` runs of k consecutive values, in place, numerically stable (the
/// run's maximum is subtracted before exp; the sum is accumulated in double).
inline void softmax_rows(float* p, std::size_t rows, std::size_t k) {
    if (k == 0) return;
    for (std::size_t r = 0; r < rows; ++r, p += k) {
        const float m = *std::max_element(p, p + k);
        double sum = 0;
        for (std::size_t i = 0; i < k; ++i) {
            p[i] = std::exp(p[i] - m);
            sum += p[i];
        }
        for (std::size_t i = 0; i < k; ++i) p[i] = static_cast<float>(p[i] / sum);
    }
}

}  // namespace detail

/// Applies the activation to every element in place; Softmax over the last axis (the channels
/// of every position of every image).
template <class Activation>
void activate(Tensor& t) {
    float* p = t.data();
    const std::size_t n = t.size();
    if constexpr (std::is_same_v<Activation, Softmax>) {
        detail::softmax_rows(p, t.channels() == 0 ? 0 : n / t.channels(), t.channels());
    } else if constexpr (std::is_same_v<Activation, Linear>) {
        (void)p;
        (void)n;
    } else {
        static_assert(detail::activation_traits<Activation>::elementwise,
                      "activate: the activation is neither Softmax nor element-wise (a type with static float "
                      "apply(float))");
        using Packet = Eigen::internal::packet_traits<float>::type;
        constexpr std::size_t P = Eigen::internal::packet_traits<float>::size;
        std::size_t i = 0;
        if constexpr (detail::has_packet_apply<Activation, Packet>())
            for (; i + P <= n; i += P)
                Eigen::internal::pstoreu(p + i,
                                         Activation::apply_packet(Eigen::internal::ploadu<Packet>(p + i)));
        for (; i < n; ++i) p[i] = Activation::apply(p[i]);
    }
}

/// Softmax of each image's values (the last axis after Flatten/Dense), numerically stable.
inline void softmax(Tensor& t) { detail::softmax_rows(t.data(), t.batch(), t.image_size()); }

namespace detail {
/// Throws numeric_error when one of the k outputs of input `input` is inf or NaN.
inline void require_finite(const float* p, std::size_t k, std::size_t input) {
    for (std::size_t i = 0; i < k; ++i)
        if (!std::isfinite(p[i]))
            throw numeric_error("non-finite output (" + std::to_string(p[i]) + ") for input " + std::to_string(input) +
                                ": the forward pass overflows");
}
/// Index of the largest of k finite outputs (first one on ties); throws as require_finite.
inline int argmax_finite(const float* p, std::size_t k, std::size_t input) {
    require_finite(p, k, input);
    return static_cast<int>(std::max_element(p, p + k) - p);
}
}  // namespace detail

/// Index of the largest value of each image (first one on ties, as numpy's argmax). Throws
/// numeric_error when a value is inf or NaN (a forward pass that overflowed): no class is
/// the answer then, and numpy's choice (the first NaN) would be a silent wrong one.
inline std::vector<int> argmax(const Tensor& t) {
    std::vector<int> out(t.batch());
    const std::size_t k = t.image_size();
    for (std::size_t n = 0; n < t.batch(); ++n) out[n] = detail::argmax_finite(t.image(n), k, n);
    return out;
}

}  // namespace prunedef
