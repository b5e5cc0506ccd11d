#pragma once
// Softmax cross-entropy over logits, averaged over the batch, and its gradient.

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>

#include <algorithm>
#include <cmath>

namespace prunedef {

/// Returns the mean loss; writes dlogits = (softmax(logits) - onehot(labels)) / batch.
inline double softmax_cross_entropy(const Tensor& logits, const int* labels, Tensor& dlogits) {
    const std::size_t n = logits.batch(), k = logits.image_size();
    dlogits.resize(n, logits.shape());
    double total = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const float* z = logits.image(i);
        float* d = dlogits.image(i);
        const float m = *std::max_element(z, z + k);
        double sum = 0.0;
        for (std::size_t j = 0; j < k; ++j) sum += std::exp(double(z[j]) - m);
        const double log_sum = std::log(sum) + m;
        if (labels[i] < 0 || std::size_t(labels[i]) >= k)
            throw argument_error("label " + std::to_string(labels[i]) + " out of range for " + std::to_string(k) + " classes");
        total += log_sum - z[labels[i]];
        for (std::size_t j = 0; j < k; ++j) d[j] = static_cast<float>(std::exp(double(z[j]) - log_sum) / double(n));
        d[labels[i]] -= 1.0f / float(n);
    }
    return n ? total / double(n) : 0.0;
}

}  // namespace prunedef
