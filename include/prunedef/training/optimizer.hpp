#pragma once
// Optimizers over a network's parameters: SGD with momentum, and Adam (Keras' defaults).
// Both take an optional decoupled weight decay lambda (Loshchilov and Hutter, "Decoupled Weight
// Decay Regularization", ICLR 2019; AdamW): every step first shrinks each parameter,
// w -= lr * lambda * w with lr the current (scheduled) learning rate, then applies the gradient
// update, which does not see the decay (it is not added to the gradient, so Adam's moments are
// unchanged by it). It applies to every trainable array, biases included (as torch.optim.AdamW by
// default); 0, the default, leaves the optimizers as they were.
// parameters(net) lists every weighted layer's arrays with their gradients, in visit order;
// head_parameters(net) only those after the pruned layer.

#include <prunedef/core/error.hpp>
#include <prunedef/layers/layer_base.hpp>
#include <prunedef/layers/parameter_ref.hpp>

#include <cmath>
#include <functional>
#include <type_traits>
#include <string>
#include <vector>

namespace prunedef {

namespace detail {
template <class Part>
void collect_parameters(Part& part, std::vector<ParameterRef>& out) {
    part.visit([&](auto& layer) {
        using L = std::decay_t<decltype(layer)>;
        if constexpr (L::has_weights) {
            const auto changed = [&layer] { layer.weights_changed(); };
            out.push_back({&layer.kernel(), &layer.kernel_gradient(), changed});
            out.push_back({&layer.bias(), &layer.bias_gradient(), changed});
        }
    });
}

/// Tells the layers of params that their weights were written through the kept pointers.
inline void parameters_changed(const std::vector<ParameterRef>& params) {
    for (const ParameterRef& p : params)
        if (p.changed) p.changed();
}
}  // namespace detail

template <class Net>
std::vector<ParameterRef> parameters(Net& net) {
    std::vector<ParameterRef> out;
    detail::collect_parameters(net, out);
    return out;
}
template <class Net>
std::vector<ParameterRef> head_parameters(Net& net) {
    std::vector<ParameterRef> out;
    detail::collect_parameters(net.head(), out);
    return out;
}

namespace detail {
/// Decoupled weight decay: w -= lr * lambda * w (nothing when lambda is 0).
inline void decay_weights(const std::vector<ParameterRef>& params, float lr, float lambda) {
    if (lambda == 0.0f) return;
    const float factor = lr * lambda;
    for (const ParameterRef& p : params)
        for (float& w : *p.value) w -= factor * w;
}
}  // namespace detail

/// v = momentum v - lr g; p += v (after the decoupled weight decay, when set).
class Sgd {
public:
    explicit Sgd(float learning_rate = 0.01f, float momentum = 0.9f) : lr_(learning_rate), momentum_(momentum) {}
    void set_learning_rate(float lr) { lr_ = lr; }
    float learning_rate() const { return lr_; }
    /// Decoupled weight decay lambda (file comment); 0: none.
    void set_weight_decay(float lambda) {
        if (!(lambda >= 0.0f) || !std::isfinite(lambda))
            throw argument_error("weight decay must be finite and >= 0, got " + std::to_string(lambda));
        weight_decay_ = lambda;
    }
    float weight_decay() const { return weight_decay_; }

    void step(const std::vector<ParameterRef>& params) {
        if (velocity_.size() != params.size()) velocity_.assign(params.size(), {});
        detail::decay_weights(params, lr_, weight_decay_);
        for (std::size_t p = 0; p < params.size(); ++p) {
            auto& w = *params[p].value;
            const auto& g = *params[p].gradient;
            auto& v = velocity_[p];
            v.resize(w.size(), 0.0f);
            for (std::size_t i = 0; i < w.size(); ++i) {
                v[i] = momentum_ * v[i] - lr_ * g[i];
                w[i] += v[i];
            }
        }
        detail::parameters_changed(params);
    }

private:
    float lr_, momentum_;
    float weight_decay_ = 0.0f;
    std::vector<std::vector<float>> velocity_;
};

/// Adam (Kingma and Ba) with Keras 2.3's defaults: beta1 0.9, beta2 0.999, epsilon 1e-7; with a
/// weight decay, AdamW (decoupled: file comment).
class Adam {
public:
    explicit Adam(float learning_rate = 0.001f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-7f)
        : lr_(learning_rate), beta1_(beta1), beta2_(beta2), epsilon_(epsilon) {}
    void set_learning_rate(float lr) { lr_ = lr; }
    float learning_rate() const { return lr_; }
    /// Decoupled weight decay lambda (file comment); 0: none.
    void set_weight_decay(float lambda) {
        if (!(lambda >= 0.0f) || !std::isfinite(lambda))
            throw argument_error("weight decay must be finite and >= 0, got " + std::to_string(lambda));
        weight_decay_ = lambda;
    }
    float weight_decay() const { return weight_decay_; }

    void step(const std::vector<ParameterRef>& params) {
        if (m_.size() != params.size()) {
            m_.assign(params.size(), {});
            v_.assign(params.size(), {});
        }
        ++t_;
        const double correction = std::sqrt(1.0 - std::pow(double(beta2_), double(t_))) /
                                  (1.0 - std::pow(double(beta1_), double(t_)));
        const float lr_t = static_cast<float>(lr_ * correction);
        detail::decay_weights(params, lr_, weight_decay_);
        for (std::size_t p = 0; p < params.size(); ++p) {
            auto& w = *params[p].value;
            const auto& g = *params[p].gradient;
            auto& m = m_[p];
            auto& v = v_[p];
            m.resize(w.size(), 0.0f);
            v.resize(w.size(), 0.0f);
            for (std::size_t i = 0; i < w.size(); ++i) {
                m[i] = beta1_ * m[i] + (1.0f - beta1_) * g[i];
                v[i] = beta2_ * v[i] + (1.0f - beta2_) * g[i] * g[i];
                w[i] -= lr_t * m[i] / (std::sqrt(v[i]) + epsilon_);
            }
        }
        detail::parameters_changed(params);
    }

private:
    float lr_, beta1_, beta2_, epsilon_;
    float weight_decay_ = 0.0f;
    long t_ = 0;
    std::vector<std::vector<float>> m_, v_;
};

}  // namespace prunedef
