#pragma once
// Backward passes of the layer classes a network assembled at run time uses (model/graph_op.hpp),
// one overload of detail::layer_backward per class:
//
//   layer_backward(layer, in, out, dout, din)            one input
//   layer_backward(layer, ins, out, dout, dins)          several inputs (Add, Concatenate)
//
// in/ins and out are what the forward pass read and wrote; dout is the loss gradient with respect
// to out and may be modified (an activation's derivative is applied to it in place). A layer
// with parameters overwrites their gradients (kernel_gradient()/bias_gradient(),
// gamma_gradient()/beta_gradient()); the input gradient is written to din (to each non-null
// dins[k]) and skipped when it is null.
//
// Activations' derivatives, from the input x and output y: relu 0 where y <= 0 (TensorFlow's
// ReluGrad), sigmoid y (1 - y), tanh 1 - y^2, elu 1 for x > 0 else y + alpha (EluGrad), leaky
// relu 1 for x > 0 else alpha, softmax (over the last axis) y (d - sum(d y)). The fused
// activations of Conv2D and Dense use the same formulas as the compile-time networks'
// backward pass (training/backprop.hpp), so both give the same gradients bit for bit.
//
// BatchNormalization is trained in inference mode (Keras' behaviour for a BN layer called with
// training=False, e.g. when fine-tuning a model whose BN layers were frozen to inference): the
// moving mean and variance stay fixed, gamma and beta are trained:
//   y = (x - mean) rsqrt gamma + beta:  dgamma = sum d (x - mean) rsqrt, dbeta = sum d,
//   dx = d rsqrt gamma.

#include <prunedef/core/activation.hpp>
#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/kernels/conv2d_backward.hpp>
#include <prunedef/kernels/dense_backward.hpp>
#include <prunedef/kernels/maxpool2d_backward.hpp>
#include <prunedef/kernels/pooling2d_backward.hpp>
#include <prunedef/kernels/strided_conv2d_backward.hpp>
#include <prunedef/layers/activation.hpp>
#include <prunedef/layers/add.hpp>
#include <prunedef/layers/batch_normalization.hpp>
#include <prunedef/layers/concatenate.hpp>
#include <prunedef/layers/conv2d.hpp>
#include <prunedef/layers/dense.hpp>
#include <prunedef/layers/flatten.hpp>
#include <prunedef/layers/global_pooling2d.hpp>
#include <prunedef/layers/identity.hpp>
#include <prunedef/layers/maxpool2d.hpp>
#include <prunedef/layers/pooling2d.hpp>
#include <prunedef/layers/runtime_activation.hpp>
#include <prunedef/layers/strided_conv2d.hpp>
#include <prunedef/layers/zero_padding2d.hpp>

#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

namespace prunedef {
namespace detail {

/// The run-time kind of a compile-time activation.
template <class A>
constexpr ActivationKind activation_kind_of() {
    if constexpr (std::is_same_v<A, Linear>) return ActivationKind::linear;
    else if constexpr (std::is_same_v<A, Relu>) return ActivationKind::relu;
    else if constexpr (std::is_same_v<A, Sigmoid>) return ActivationKind::sigmoid;
    else if constexpr (std::is_same_v<A, Tanh>) return ActivationKind::tanh;
    else {
        static_assert(std::is_same_v<A, Softmax>, "backward pass implemented for Linear, Relu, Sigmoid, Tanh, Softmax");
        return ActivationKind::softmax;
    }
}

/// d *= f'(x) for activation kind k (see the top of this file); x may be null for every kind but
/// elu and leaky relu. Softmax works on runs of `channels` values.
inline void activation_derivative(ActivationKind k, float alpha, const float* x, const float* y, float* d,
                                  std::size_t n, std::size_t channels) {
    switch (k) {
        case ActivationKind::linear: return;
        case ActivationKind::relu:
            for (std::size_t i = 0; i < n; ++i)
                if (y[i] <= 0.0f) d[i] = 0.0f;
            return;
        case ActivationKind::sigmoid:
            for (std::size_t i = 0; i < n; ++i) d[i] *= y[i] * (1.0f - y[i]);
            return;
        case ActivationKind::tanh:
            for (std::size_t i = 0; i < n; ++i) d[i] *= 1.0f - y[i] * y[i];
            return;
        case ActivationKind::elu:
            for (std::size_t i = 0; i < n; ++i)
                if (!(x[i] > 0.0f)) d[i] *= y[i] + alpha;
            return;
        case ActivationKind::leaky_relu:
            for (std::size_t i = 0; i < n; ++i)
                if (!(x[i] > 0.0f)) d[i] *= alpha;
            return;
        case ActivationKind::softmax:
            for (std::size_t r = 0; channels > 0 && r < n / channels; ++r) {
                const float* yr = y + r * channels;
                float* dr = d + r * channels;
                double dot = 0.0;
                for (std::size_t c = 0; c < channels; ++c) dot += double(dr[c]) * double(yr[c]);
                for (std::size_t c = 0; c < channels; ++c) dr[c] = yr[c] * static_cast<float>(double(dr[c]) - dot);
            }
            return;
    }
}

template <class A>
void fused_activation_derivative(const Tensor& out, Tensor& d) {
    activation_derivative(activation_kind_of<A>(), 0.0f, nullptr, out.data(), d.data(), d.size(), out.channels());
}

template <class A>
void layer_backward(Conv2D<A>& l, const Tensor& in, const Tensor& out, Tensor& dout, Tensor* din) {
    fused_activation_derivative<A>(out, dout);
    conv2d_backward(in, l.geometry(), std::as_const(l).kernel().data(), dout, l.kernel_gradient().data(),
                    l.bias_gradient().data(), din);
}

template <class A>
void layer_backward(StridedConv2D<A>& l, const Tensor& in, const Tensor& out, Tensor& dout, Tensor* din) {
    fused_activation_derivative<A>(out, dout);
    strided_conv2d_backward(in, l.geometry(), std::as_const(l).kernel().data(), dout, l.kernel_gradient().data(),
                            l.bias_gradient().data(), din);
}

template <class A>
void layer_backward(Dense<A>& l, const Tensor& in, const Tensor& out, Tensor& dout, Tensor* din) {
    fused_activation_derivative<A>(out, dout);
    dense_backward(in, std::as_const(l).kernel().data(), dout, l.kernel_gradient().data(), l.bias_gradient().data(),
                   din);
}

template <class F>
void layer_backward(Activation<F>&, const Tensor& in, const Tensor& out, Tensor& dout, Tensor* din) {
    if (!din) return;
    (void)in;
    fused_activation_derivative<F>(out, dout);
    *din = std::move(dout);
}

inline void layer_backward(RuntimeActivation& l, const Tensor& in, const Tensor& out, Tensor& dout, Tensor* din) {
    if (!din) return;
    activation_derivative(l.kind(), l.alpha(), in.data(), out.data(), dout.data(), dout.size(), out.channels());
    *din = std::move(dout);
}

inline void layer_backward(MaxPool2D& l, const Tensor& in, const Tensor&, Tensor& dout, Tensor* din) {
    if (din) maxpool2d_backward(in, l.pool(), l.stride(), dout, *din);
}

template <class Op>
void layer_backward(Pooling2D<Op>& l, const Tensor& in, const Tensor&, Tensor& dout, Tensor* din) {
    if (din) pool2d_backward<Op>(in, l.geometry(in.shape()), dout, *din);
}

template <class Op>
void layer_backward(GlobalPooling2D<Op>&, const Tensor& in, const Tensor&, Tensor& dout, Tensor* din) {
    if (din) global_pool2d_backward<Op>(in, dout, *din);
}

/// The gradient of a padded tensor's inside (the padding's own gradient is dropped).
inline void layer_backward(ZeroPadding2D& l, const Tensor& in, const Tensor&, Tensor& dout, Tensor* din) {
    if (!din) return;
    const ImageShape is = in.shape(), os = dout.shape();
    din->resize(in.batch(), is);
    const std::size_t row = is.width * is.channels;
    for (std::size_t n = 0; n < in.batch(); ++n)
        for (std::size_t y = 0; y < is.height; ++y)
            std::memcpy(din->image(n) + y * row, dout.image(n) + ((y + l.top()) * os.width + l.left()) * os.channels,
                        row * sizeof(float));
}

inline void layer_backward(Flatten&, const Tensor& in, const Tensor&, Tensor& dout, Tensor* din) {
    if (!din) return;
    *din = std::move(dout);
    din->reshape(in.shape());
}

inline void layer_backward(Identity&, const Tensor&, const Tensor&, Tensor& dout, Tensor* din) {
    if (din) *din = std::move(dout);
}

inline void layer_backward(BatchNormalization& l, const Tensor& in, const Tensor&, Tensor& dout, Tensor* din) {
    const std::size_t C = l.channels(), rows = C == 0 ? 0 : in.size() / C;
    const std::vector<float>& rsqrt = l.inverse_deviations();
    const std::vector<float>& mean = l.moving_mean();
    const std::vector<float>& inv = l.multipliers();
    std::vector<double> dgamma(C, 0.0), dbeta(C, 0.0);
    const float* x = in.data();
    const float* d = dout.data();
    for (std::size_t r = 0; r < rows; ++r, x += C, d += C)
        for (std::size_t c = 0; c < C; ++c) {
            dgamma[c] += double(d[c]) * (double(x[c]) - double(mean[c])) * double(rsqrt[c]);
            dbeta[c] += double(d[c]);
        }
    float* gg = l.gamma_gradient().data();
    float* gb = l.beta_gradient().data();
    for (std::size_t c = 0; c < C; ++c) {
        gg[c] = static_cast<float>(dgamma[c]);
        gb[c] = static_cast<float>(dbeta[c]);
    }
    if (!din) return;
    din->resize(in.batch(), in.shape());
    d = dout.data();
    float* dx = din->data();
    for (std::size_t r = 0; r < rows; ++r, d += C, dx += C)
        for (std::size_t c = 0; c < C; ++c) dx[c] = d[c] * inv[c];
}

inline void layer_backward(Add&, const std::vector<const Tensor*>& in, const Tensor&, Tensor& dout,
                           const std::vector<Tensor*>& din) {
    for (std::size_t k = 0; k < in.size(); ++k)
        if (din[k]) *din[k] = dout;
}

inline void layer_backward(Concatenate&, const std::vector<const Tensor*>& in, const Tensor&, Tensor& dout,
                           const std::vector<Tensor*>& din) {
    const std::size_t total = dout.channels(), positions = dout.batch() * dout.height() * dout.width();
    std::size_t first = 0;
    for (std::size_t k = 0; k < in.size(); ++k) {
        const std::size_t c = in[k]->channels();
        if (din[k]) {
            din[k]->resize(in[k]->batch(), in[k]->shape());
            for (std::size_t p = 0; p < positions; ++p)
                std::memcpy(din[k]->data() + p * c, dout.data() + p * total + first, c * sizeof(float));
        }
        first += c;
    }
}

/// Whether layer_backward exists for a one-input layer class L.
template <class L, class = void>
struct has_layer_backward : std::false_type {};
template <class L>
struct has_layer_backward<L, std::void_t<decltype(layer_backward(std::declval<L&>(), std::declval<const Tensor&>(),
                                                                 std::declval<const Tensor&>(),
                                                                 std::declval<Tensor&>(), std::declval<Tensor*>()))>>
    : std::true_type {};
/// Whether layer_backward exists for a layer class L reading several tensors.
template <class L, class = void>
struct has_multi_layer_backward : std::false_type {};
template <class L>
struct has_multi_layer_backward<
    L, std::void_t<decltype(layer_backward(std::declval<L&>(), std::declval<const std::vector<const Tensor*>&>(),
                                           std::declval<const Tensor&>(), std::declval<Tensor&>(),
                                           std::declval<const std::vector<Tensor*>&>()))>> : std::true_type {};

}  // namespace detail
}  // namespace prunedef
