#pragma once
// Flatten: an NHWC image already lies in Keras' (H, W, C) flatten order, so this only relabels
// the shape as 1 x 1 x (H*W*C).

#include <prunedef/core/tensor.hpp>
#include <prunedef/layers/layer_base.hpp>

#include <string>
#include <utility>

namespace prunedef {

class Flatten : public detail::LeafLayer<Flatten> {
public:
    static constexpr bool has_weights = false;

    explicit Flatten(std::string name = "flatten") : detail::LeafLayer<Flatten>(std::move(name)) {}

    ImageShape output_shape(const ImageShape& in) const { return {1, 1, in.size()}; }
    void forward(const Tensor& in, Tensor& out) const {
        out = in;
        out.reshape({1, 1, in.image_size()});
    }
};

}  // namespace prunedef
