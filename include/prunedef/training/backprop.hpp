#pragma once
// Forward passes that remember what the backward pass needs, and the backward passes of every
// layer and combinator. forward_train(layer, in, out, cache) runs the layer and fills its cache;
// backward(layer, cache, dout, din) stores the layer's parameter gradients in the layer
// (kernel_gradient(), bias_gradient()) and writes the input gradient to din unless din is null.
// dout may be modified (activation derivatives are applied to it in place).

#include <prunedef/core/activation.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/kernels/conv2d_backward.hpp>
#include <prunedef/kernels/dense_backward.hpp>
#include <prunedef/kernels/maxpool2d_backward.hpp>
#include <prunedef/layers/activation.hpp>
#include <prunedef/layers/conv2d.hpp>
#include <prunedef/layers/dense.hpp>
#include <prunedef/layers/flatten.hpp>
#include <prunedef/layers/identity.hpp>
#include <prunedef/layers/maxpool2d.hpp>
#include <prunedef/layers/sequential.hpp>
#include <prunedef/layers/sum.hpp>
#include <prunedef/model/network.hpp>
#include <prunedef/training/graph_backprop.hpp>  // before the templates below: they call its overloads

#include <array>
#include <tuple>
#include <type_traits>

namespace prunedef {
namespace detail {

/// What a leaf layer keeps for its backward pass: its input and output.
template <class Layer>
struct TrainCache {
    Tensor input, output;
};
/// A Sequential's layers' caches, and the tensors between its layers in each direction, kept
/// from step to step so that their storage is reused (no allocation and zero-filling per step).
template <class... Layers>
struct TrainCache<Sequential<Layers...>> {
    std::tuple<TrainCache<Layers>...> layers;
    std::array<Tensor, sizeof...(Layers)> forward_between, backward_between;
};
template <class A, class B>
struct TrainCache<Sum<A, B>> {
    TrainCache<A> a;
    TrainCache<B> b;
    Tensor out_a, out_b, dout_a, din_a, din_b;  // reused from step to step
};

/// d *= f'(z) expressed through the output y = f(z).
template <class Function>
void activation_backward(const Tensor& output, Tensor& d) {
    static_assert(!std::is_same_v<Function, Softmax>,
                  "backward pass of Softmax is not implemented: train with a Linear output layer and the softmax "
                  "cross-entropy loss (training/loss.hpp), which includes the softmax");
    const float* y = output.data();
    float* g = d.data();
    const std::size_t n = d.size();
    if constexpr (std::is_same_v<Function, Relu>) {
        for (std::size_t i = 0; i < n; ++i)
            if (y[i] <= 0.0f) g[i] = 0.0f;
    } else if constexpr (std::is_same_v<Function, Sigmoid>) {
        for (std::size_t i = 0; i < n; ++i) g[i] *= y[i] * (1.0f - y[i]);
    } else if constexpr (std::is_same_v<Function, Tanh>) {
        for (std::size_t i = 0; i < n; ++i) g[i] *= 1.0f - y[i] * y[i];
    } else {
        static_assert(std::is_same_v<Function, Linear> || std::is_same_v<Function, Softmax>,
                      "backward pass implemented only for Linear, Relu, Sigmoid and Tanh activations");
        (void)y;
        (void)g;
        (void)n;
    }
}

// ---- leaves -------------------------------------------------------------------------------

/// Leaves with a kernel and a bias (Conv2D, Dense): the backward pass needs input and output.
template <class Layer, std::enable_if_t<std::is_base_of_v<KernelAndBias, Layer>, int> = 0>
void forward_train(const Layer& l, const Tensor& in, Tensor& out, TrainCache<Layer>& c) {
    c.input = in;
    l.forward(in, out);
    c.output = out;
}

template <class A>
void backward(Conv2D<A>& l, TrainCache<Conv2D<A>>& c, Tensor& dout, Tensor* din) {
    activation_backward<A>(c.output, dout);
    conv2d_backward(c.input, l.geometry(), l.kernel().data(), dout, l.kernel_gradient().data(),
                    l.bias_gradient().data(), din);
}

template <class A>
void backward(Dense<A>& l, TrainCache<Dense<A>>& c, Tensor& dout, Tensor* din) {
    activation_backward<A>(c.output, dout);
    dense_backward(c.input, l.kernel().data(), dout, l.kernel_gradient().data(), l.bias_gradient().data(), din);
}

inline void forward_train(const MaxPool2D& l, const Tensor& in, Tensor& out, TrainCache<MaxPool2D>& c) {
    c.input = in;
    l.forward(in, out);
}
inline void backward(MaxPool2D& l, TrainCache<MaxPool2D>& c, Tensor& dout, Tensor* din) {
    if (din) maxpool2d_backward(c.input, l.pool(), l.stride(), dout, *din);
}

inline void forward_train(const Flatten& l, const Tensor& in, Tensor& out, TrainCache<Flatten>& c) {
    c.input.resize(0, in.shape());  // only the shape is needed
    l.forward(in, out);
}
inline void backward(Flatten&, TrainCache<Flatten>& c, Tensor& dout, Tensor* din) {
    if (!din) return;
    *din = dout;
    din->reshape(c.input.shape());
}

template <class F>
void forward_train(const Activation<F>& l, const Tensor& in, Tensor& out, TrainCache<Activation<F>>& c) {
    l.forward(in, out);
    c.output = out;
}
template <class F>
void backward(Activation<F>&, TrainCache<Activation<F>>& c, Tensor& dout, Tensor* din) {
    activation_backward<F>(c.output, dout);
    if (din) *din = dout;
}

inline void forward_train(const Identity& l, const Tensor& in, Tensor& out, TrainCache<Identity>&) { l.forward(in, out); }
inline void backward(Identity&, TrainCache<Identity>&, Tensor& dout, Tensor* din) {
    if (din) *din = dout;
}

// ---- combinators --------------------------------------------------------------------------

template <std::size_t I, class... Ls>
void sequential_forward_train(const Sequential<Ls...>& s, const Tensor& in, Tensor& out, TrainCache<Sequential<Ls...>>& c) {
    if constexpr (I + 1 == sizeof...(Ls)) {
        forward_train(s.template layer<I>(), in, out, std::get<I>(c.layers));
    } else {
        Tensor& next = c.forward_between[I];
        forward_train(s.template layer<I>(), in, next, std::get<I>(c.layers));
        sequential_forward_train<I + 1>(s, next, out, c);
    }
}
template <class... Ls>
void forward_train(const Sequential<Ls...>& s, const Tensor& in, Tensor& out, TrainCache<Sequential<Ls...>>& c) {
    sequential_forward_train<0>(s, in, out, c);
}

template <std::size_t I, class... Ls>
void sequential_backward(Sequential<Ls...>& s, TrainCache<Sequential<Ls...>>& c, Tensor& dout, Tensor* din) {
    if constexpr (I == 0) {
        backward(s.template layer<0>(), std::get<0>(c.layers), dout, din);
    } else {
        Tensor& dprev = c.backward_between[I];
        backward(s.template layer<I>(), std::get<I>(c.layers), dout, &dprev);
        sequential_backward<I - 1>(s, c, dprev, din);
    }
}
template <class... Ls>
void backward(Sequential<Ls...>& s, TrainCache<Sequential<Ls...>>& c, Tensor& dout, Tensor* din) {
    sequential_backward<sizeof...(Ls) - 1>(s, c, dout, din);
}

template <class A, class B>
void forward_train(const Sum<A, B>& s, const Tensor& in, Tensor& out, TrainCache<Sum<A, B>>& c) {
    forward_train(s.first(), in, c.out_a, c.a);
    forward_train(s.second(), in, c.out_b, c.b);
    add(c.out_a, c.out_b, out);
}
template <class A, class B>
void backward(Sum<A, B>& s, TrainCache<Sum<A, B>>& c, Tensor& dout, Tensor* din) {
    c.dout_a = dout;
    backward(s.first(), c.a, c.dout_a, din ? &c.din_a : nullptr);
    backward(s.second(), c.b, dout, din ? &c.din_b : nullptr);
    if (din) add(c.din_a, c.din_b, *din);
}

}  // namespace detail

/// Everything a network's backward pass needs from its forward pass.
template <class Net>
struct NetworkTrainCache {
    Tensor features;  // input of the head
    detail::TrainCache<typename Net::stem_type> stem;
    detail::TrainCache<typename Net::pruned_type> pruned;
    detail::TrainCache<typename Net::reduce_type> reduce;
    detail::TrainCache<typename Net::head_type> head;
    bool trunk = true;  // whether the trunk's caches were filled
    // between the parts, in each direction, reused from step to step
    Tensor scaled, stem_out, conv_out, dfeatures, dconv, dstem;
};

/// Forward pass for training. With train_trunk false only the head keeps caches (fine-tuning
/// the layers after the pruned one).
template <class Net>
void forward_train(const Net& net, const Tensor& images, Tensor& logits, NetworkTrainCache<Net>& c, bool train_trunk = true) {
    c.trunk = train_trunk;
    if (train_trunk) {
        const Tensor* input = &images;
        if (net.input_scale() != 1.0f) {
            c.scaled = images;
            for (std::size_t i = 0; i < c.scaled.size(); ++i) c.scaled.data()[i] *= net.input_scale();
            input = &c.scaled;
        }
        detail::forward_train(net.stem(), *input, c.stem_out, c.stem);
        detail::forward_train(net.pruned_layer(), c.stem_out, c.conv_out, c.pruned);
        detail::forward_train(net.reduce(), c.conv_out, c.features, c.reduce);
    } else {
        net.features(images, c.features);
    }
    detail::forward_train(net.head(), c.features, logits, c.head);
}

/// Backward pass: stores every trained layer's gradients in the layer. dlogits is consumed.
template <class Net>
void backward(Net& net, NetworkTrainCache<Net>& c, Tensor& dlogits) {
    if (!c.trunk) {
        detail::backward(net.head(), c.head, dlogits, nullptr);
        return;
    }
    detail::backward(net.head(), c.head, dlogits, &c.dfeatures);
    detail::backward(net.reduce(), c.reduce, c.dfeatures, &c.dconv);
    detail::backward(net.pruned_layer(), c.pruned, c.dconv, &c.dstem);
    detail::backward(net.stem(), c.stem, c.dstem, nullptr);
}

}  // namespace prunedef
