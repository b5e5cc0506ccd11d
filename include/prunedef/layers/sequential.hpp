#pragma once
// Sequential<Layers...>: layers applied one after another; the chain is a type. The results
// between layers live in a Workspace (core/workspace.hpp) that keeps their memory between calls:
// a fresh 50 MB tensor per layer per batch costs more than the layer itself.

#include <prunedef/core/tensor.hpp>
#include <prunedef/core/workspace.hpp>
#include <prunedef/layers/fusion.hpp>

#include <tuple>
#include <utility>

namespace prunedef {

template <class... Layers>
class Sequential {
    static_assert(sizeof...(Layers) > 0, "Sequential needs at least one layer");

public:
    static constexpr bool has_weights = false;  // a composite: its leaves carry the weights
    static constexpr bool is_composite = true;

    Sequential() = default;
    explicit Sequential(Layers... layers) : layers_(std::move(layers)...) {}

    template <std::size_t I>
    auto& layer() { return std::get<I>(layers_); }
    template <std::size_t I>
    const auto& layer() const { return std::get<I>(layers_); }

    ImageShape output_shape(ImageShape in) const {
        std::apply([&](const auto&... l) { ((in = l.output_shape(in)), ...); }, layers_);
        return in;
    }

    void forward(const Tensor& in, Tensor& out, Workspace& ws) const { forward_from<0>(in, out, ws); }
    /// With scratch of its own for this call (pass a Workspace to reuse memory between calls).
    void forward(const Tensor& in, Tensor& out) const {
        Workspace ws;
        forward(in, out, ws);
    }

    template <class F>
    void visit(F&& f) { std::apply([&](auto&... l) { (l.visit(f), ...); }, layers_); }
    template <class F>
    void visit(F&& f) const { std::apply([&](const auto&... l) { (l.visit(f), ...); }, layers_); }

private:
    template <std::size_t I>
    void forward_from(const Tensor& in, Tensor& out, Workspace& ws) const {
        if constexpr (I + 1 == sizeof...(Layers)) {
            detail::forward_layer(std::get<I>(layers_), in, out, ws);
        } else if constexpr (detail::fuses_with<std::tuple_element_t<I, std::tuple<Layers...>>,
                                                std::tuple_element_t<I + 1, std::tuple<Layers...>>>::value) {
            // a convolution and its pooling as one kernel
            if constexpr (I + 2 == sizeof...(Layers)) {
                detail::forward_pair(std::get<I>(layers_), std::get<I + 1>(layers_), in, out, ws);
            } else {
                detail::ScratchFrame frame(ws);
                Tensor& next = frame.tensor();
                detail::forward_pair(std::get<I>(layers_), std::get<I + 1>(layers_), in, next, ws);
                forward_from<I + 2>(next, out, ws);
            }
        } else {
            detail::ScratchFrame frame(ws);
            Tensor& next = frame.tensor();
            detail::forward_layer(std::get<I>(layers_), in, next, ws);
            forward_from<I + 1>(next, out, ws);
        }
    }

    std::tuple<Layers...> layers_;
};

}  // namespace prunedef
