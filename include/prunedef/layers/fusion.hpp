#pragma once
// Which adjacent layers run as one fused kernel: a Conv2D followed by a MaxPool2D
// (Conv2D::forward_pooled), or layers that decide at run time (fuses_at_run_time). Sequential and
// Network use this; the results are identical.
// forward_layer() runs any layer with a workspace: composites and fused kernels take their
// scratch from it, the other layers need none.

#include <prunedef/core/workspace.hpp>
#include <prunedef/layers/conv2d.hpp>
#include <prunedef/layers/maxpool2d.hpp>

#include <type_traits>
#include <utility>

namespace prunedef {
namespace detail {

template <class First, class Second>
struct fuses_with : std::false_type {};
template <class Activation>
struct fuses_with<Conv2D<Activation>, MaxPool2D> : std::true_type {};

/// Whether First decides at run time whether it fuses with Second: it has
/// bool forward_fused(const Second&, in, out, Workspace&), which returns false, having done
/// nothing, when it does not (the layers of a network assembled at run time).
template <class First, class Second, class = void>
struct fuses_at_run_time : std::false_type {};
template <class First, class Second>
struct fuses_at_run_time<First, Second,
                         std::void_t<decltype(std::declval<const First&>().forward_fused(
                             std::declval<const Second&>(), std::declval<const Tensor&>(), std::declval<Tensor&>(),
                             std::declval<Workspace&>()))>> : std::true_type {};

/// Whether a layer has forward(in, out, Workspace&).
template <class Layer, class = void>
struct takes_workspace : std::false_type {};
template <class Layer>
struct takes_workspace<Layer, std::void_t<decltype(std::declval<const Layer&>().forward(
                                  std::declval<const Tensor&>(), std::declval<Tensor&>(), std::declval<Workspace&>()))>>
    : std::true_type {};

/// layer.forward(in, out), with ws for the layers that need scratch.
template <class Layer>
void forward_layer(const Layer& layer, const Tensor& in, Tensor& out, Workspace& ws) {
    if constexpr (takes_workspace<Layer>::value)
        layer.forward(in, out, ws);
    else
        layer.forward(in, out);
}

/// Runs first then second, fused when they can be.
template <class First, class Second>
void forward_pair(const First& first, const Second& second, const Tensor& in, Tensor& out, Workspace& ws) {
    if constexpr (fuses_with<First, Second>::value) {
        first.forward_pooled(in, second.pool(), second.stride(), out, ws);
    } else {
        if constexpr (fuses_at_run_time<First, Second>::value)
            if (first.forward_fused(second, in, out, ws)) return;
        ScratchFrame frame(ws);
        Tensor& between = frame.tensor();
        forward_layer(first, in, between, ws);
        forward_layer(second, between, out, ws);
    }
}

}  // namespace detail
}  // namespace prunedef
