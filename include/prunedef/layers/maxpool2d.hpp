#pragma once
// MaxPool2D layer (Keras defaults: pool 2, stride = pool, valid, floor).

#include <prunedef/core/tensor.hpp>
#include <prunedef/layers/layer_base.hpp>
#include <prunedef/kernels/maxpool2d.hpp>

#include <string>
#include <utility>

namespace prunedef {

class MaxPool2D : public detail::LeafLayer<MaxPool2D> {
public:
    static constexpr bool has_weights = false;

    explicit MaxPool2D(std::string name = "pool", std::size_t pool = 2, std::size_t stride = 0)
        : detail::LeafLayer<MaxPool2D>(std::move(name)), pool_(pool), stride_(stride == 0 ? pool : stride) {}

    std::size_t pool() const { return pool_; }
    std::size_t stride() const { return stride_; }

    ImageShape output_shape(const ImageShape& in) const {
        if (pool_ == 0) throw shape_error("layer " + this->name() + ": pool size is 0");
        if (in.height < pool_ || in.width < pool_)
            throw shape_error("layer " + this->name() + ": input " + in.str() + " is smaller than the " +
                              std::to_string(pool_) + "x" + std::to_string(pool_) + " pool");
        return detail::maxpool_output_shape(in, pool_, stride_);
    }
    void forward(const Tensor& in, Tensor& out) const { maxpool2d(in, pool_, stride_, out); }

private:
    std::size_t pool_, stride_;
};

}  // namespace prunedef
