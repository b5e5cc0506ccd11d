#pragma once
// Element-wise kernels: Add, activation in place, Softmax over the last axis, argmax.

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>

#include <algorithm>
#include <cmath>
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

/// Applies the activation to every element in place.
template <class Activation>
void activate(Tensor& t) {
    float* p = t.data();
    for (std::size_t i = 0, n = t.size(); i < n; ++i) p[i] = Activation::apply(p[i]);
}

/// Softmax of each image's values (the last axis after Flatten/Dense), numerically stable.
inline void softmax(Tensor& t) {
    const std::size_t k = t.image_size();
    for (std::size_t n = 0; n < t.batch(); ++n) {
        float* p = t.image(n);
        const float m = *std::max_element(p, p + k);
        double sum = 0;
        for (std::size_t i = 0; i < k; ++i) {
            p[i] = std::exp(p[i] - m);
            sum += p[i];
        }
        for (std::size_t i = 0; i < k; ++i) p[i] = static_cast<float>(p[i] / sum);
    }
}

/// Index of the largest value of each image (first one on ties, as numpy's argmax).
inline std::vector<int> argmax(const Tensor& t) {
    std::vector<int> out(t.batch());
    const std::size_t k = t.image_size();
    for (std::size_t n = 0; n < t.batch(); ++n) {
        const float* p = t.image(n);
        out[n] = static_cast<int>(std::max_element(p, p + k) - p);
    }
    return out;
}

}  // namespace prunedef
