#pragma once
// GlobalPooling2D<Op>: Keras GlobalMaxPooling2D and GlobalAveragePooling2D (channels_last,
// keepdims false): the max or mean of each channel over all positions, a {1, 1, C} output.

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/kernels/pooling2d.hpp>
#include <prunedef/layers/layer_base.hpp>

#include <string>
#include <utility>

namespace prunedef {

template <class Op>
class GlobalPooling2D : public detail::LeafLayer<GlobalPooling2D<Op>> {
    static_assert(detail::is_pooling_op<Op>(), "GlobalPooling2D<Op>: Op is MaxPooling or AveragePooling");

public:
    using op = Op;
    static constexpr bool has_weights = false;

    explicit GlobalPooling2D(std::string name = "global_pooling")
        : detail::LeafLayer<GlobalPooling2D<Op>>(std::move(name)) {}

    ImageShape output_shape(const ImageShape& in) const {
        if (in.height == 0 || in.width == 0 || in.channels == 0)
            throw shape_error("layer " + this->name() + ": input " + in.str() + " is empty");
        return {1, 1, in.channels};
    }
    void forward(const Tensor& in, Tensor& out) const {
        output_shape(in.shape());
        global_pool2d<Op>(in, out);
    }
};

using GlobalMaxPooling2D = GlobalPooling2D<MaxPooling>;
using GlobalAveragePooling2D = GlobalPooling2D<AveragePooling>;

}  // namespace prunedef
