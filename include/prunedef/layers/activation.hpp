#pragma once
// A stand-alone activation layer (Keras "Activation"), e.g. the ReLU after DeepID's add_1.
// Any activation of core/activation.hpp: element-wise ones on every value, Softmax over the last
// axis (the channels of every position; the whole output after Flatten or Dense).

#include <prunedef/core/activation.hpp>
#include <prunedef/kernels/elementwise.hpp>
#include <prunedef/layers/layer_base.hpp>

#include <string>
#include <utility>

namespace prunedef {

template <class Function>
class Activation : public detail::LeafLayer<Activation<Function>> {
public:
    using function = Function;
    static constexpr bool has_weights = false;

    explicit Activation(std::string name = "activation") : detail::LeafLayer<Activation<Function>>(std::move(name)) {}

    ImageShape output_shape(const ImageShape& in) const { return in; }
    void forward(const Tensor& in, Tensor& out) const {
        out = in;
        activate<Function>(out);
    }
};

}  // namespace prunedef
