#pragma once
// StridedConv2D: a Keras Conv2D with any strides, valid padding, bias and fused activation
// (Linear, Relu, Sigmoid, Tanh or any element-wise activation of core/activation.hpp). Sizes come
// from the weights. 'same' padding runs as a ZeroPadding2D (layers/padding.hpp's same_padding)
// before it; stride-1 convolutions have the faster Conv2D (layers/conv2d.hpp), which this equals
// bit for bit with strides 1 (same micro-kernel, kernels/strided_conv2d.hpp). The kernel is kept
// packed, repacked when the weights change (the generation contract of layers/layer_base.hpp).

#include <prunedef/core/activation.hpp>
#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/kernels/conv2d.hpp>
#include <prunedef/kernels/packed_kernel_cache.hpp>
#include <prunedef/kernels/strided_conv2d.hpp>
#include <prunedef/layers/layer_base.hpp>
#include <prunedef/layers/weights.hpp>

#include <cassert>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace prunedef {

template <class Activation = Linear>
class StridedConv2D : public detail::LeafLayer<StridedConv2D<Activation>>, public detail::KernelAndBias {
    static_assert(detail::check_kernel_activation<Activation>());

public:
    using activation = Activation;
    static constexpr bool has_weights = true;

    /// Strides (rows, columns) must be positive.
    explicit StridedConv2D(std::string name = "conv", std::size_t stride_h = 1, std::size_t stride_w = 1)
        : detail::LeafLayer<StridedConv2D<Activation>>(std::move(name)), geometry_{{0, 0, 0, 0}, stride_h, stride_w} {
        if (stride_h == 0 || stride_w == 0)
            throw argument_error("layer " + this->name() + ": strides (" + std::to_string(stride_h) + ", " +
                                 std::to_string(stride_w) + ") must be positive");
    }

    std::size_t kernel_h() const { return geometry_.conv.kernel_h; }
    std::size_t kernel_w() const { return geometry_.conv.kernel_w; }
    std::size_t in_channels() const { return geometry_.conv.in_channels; }
    std::size_t out_channels() const { return geometry_.conv.out_channels; }
    std::size_t stride_h() const { return geometry_.stride_h; }
    std::size_t stride_w() const { return geometry_.stride_w; }
    const detail::StridedConvGeometry& geometry() const { return geometry_; }

    /// Kernel (kh, kw, cin, cout) and bias (cout), Keras' "kernel" and "bias".
    void set_weights(std::vector<WeightArray> w) {
        const auto kd = take_weights(this->name(), w, 4, "kernel (kh, kw, cin, cout) and bias (cout)");
        geometry_.conv = {kd[0], kd[1], kd[2], kd[3]};
        repack();
    }
    /// Call after writing the kernel or bias through a reference or pointer kept from before.
    void weights_changed() {
        next_generation();
        repack();
    }
    std::vector<WeightArray> weights() const {
        return {{"kernel", {kernel_h(), kernel_w(), in_channels(), out_channels()}, {kernel_.begin(), kernel_.end()}},
                {"bias", {out_channels()}, {bias_.begin(), bias_.end()}}};
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

    void forward(const Tensor& in, Tensor& out) const { strided_conv2d<Activation>(in, geometry_, packed_kernel(), out); }

    /// The kernel packed for the micro-kernel, current for the weights' generation.
    const detail::PackedKernel& packed_kernel() const {
        const detail::PackedKernel& p = packed_.get(generation(), [this](detail::PackedKernel& out) { pack(out); });
        assert(packed_weights_current() &&
               "StridedConv2D weights written through a kept pointer without weights_changed()");
        return p;
    }
    /// Whether the packed kernel is of the current generation and equals the kernel and bias.
    bool packed_weights_current() const {
        if (!packed_.is_generation(generation())) return false;
        const detail::PackedKernel& p = packed_.peek();
        const std::size_t cout = out_channels(), width = std::size_t(p.packets) * detail::packet_size;
        const std::size_t rows = geometry_.conv.patch_size();
        if (width < cout || p.bias.size() != width || p.weights.size() != rows * width) return false;
        for (std::size_t r = 0; r < rows; ++r)
            if (std::memcmp(p.weights.data() + r * width, kernel_.data() + r * cout, cout * sizeof(float)) != 0)
                return false;
        return std::memcmp(p.bias.data(), bias_.data(), cout * sizeof(float)) == 0;
    }

private:
    void pack(detail::PackedKernel& out) const {
        detail::pack_kernel(geometry_.conv, kernel_.data(), bias_.data(), out);
    }
    void repack() {
        packed_.repack(generation(), [this](detail::PackedKernel& out) { pack(out); });
    }

    detail::StridedConvGeometry geometry_;
    detail::PackedCache<detail::PackedKernel> packed_;
};

}  // namespace prunedef
