#pragma once
// Which adjacent layers run as one fused kernel: a Conv2D followed by a MaxPool2D
// (Conv2D::forward_pooled). Sequential and Network use this; the results are identical.

#include <prunedef/layers/conv2d.hpp>
#include <prunedef/layers/maxpool2d.hpp>

#include <type_traits>

namespace prunedef {
namespace detail {

template <class First, class Second>
struct fuses_with : std::false_type {};
template <class Activation>
struct fuses_with<Conv2D<Activation>, MaxPool2D> : std::true_type {};

/// Runs first then second, fused when they can be.
template <class First, class Second>
void forward_pair(const First& first, const Second& second, const Tensor& in, Tensor& out) {
    if constexpr (fuses_with<First, Second>::value) {
        first.forward_pooled(in, second.pool(), second.stride(), out);
    } else {
        thread_local Tensor between;
        first.forward(in, between);
        second.forward(between, out);
    }
}

}  // namespace detail
}  // namespace prunedef
