#pragma once
// Conv2D layer: valid padding, stride 1, bias, fused activation. Sizes come from the weights.

#include <prunedef/core/activation.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/kernels/conv2d.hpp>
#include <prunedef/layers/weights.hpp>

#include <string>
#include <utility>
#include <vector>

namespace prunedef {

template <class Activation = Linear>
class Conv2D {
public:
    using activation = Activation;
    static constexpr bool has_weights = true;

    explicit Conv2D(std::string name = "conv") : name_(std::move(name)) {}

    const std::string& name() const { return name_; }
    std::size_t kernel_h() const { return geometry_.kernel_h; }
    std::size_t kernel_w() const { return geometry_.kernel_w; }
    std::size_t in_channels() const { return geometry_.in_channels; }
    std::size_t out_channels() const { return geometry_.out_channels; }
    const detail::ConvGeometry& geometry() const { return geometry_; }

    /// (kh, kw, cin, cout) row-major, i.e. a (kh*kw*cin) x cout matrix.
    const std::vector<float>& kernel() const { return kernel_; }
    std::vector<float>& kernel() { return kernel_; }
    const std::vector<float>& bias() const { return bias_; }
    std::vector<float>& bias() { return bias_; }

    /// Gradients of the loss with respect to kernel and bias, filled by training (sized on first
    /// use; empty in inference-only networks).
    std::vector<float>& kernel_gradient() {
        kernel_grad_.resize(kernel_.size());
        return kernel_grad_;
    }
    std::vector<float>& bias_gradient() {
        bias_grad_.resize(bias_.size());
        return bias_grad_;
    }

    void set_weights(std::vector<WeightArray> w) {
        detail::check_weight_ranks(name_, w, {4, 1}, "kernel (kh, kw, cin, cout) and bias (cout)");
        const auto& kd = w[0].dims;
        if (kd[0] == 0 || kd[1] == 0 || kd[2] == 0 || kd[3] == 0)
            throw shape_error("layer " + name_ + ": kernel shape " + detail::dims_str(kd) + " has a zero dimension");
        if (w[1].dims[0] != kd[3])
            throw shape_error("layer " + name_ + ": bias has shape " + detail::dims_str(w[1].dims) +
                              ", expected (" + std::to_string(kd[3]) + ",) to match kernel " + detail::dims_str(kd));
        geometry_ = {kd[0], kd[1], kd[2], kd[3]};
        kernel_ = std::move(w[0].values);
        bias_ = std::move(w[1].values);
    }
    std::vector<WeightArray> weights() const {
        return {{"kernel:0", {kernel_h(), kernel_w(), in_channels(), out_channels()}, kernel_},
                {"bias:0", {out_channels()}, bias_}};
    }

    ImageShape output_shape(const ImageShape& in) const {
        if (kernel_.empty()) throw shape_error("layer " + name_ + ": no weights loaded");
        if (in.channels != in_channels())
            throw shape_error("layer " + name_ + ": input has " + std::to_string(in.channels) +
                              " channels, kernel expects " + std::to_string(in_channels()));
        if (in.height < kernel_h() || in.width < kernel_w())
            throw shape_error("layer " + name_ + ": input " + in.str() + " is smaller than the " +
                              std::to_string(kernel_h()) + "x" + std::to_string(kernel_w()) + " kernel");
        return geometry_.output_shape(in);
    }

    void forward(const Tensor& in, Tensor& out) const {
        conv2d<Activation>(in, geometry_, kernel_.data(), bias_.data(), out);
    }

    template <class F>
    void visit(F&& f) { f(*this); }
    template <class F>
    void visit(F&& f) const { f(*this); }

private:
    std::string name_;
    detail::ConvGeometry geometry_{0, 0, 0, 0};
    std::vector<float> kernel_, bias_;
    std::vector<float> kernel_grad_, bias_grad_;
};

}  // namespace prunedef
