#pragma once
// Pooling2D<Op>: Keras MaxPooling2D and AveragePooling2D (channels_last) with any pool size,
// strides and padding. 'valid' uses the windows inside the input (floor((in - pool) / stride) + 1
// per axis); 'same' gives ceil(in / stride) and, as TensorFlow, lets padded positions take no
// part (a max ignores them, an average divides by the positions inside the input).
// (MaxPool2D, layers/maxpool2d.hpp, is DeepID's square valid max pooling with its fused paths.)

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/kernels/pooling2d.hpp>
#include <prunedef/layers/layer_base.hpp>
#include <prunedef/layers/padding.hpp>

#include <array>
#include <string>
#include <utility>

namespace prunedef {

template <class Op>
class Pooling2D : public detail::LeafLayer<Pooling2D<Op>> {
    static_assert(detail::is_pooling_op<Op>(), "Pooling2D<Op>: Op is MaxPooling or AveragePooling");

public:
    using op = Op;
    static constexpr bool has_weights = false;

    /// pool {rows, columns} and strides {rows, columns}, all positive (Keras' default strides are
    /// the pool size: the caller passes them).
    Pooling2D(std::string name, std::array<std::size_t, 2> pool, std::array<std::size_t, 2> strides,
              Padding padding = Padding::valid)
        : detail::LeafLayer<Pooling2D<Op>>(std::move(name)), pool_(pool), strides_(strides), padding_(padding) {
        if (pool[0] == 0 || pool[1] == 0 || strides[0] == 0 || strides[1] == 0)
            throw argument_error("layer " + this->name() + ": pool size (" + std::to_string(pool[0]) + ", " +
                                 std::to_string(pool[1]) + ") and strides (" + std::to_string(strides[0]) + ", " +
                                 std::to_string(strides[1]) + ") must be positive");
    }

    std::array<std::size_t, 2> pool_size() const { return pool_; }
    std::array<std::size_t, 2> strides() const { return strides_; }
    Padding padding() const { return padding_; }

    ImageShape output_shape(const ImageShape& in) const { return geometry(in).out; }

    void forward(const Tensor& in, Tensor& out) const { pool2d<Op>(in, geometry(in.shape()), out); }

    /// The windows for an input of shape `in` (throws shape_error when it does not fit).
    detail::PoolGeometry geometry(const ImageShape& in) const {
        if (in.height == 0 || in.width == 0 || in.channels == 0)
            throw shape_error("layer " + this->name() + ": input " + in.str() + " is empty");
        if (padding_ == Padding::same) {
            const auto pad = same_padding(in, pool_, strides_);
            return {pool_[0], pool_[1], strides_[0], strides_[1], pad[0], pad[2],
                    {(in.height + strides_[0] - 1) / strides_[0], (in.width + strides_[1] - 1) / strides_[1],
                     in.channels}};
        }
        if (in.height < pool_[0] || in.width < pool_[1])
            throw shape_error("layer " + this->name() + ": input " + in.str() + " is smaller than the " +
                              std::to_string(pool_[0]) + "x" + std::to_string(pool_[1]) + " pool (padding 'valid')");
        return {pool_[0], pool_[1], strides_[0], strides_[1], 0, 0,
                {(in.height - pool_[0]) / strides_[0] + 1, (in.width - pool_[1]) / strides_[1] + 1, in.channels}};
    }

private:
    std::array<std::size_t, 2> pool_, strides_;
    Padding padding_;
};

using MaxPooling2D = Pooling2D<MaxPooling>;
using AveragePooling2D = Pooling2D<AveragePooling>;

}  // namespace prunedef
