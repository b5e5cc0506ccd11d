#pragma once
// Sequential<Layers...>: layers applied one after another; the chain is a type.

#include <prunedef/core/tensor.hpp>
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

    void forward(const Tensor& in, Tensor& out) const { forward_from<0>(in, out); }

    template <class F>
    void visit(F&& f) { std::apply([&](auto&... l) { (l.visit(f), ...); }, layers_); }
    template <class F>
    void visit(F&& f) const { std::apply([&](const auto&... l) { (l.visit(f), ...); }, layers_); }

private:
    template <std::size_t I>
    void forward_from(const Tensor& in, Tensor& out) const {
        if constexpr (I + 1 == sizeof...(Layers)) {
            std::get<I>(layers_).forward(in, out);
        } else if constexpr (detail::fuses_with<std::tuple_element_t<I, std::tuple<Layers...>>,
                                                std::tuple_element_t<I + 1, std::tuple<Layers...>>>::value) {
            // a convolution and its pooling as one kernel
            if constexpr (I + 2 == sizeof...(Layers)) {
                detail::forward_pair(std::get<I>(layers_), std::get<I + 1>(layers_), in, out);
            } else {
                thread_local Tensor next;
                detail::forward_pair(std::get<I>(layers_), std::get<I + 1>(layers_), in, next);
                forward_from<I + 2>(next, out);
            }
        } else {
            // Intermediate results live in per-thread buffers that keep their allocation between
            // calls: a fresh 50 MB tensor per layer per batch costs more than the layer itself.
            thread_local Tensor next;
            std::get<I>(layers_).forward(in, next);
            forward_from<I + 1>(next, out);
        }
    }

    std::tuple<Layers...> layers_;
};

}  // namespace prunedef
