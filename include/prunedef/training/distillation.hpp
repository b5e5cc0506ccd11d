#pragma once
// Agreement (distillation) loss toward a teacher network (Hinton, Vinyals and Dean, "Distilling
// the Knowledge in a Neural Network", 2015): with student logits z, teacher logits t, label y,
// weight w in [0, 1] and temperature T > 0, per image
//     L = (1 - w) CE(softmax(z), y) + w T^2 KL(softmax(t / T) || softmax(z / T)),
// averaged over the batch; dL/dz = ((1 - w)(softmax(z) - onehot(y)) + w T (softmax(z / T) -
// softmax(t / T))) / batch. Fine-Pruning uses it with B as the teacher of B' (fine_pruning.hpp):
// B' keeps B's behaviour on clean images (fewer GoodNet false positives) while its pruned channels
// stay at zero. Cost: one inference forward pass of the teacher per mini-batch (about a third of
// a training step on DeepID).

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace prunedef {

struct Distillation {
    float weight = 0.0f;        // w above; 0: plain cross-entropy (the default)
    float temperature = 1.0f;   // T above
};

namespace detail {
/// log-sum-exp of z / T over k classes, in double.
inline double log_sum_exp(const float* z, std::size_t k, double inv_t) {
    double m = double(z[0]) * inv_t;
    for (std::size_t j = 1; j < k; ++j) m = std::max(m, double(z[j]) * inv_t);
    double sum = 0.0;
    for (std::size_t j = 0; j < k; ++j) sum += std::exp(double(z[j]) * inv_t - m);
    return std::log(sum) + m;
}
}  // namespace detail

/// Checks a distillation setting (argument_error): weight in [0, 1], temperature finite and > 0.
inline void check_distillation(const Distillation& d) {
    if (!(d.weight >= 0.0f && d.weight <= 1.0f))
        throw argument_error("distillation: the weight must be in [0, 1], got " + std::to_string(d.weight));
    if (!(d.temperature > 0.0f) || !std::isfinite(d.temperature))
        throw argument_error("distillation: the temperature must be finite and > 0, got " + std::to_string(d.temperature));
}

/// Returns the mean loss (file comment); writes its gradient with respect to logits to dlogits.
inline double distillation_loss(const Tensor& logits, const Tensor& teacher_logits, const int* labels,
                                const Distillation& d, Tensor& dlogits) {
    check_distillation(d);
    const std::size_t n = logits.batch(), k = logits.image_size();
    if (teacher_logits.batch() != n || teacher_logits.image_size() != k)
        throw shape_error("distillation: the teacher's logits do not match the student's");
    dlogits.resize(n, logits.shape());
    const double w = d.weight, t = d.temperature, inv_t = 1.0 / t;
    double total = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const float* z = logits.image(i);
        const float* tz = teacher_logits.image(i);
        float* g = dlogits.image(i);
        if (labels[i] < 0 || std::size_t(labels[i]) >= k)
            throw argument_error("label " + std::to_string(labels[i]) + " out of range for " + std::to_string(k) + " classes");
        const double lse = detail::log_sum_exp(z, k, 1.0);
        const double lse_t = detail::log_sum_exp(z, k, inv_t);
        const double lse_teacher = detail::log_sum_exp(tz, k, inv_t);
        double kl = 0.0;
        for (std::size_t j = 0; j < k; ++j) {
            const double log_p = double(tz[j]) * inv_t - lse_teacher;  // teacher, softened
            const double log_q = double(z[j]) * inv_t - lse_t;         // student, softened
            const double p = std::exp(log_p), q = std::exp(log_q);
            kl += p * (log_p - log_q);
            const double soft = std::exp(double(z[j]) - lse);
            g[j] = static_cast<float>(((1.0 - w) * (soft - (int(j) == labels[i] ? 1.0 : 0.0)) + w * t * (q - p)) /
                                      double(n));
        }
        total += (1.0 - w) * (lse - double(z[labels[i]])) + w * t * t * kl;
    }
    return n ? total / double(n) : 0.0;
}

}  // namespace prunedef
