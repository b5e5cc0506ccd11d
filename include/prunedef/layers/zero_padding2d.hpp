#pragma once
// ZeroPadding2D (Keras, channels_last): rows of zeros added at the top and bottom, columns at
// the left and right of every image.

#include <prunedef/core/tensor.hpp>
#include <prunedef/layers/layer_base.hpp>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

namespace prunedef {

class ZeroPadding2D : public detail::LeafLayer<ZeroPadding2D> {
public:
    static constexpr bool has_weights = false;

    ZeroPadding2D(std::string name, std::size_t top, std::size_t bottom, std::size_t left, std::size_t right)
        : detail::LeafLayer<ZeroPadding2D>(std::move(name)), top_(top), bottom_(bottom), left_(left), right_(right) {}

    std::size_t top() const { return top_; }
    std::size_t bottom() const { return bottom_; }
    std::size_t left() const { return left_; }
    std::size_t right() const { return right_; }

    ImageShape output_shape(const ImageShape& in) const {
        if (in.height == 0 || in.width == 0 || in.channels == 0)
            throw shape_error("layer " + this->name() + ": input " + in.str() + " is empty");
        return {in.height + top_ + bottom_, in.width + left_ + right_, in.channels};
    }

    void forward(const Tensor& in, Tensor& out) const {
        const ImageShape is = in.shape(), os = output_shape(is);
        out.resize(in.batch(), os);
        std::fill(out.data(), out.data() + out.size(), 0.0f);
        const std::size_t row = is.width * is.channels;
        for (std::size_t n = 0; n < in.batch(); ++n)
            for (std::size_t y = 0; y < is.height; ++y)
                std::memcpy(out.image(n) + ((y + top_) * os.width + left_) * os.channels, in.image(n) + y * row,
                            row * sizeof(float));
    }

private:
    std::size_t top_, bottom_, left_, right_;
};

}  // namespace prunedef
