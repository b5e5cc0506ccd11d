#pragma once
// Activation functions as types, so that a layer's activation is part of the model's type and
// is fused into the kernel that produces the layer's output.
//
// An element-wise activation provides
//   name                    its Keras name;
//   apply(float)            the function on one value;
//   apply_packet(Packet)    the same on a SIMD packet (Eigen packet math), within ~1e-6 relative
//                           of the exact value, like apply;
//   elementwise             true;
//   zero_preserving         f(0) == 0: only then does zeroing a channel's weights and bias remove
//                           the channel (a pruned channel outputs f(0), which the next layer reads);
//   monotone_nondecreasing  max(f(a), f(b)) == f(max(a, b)): only then may a max-pooling be moved
//                           before the activation.
// Softmax is not element-wise (it normalises over the last axis) and is valid only as the
// output activation of a Dense layer or as a stand-alone Activation layer.
//
// A user-defined activation needs only `apply`; detail::activation_traits gives the conservative
// defaults (element-wise, not zero-preserving, not monotone, applied lane by lane in the kernels).

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <string_view>
#include <type_traits>
#include <utility>

namespace prunedef {

/// f(x) = x (Keras "linear").
struct Linear {
    static constexpr std::string_view name = "linear";
    static constexpr bool elementwise = true;
    static constexpr bool zero_preserving = true;
    static constexpr bool monotone_nondecreasing = true;
    static float apply(float x) { return x; }
    template <class Packet>
    static Packet apply_packet(const Packet& x) {
        return x;
    }
};

/// f(x) = max(x, 0).
struct Relu {
    static constexpr std::string_view name = "relu";
    static constexpr bool elementwise = true;
    static constexpr bool zero_preserving = true;
    static constexpr bool monotone_nondecreasing = true;
    static float apply(float x) { return std::max(x, 0.0f); }
    template <class Packet>
    static Packet apply_packet(const Packet& x) {
        return Eigen::internal::pmax(x, Eigen::internal::pset1<Packet>(0.0f));
    }
};

/// f(x) = 1 / (1 + exp(-x)) (Keras "sigmoid"). f(0) = 0.5: not zero-preserving.
struct Sigmoid {
    static constexpr std::string_view name = "sigmoid";
    static constexpr bool elementwise = true;
    static constexpr bool zero_preserving = false;
    static constexpr bool monotone_nondecreasing = true;
    static float apply(float x) { return 1.0f / (1.0f + std::exp(-x)); }
    /// Eigen's pexp (about 1 ulp); for x < -88 exp(-x) saturates and the result is a tiny
    /// positive number instead of a subnormal one.
    template <class Packet>
    static Packet apply_packet(const Packet& x) {
        using namespace Eigen::internal;
        const Packet one = pset1<Packet>(1.0f);
        return pdiv(one, padd(one, pexp(pnegate(x))));
    }
};

/// f(x) = tanh(x) (Keras "tanh").
struct Tanh {
    static constexpr std::string_view name = "tanh";
    static constexpr bool elementwise = true;
    static constexpr bool zero_preserving = true;
    static constexpr bool monotone_nondecreasing = true;
    static float apply(float x) { return std::tanh(x); }
    /// Eigen's rational approximation, within 4e-7 relative of tanh (SSE, AVX and AVX-512).
    template <class Packet>
    static Packet apply_packet(const Packet& x) {
        return Eigen::internal::ptanh(x);
    }
};

/// Softmax over the last axis (Keras "softmax"): not element-wise; only as the output activation
/// of a Dense layer (Dense<Softmax>) or a stand-alone Activation<Softmax> layer.
struct Softmax {
    static constexpr std::string_view name = "softmax";
    static constexpr bool elementwise = false;
    static constexpr bool zero_preserving = false;
    static constexpr bool monotone_nondecreasing = false;
};

namespace detail {

template <class A, class = void>
struct has_scalar_apply : std::false_type {};
template <class A>
struct has_scalar_apply<A, std::void_t<decltype(A::apply(0.0f))>> : std::true_type {};

// Function templates, not class templates: a SIMD type (e.g. __m128) as a class template
// argument makes GCC warn that its attributes are ignored.
template <class A, class Packet>
constexpr auto packet_apply_detected(int) -> decltype(A::apply_packet(std::declval<const Packet&>()), true) {
    return true;
}
template <class A, class Packet>
constexpr bool packet_apply_detected(...) {
    return false;
}
/// Whether A has apply_packet for this packet type.
template <class A, class Packet>
constexpr bool has_packet_apply() {
    return packet_apply_detected<A, Packet>(0);
}

template <class A, class = void>
struct declared_elementwise : has_scalar_apply<A> {};
template <class A>
struct declared_elementwise<A, std::void_t<decltype(A::elementwise)>> : std::bool_constant<A::elementwise> {};
template <class A, class = void>
struct declared_zero_preserving : std::false_type {};
template <class A>
struct declared_zero_preserving<A, std::void_t<decltype(A::zero_preserving)>> : std::bool_constant<A::zero_preserving> {};
template <class A, class = void>
struct declared_monotone : std::false_type {};
template <class A>
struct declared_monotone<A, std::void_t<decltype(A::monotone_nondecreasing)>>
    : std::bool_constant<A::monotone_nondecreasing> {};

/// The traits of an activation type, with conservative defaults for user-defined ones that
/// declare only apply(): element-wise, not zero-preserving, not monotone.
template <class A>
struct activation_traits {
    static constexpr bool elementwise = declared_elementwise<A>::value && has_scalar_apply<A>::value;
    static constexpr bool zero_preserving = declared_zero_preserving<A>::value;
    static constexpr bool monotone_nondecreasing = declared_monotone<A>::value;
};

}  // namespace detail

}  // namespace prunedef
