#pragma once
// Dense layer: out = Activation(in * kernel + bias); kernel (in, out) as Keras stores it.

#include <prunedef/core/activation.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/kernels/dense.hpp>
#include <prunedef/layers/weights.hpp>

#include <string>
#include <utility>
#include <vector>

namespace prunedef {

template <class Activation = Linear>
class Dense {
public:
    using activation = Activation;
    static constexpr bool has_weights = true;

    explicit Dense(std::string name = "dense") : name_(std::move(name)) {}

    const std::string& name() const { return name_; }
    std::size_t in_features() const { return in_; }
    std::size_t out_features() const { return out_; }
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
        detail::check_weight_ranks(name_, w, {2, 1}, "kernel (in, out) and bias (out)");
        const auto& kd = w[0].dims;
        if (kd[0] == 0 || kd[1] == 0)
            throw shape_error("layer " + name_ + ": kernel shape " + detail::dims_str(kd) + " has a zero dimension");
        if (w[1].dims[0] != kd[1])
            throw shape_error("layer " + name_ + ": bias has shape " + detail::dims_str(w[1].dims) +
                              ", expected (" + std::to_string(kd[1]) + ",) to match kernel " + detail::dims_str(kd));
        in_ = kd[0];
        out_ = kd[1];
        kernel_ = std::move(w[0].values);
        bias_ = std::move(w[1].values);
    }
    std::vector<WeightArray> weights() const { return {{"kernel:0", {in_, out_}, kernel_}, {"bias:0", {out_}, bias_}}; }

    ImageShape output_shape(const ImageShape& in) const {
        if (kernel_.empty()) throw shape_error("layer " + name_ + ": no weights loaded");
        if (in.size() != in_)
            throw shape_error("layer " + name_ + ": input has " + std::to_string(in.size()) + " features (" +
                              in.str() + "), kernel expects " + std::to_string(in_));
        return {1, 1, out_};
    }

    void forward(const Tensor& in, Tensor& out) const {
        dense<Activation>(in, kernel_.data(), bias_.data(), out_, out);
    }

    template <class F>
    void visit(F&& f) { f(*this); }
    template <class F>
    void visit(F&& f) const { f(*this); }

private:
    std::string name_;
    std::size_t in_ = 0, out_ = 0;
    std::vector<float> kernel_, bias_;
    std::vector<float> kernel_grad_, bias_grad_;
};

}  // namespace prunedef
