#pragma once
// Conv2D layer: valid padding, stride 1, bias, fused activation. Sizes come from the weights.
// The kernel is kept packed for the micro-kernel, repacked when the weights change (see the
// generation contract in layers/layer_base.hpp and kernels/packed_kernel_cache.hpp).

#include <prunedef/core/activation.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/core/workspace.hpp>
#include <prunedef/kernels/conv2d.hpp>
#include <prunedef/kernels/conv2d_maxpool.hpp>
#include <prunedef/kernels/packed_kernel_cache.hpp>
#include <prunedef/layers/layer_base.hpp>
#include <prunedef/layers/weights.hpp>

#include <cassert>
#include <cstring>
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
        repack();
    }
    /// Call after writing the kernel or bias through a reference or pointer kept from before:
    /// counts a new generation and repacks (the optimizers' step() does this).
    void weights_changed() {
        next_generation();
        repack();
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
        conv2d<Activation>(in, geometry_, packed_kernel(), kernel_.data(), bias_.data(), out);
    }
    /// This layer followed by max pooling, fused (see kernels/conv2d_maxpool.hpp); the per-thread
    /// convolution rows come from ws.
    void forward_pooled(const Tensor& in, std::size_t pool, std::size_t stride, Tensor& out, Workspace& ws) const {
        detail::ScratchFrame frame(ws);
        conv2d_maxpool<Activation>(in, geometry_, packed_kernel(), kernel_.data(), bias_.data(), pool, stride, out,
                                   frame.floats());
    }
    void forward_pooled(const Tensor& in, std::size_t pool, std::size_t stride, Tensor& out) const {
        Workspace ws;
        forward_pooled(in, pool, stride, out, ws);
    }

    /// The kernel packed for the micro-kernel, current for the weights' generation (packed here
    /// if a mutable access made it stale; safe with concurrent const callers).
    const detail::PackedKernel& packed_kernel() const {
        const detail::PackedKernel& p = packed_.get(generation(), [this](detail::PackedKernel& out) { pack(out); });
        assert(packed_weights_current() && "Conv2D weights written through a kept pointer without weights_changed()");
        return p;
    }
    /// Whether the packed kernel is of the current generation and equals the kernel and bias value
    /// for value (false after a write through a kept pointer without weights_changed()).
    bool packed_weights_current() const {
        if (!packed_.is_generation(generation())) return false;
        const detail::PackedKernel& p = packed_.peek();
        const std::size_t cout = out_channels(), width = std::size_t(p.packets) * detail::packet_size;
        if (width < cout || p.bias.size() != width || p.weights.size() != geometry_.patch_size() * width) return false;
        for (std::size_t r = 0; r < geometry_.patch_size(); ++r)
            if (std::memcmp(p.weights.data() + r * width, kernel_.data() + r * cout, cout * sizeof(float)) != 0)
                return false;
        return std::memcmp(p.bias.data(), bias_.data(), cout * sizeof(float)) == 0;
    }

private:
    void pack(detail::PackedKernel& out) const { detail::pack_kernel(geometry_, kernel_.data(), bias_.data(), out); }
    void repack() {
        packed_.repack(generation(), [this](detail::PackedKernel& out) { pack(out); });
    }

    detail::ConvGeometry geometry_{0, 0, 0, 0};
    detail::PackedCache<detail::PackedKernel> packed_;  // the kernel packed for the micro-kernel
};

}  // namespace prunedef
