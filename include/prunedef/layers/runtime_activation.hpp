#pragma once
// RuntimeActivation: an activation chosen at run time (a Keras Activation, ReLU, LeakyReLU, ELU
// or Softmax layer, or the activation of a layer the run-time graph network runs linear), for
// networks assembled from a Keras config. The compile-time Activation<F> (layers/activation.hpp)
// serves the fixed networks. Element-wise kinds act on every value, softmax on the last axis
// (the channels of every position; the whole output after Flatten or Dense), numerically stable
// as Dense<Softmax>.

#include <prunedef/core/activation.hpp>
#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/kernels/elementwise.hpp>
#include <prunedef/layers/layer_base.hpp>

#include <cmath>
#include <optional>
#include <string>
#include <utility>

namespace prunedef {

/// The activations a run-time network computes.
enum class ActivationKind { linear, relu, sigmoid, tanh, softmax, elu, leaky_relu };

/// The Keras name of an activation kind ("leaky_relu" for leaky_relu).
inline const char* activation_kind_name(ActivationKind k) {
    switch (k) {
        case ActivationKind::linear: return "linear";
        case ActivationKind::relu: return "relu";
        case ActivationKind::sigmoid: return "sigmoid";
        case ActivationKind::tanh: return "tanh";
        case ActivationKind::softmax: return "softmax";
        case ActivationKind::elu: return "elu";
        case ActivationKind::leaky_relu: return "leaky_relu";
    }
    return "?";
}

/// The kind of a Keras activation name (a config's "activation"); any other name (selu, gelu,
/// swish, softplus, ...) is refused with argument_error.
inline ActivationKind activation_kind_from_keras(const std::string& name) {
    for (ActivationKind k : {ActivationKind::linear, ActivationKind::relu, ActivationKind::sigmoid, ActivationKind::tanh,
                             ActivationKind::softmax, ActivationKind::elu, ActivationKind::leaky_relu})
        if (name == activation_kind_name(k)) return k;
    throw argument_error("activation '" + name +
                         "' is not supported (supported: linear, relu, sigmoid, tanh, softmax, elu, leaky_relu)");
}

/// f(0) == 0 for every alpha: only then does zeroing a channel's weights and bias remove the
/// channel (as core/activation.hpp's zero_preserving). Softmax is not element-wise: false.
inline bool zero_preserving(ActivationKind k) {
    return k == ActivationKind::linear || k == ActivationKind::relu || k == ActivationKind::tanh ||
           k == ActivationKind::elu || k == ActivationKind::leaky_relu;
}

class RuntimeActivation : public detail::LeafLayer<RuntimeActivation> {
public:
    static constexpr bool has_weights = false;

    /// alpha: elu's f(x) = alpha * (exp(x) - 1) for x <= 0, leaky_relu's slope f(x) = alpha * x
    /// for x < 0; unused by the other kinds. Without it elu takes Keras' default 1; leaky_relu
    /// refuses to guess (Keras' default slope is 0.3 for the LeakyReLU layer but 0.2 for the
    /// "leaky_relu" activation name): the caller passes the config's value.
    RuntimeActivation(std::string name, ActivationKind kind, std::optional<float> alpha = std::nullopt)
        : detail::LeafLayer<RuntimeActivation>(std::move(name)), kind_(kind) {
        if (kind == ActivationKind::leaky_relu && !alpha)
            throw argument_error("layer " + this->name() + ": leaky_relu needs its negative slope (alpha)");
        alpha_ = alpha ? *alpha : (kind == ActivationKind::elu ? 1.0f : 0.0f);
        if (!std::isfinite(alpha_))
            throw argument_error("layer " + this->name() + ": alpha " + std::to_string(alpha_) + " is not finite");
    }

    ActivationKind kind() const { return kind_; }
    float alpha() const { return alpha_; }
    bool elementwise() const { return kind_ != ActivationKind::softmax; }
    /// max(f(a), f(b)) == f(max(a, b)) (a max-pooling may move before it).
    bool monotone_nondecreasing() const {
        switch (kind_) {
            case ActivationKind::softmax: return false;
            case ActivationKind::elu:
            case ActivationKind::leaky_relu: return alpha_ >= 0;
            default: return true;
        }
    }

    ImageShape output_shape(const ImageShape& in) const { return in; }

    /// out may be in (the layer works in place).
    void forward(const Tensor& in, Tensor& out) const {
        if (&out != &in) out = in;
        apply(out);
    }

    /// The activation on every value of t, in place (softmax over the last axis).
    void apply(Tensor& t) const {
        float* p = t.data();
        const std::size_t n = t.size();
        const float a = alpha_;
        switch (kind_) {
            case ActivationKind::linear: return;
            case ActivationKind::relu: return activate<Relu>(t);
            case ActivationKind::sigmoid: return activate<Sigmoid>(t);
            case ActivationKind::tanh: return activate<Tanh>(t);
            case ActivationKind::softmax: return activate<Softmax>(t);
            case ActivationKind::elu:
                for (std::size_t i = 0; i < n; ++i)
                    if (!(p[i] > 0.0f)) p[i] = a * std::expm1(p[i]);
                return;
            case ActivationKind::leaky_relu:
                for (std::size_t i = 0; i < n; ++i)
                    if (p[i] < 0.0f) p[i] = a * p[i];
                return;
        }
    }

private:
    ActivationKind kind_;
    float alpha_ = 0.0f;
};

}  // namespace prunedef
