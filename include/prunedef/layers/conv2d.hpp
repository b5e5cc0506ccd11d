#pragma once
// Conv2D layer: valid padding, stride 1, bias, fused activation. Sizes come from the weights.

#include <prunedef/core/activation.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/kernels/conv2d.hpp>
#include <prunedef/kernels/conv2d_maxpool.hpp>
#include <prunedef/kernels/packed_kernel_cache.hpp>
#include <prunedef/layers/layer_base.hpp>
#include <prunedef/layers/weights.hpp>

#include <string>
#include <utility>
#include <vector>

namespace prunedef {

template <class Activation = Linear>
class Conv2D : public detail::LeafLayer<Conv2D<Activation>>, public detail::KernelAndBias {
public:
    using activation = Activation;
    static constexpr bool has_weights = true;

    explicit Conv2D(std::string name = "conv") : detail::LeafLayer<Conv2D<Activation>>(std::move(name)) {}

    std::size_t kernel_h() const { return geometry_.kernel_h; }
    std::size_t kernel_w() const { return geometry_.kernel_w; }
    std::size_t in_channels() const { return geometry_.in_channels; }
    std::size_t out_channels() const { return geometry_.out_channels; }
    const detail::ConvGeometry& geometry() const { return geometry_; }

    /// Kernel (kh, kw, cin, cout) and bias (cout); the kernel is row-major, i.e. a
    /// (kh*kw*cin) x cout matrix.
    void set_weights(std::vector<WeightArray> w) {
        const auto kd = take_weights(this->name(), w, 4, "kernel (kh, kw, cin, cout) and bias (cout)");
        geometry_ = {kd[0], kd[1], kd[2], kd[3]};
    }
    std::vector<WeightArray> weights() const {
        return {{"kernel:0", {kernel_h(), kernel_w(), in_channels(), out_channels()}, {kernel_.begin(), kernel_.end()}},
                {"bias:0", {out_channels()}, {bias_.begin(), bias_.end()}}};
    }

    ImageShape output_shape(const ImageShape& in) const {
        const std::string& name = this->name();
        if (kernel_.empty()) throw shape_error("layer " + name + ": no weights loaded");
        if (in.channels != in_channels())
            throw shape_error("layer " + name + ": input has " + std::to_string(in.channels) +
                              " channels, kernel expects " + std::to_string(in_channels()));
        if (in.height < kernel_h() || in.width < kernel_w())
            throw shape_error("layer " + name + ": input " + in.str() + " is smaller than the " +
                              std::to_string(kernel_h()) + "x" + std::to_string(kernel_w()) + " kernel");
        return geometry_.output_shape(in);
    }

    void forward(const Tensor& in, Tensor& out) const {
        const auto packed = packed_.get(geometry_, kernel_.data(), bias_.data(), output_width(in));
        conv2d<Activation>(in, geometry_, *packed, kernel_.data(), bias_.data(), out);
    }
    /// This layer followed by max pooling, fused (see kernels/conv2d_maxpool.hpp).
    void forward_pooled(const Tensor& in, std::size_t pool, std::size_t stride, Tensor& out) const {
        const auto packed = packed_.get(geometry_, kernel_.data(), bias_.data(), output_width(in));
        conv2d_maxpool<Activation>(in, geometry_, *packed, kernel_.data(), bias_.data(), pool, stride, out);
    }

private:
    std::size_t output_width(const Tensor& in) const { return geometry_.output_shape(in.shape()).width; }

    detail::ConvGeometry geometry_{0, 0, 0, 0};
    detail::PackedKernelCache packed_;  // the kernel packed for the micro-kernel, checked against kernel_ on use
};

}  // namespace prunedef
