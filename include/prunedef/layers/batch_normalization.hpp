#pragma once
// BatchNormalization (Keras, inference, the channels axis last): per channel
// y = x * inv + (beta - moving_mean * inv) with inv = gamma / sqrt(moving_variance + epsilon),
// computed as tf.nn.batch_normalization does (inv = 1 / sqrt(var + epsilon), then inv *= gamma,
// in float). Works on any input whose last axis has the layer's channels ({1, 1, C} after Dense
// or Flatten too). multipliers() and offsets() give inv and the shift, e.g. to fold the layer
// into the convolution before it.

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/layers/layer_base.hpp>
#include <prunedef/layers/weights.hpp>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace prunedef {

class BatchNormalization : public detail::LeafLayer<BatchNormalization> {
public:
    static constexpr bool has_weights = true;

    /// epsilon must be finite and not negative; center: the layer has beta; scale: it has gamma.
    BatchNormalization(std::string name, float epsilon = 1e-3f, bool center = true, bool scale = true)
        : detail::LeafLayer<BatchNormalization>(std::move(name)), epsilon_(epsilon), center_(center), scale_(scale) {
        if (!std::isfinite(epsilon) || epsilon < 0)
            throw argument_error("layer " + this->name() + ": epsilon " + std::to_string(epsilon) +
                                 " must be finite and not negative");
    }

    float epsilon() const { return epsilon_; }
    bool center() const { return center_; }
    bool scale() const { return scale_; }
    std::size_t channels() const { return mean_.size(); }

    /// Keras' order: [gamma (if scale), beta (if center), moving_mean, moving_variance], each (C,).
    void set_weights(std::vector<WeightArray> w) {
        const std::string& name = this->name();
        const std::size_t count = (scale_ ? 1 : 0) + (center_ ? 1 : 0) + 2;
        const std::string what = std::string(scale_ ? "gamma, " : "") + (center_ ? "beta, " : "") +
                                 "moving_mean and moving_variance, each (channels,)";
        detail::check_weight_ranks(name, w, std::vector<std::size_t>(count, 1), what.c_str());
        const std::size_t C = w[0].dims[0];
        if (C == 0) throw shape_error("layer " + name + ": weight " + w[0].name + " has no channels");
        for (const auto& a : w)
            if (a.dims[0] != C)
                throw shape_error("layer " + name + ": weight " + a.name + " has shape " + detail::dims_str(a.dims) +
                                  ", expected (" + std::to_string(C) + ",) like " + w[0].name);
        std::size_t i = 0;
        std::vector<float> gamma = scale_ ? w[i++].values : std::vector<float>(C, 1.0f);
        std::vector<float> beta = center_ ? w[i++].values : std::vector<float>(C, 0.0f);
        std::vector<float> mean = w[i++].values, variance = w[i++].values;
        std::vector<float> rsqrt(C);
        for (std::size_t c = 0; c < C; ++c) {
            const float v = variance[c] + epsilon_;
            if (!(v > 0))
                throw format_error("layer " + name + ": moving_variance " + std::to_string(variance[c]) +
                                   " of channel " + std::to_string(c) + " plus epsilon is not positive");
            rsqrt[c] = 1.0f / std::sqrt(v);
            if (!std::isfinite(rsqrt[c]))
                throw format_error("layer " + name + ": channel " + std::to_string(c) +
                                   " normalises with a non-finite factor (moving_variance + epsilon = " +
                                   std::to_string(v) + ")");
        }
        std::vector<float> inv, shift;
        factors(gamma.data(), beta.data(), mean, rsqrt, inv, shift);  // throws before anything changes
        gamma_.assign(gamma.begin(), gamma.end());
        beta_.assign(beta.begin(), beta.end());
        mean_ = std::move(mean);
        variance_ = std::move(variance);
        rsqrt_ = std::move(rsqrt);
        inv_ = std::move(inv);
        shift_ = std::move(shift);
    }

    // Training (inference mode, as Keras fine-tunes a BatchNormalization layer called with
    // training=False): gamma and beta are trained, moving_mean and moving_variance stay frozen.
    /// gamma and beta for writing; call weights_changed() after writing them.
    detail::AlignedFloats& gamma() { return gamma_; }
    detail::AlignedFloats& beta() { return beta_; }
    const detail::AlignedFloats& gamma() const { return gamma_; }
    const detail::AlignedFloats& beta() const { return beta_; }
    /// 1 / sqrt(moving_variance + epsilon) per channel.
    const std::vector<float>& inverse_deviations() const { return rsqrt_; }
    const std::vector<float>& moving_mean() const { return mean_; }
    /// Gradients of the loss with respect to gamma and beta (sized on first use).
    detail::AlignedFloats& gamma_gradient() {
        gamma_grad_.resize(gamma_.size());
        return gamma_grad_;
    }
    detail::AlignedFloats& beta_gradient() {
        beta_grad_.resize(beta_.size());
        return beta_grad_;
    }
    /// Recomputes the per-channel factors after gamma or beta were written; throws format_error
    /// (the layer unchanged) when a factor is not finite.
    void weights_changed() { factors(gamma_.data(), beta_.data(), mean_, rsqrt_, inv_, shift_); }

    std::vector<WeightArray> weights() const {
        std::vector<WeightArray> w;
        const std::vector<std::size_t> dims{channels()};
        if (scale_) w.push_back({"gamma", dims, {gamma_.begin(), gamma_.end()}});
        if (center_) w.push_back({"beta", dims, {beta_.begin(), beta_.end()}});
        w.push_back({"moving_mean", dims, mean_});
        w.push_back({"moving_variance", dims, variance_});
        return w;
    }

    /// Per channel: inv = gamma / sqrt(moving_variance + epsilon) and beta - moving_mean * inv.
    const std::vector<float>& multipliers() const { return inv_; }
    const std::vector<float>& offsets() const { return shift_; }

    ImageShape output_shape(const ImageShape& in) const {
        if (mean_.empty()) throw shape_error("layer " + this->name() + ": no weights loaded");
        if (in.channels != channels())
            throw shape_error("layer " + this->name() + ": input " + in.str() + " has " + std::to_string(in.channels) +
                              " channels (last axis), the layer normalises " + std::to_string(channels()));
        return in;
    }

    /// out may be in (the layer works in place).
    void forward(const Tensor& in, Tensor& out) const {
        output_shape(in.shape());
        out.resize(in.batch(), in.shape());
        const std::size_t C = in.channels(), rows = C == 0 ? 0 : in.size() / C;
        const float* x = in.data();
        float* y = out.data();
        const float* inv = inv_.data();
        const float* shift = shift_.data();
        for (std::size_t r = 0; r < rows; ++r, x += C, y += C)
            for (std::size_t c = 0; c < C; ++c) y[c] = x[c] * inv[c] + shift[c];
    }

private:
    /// inv = rsqrt * gamma (as tf.nn.batch_normalization: 1 / sqrt(var + epsilon), then times
    /// gamma, in float) and shift = beta - mean * inv.
    void factors(const float* gamma, const float* beta, const std::vector<float>& mean, const std::vector<float>& rsqrt,
                 std::vector<float>& inv, std::vector<float>& shift) const {
        const std::size_t C = mean.size();
        std::vector<float> i(C), s(C);
        for (std::size_t c = 0; c < C; ++c) {
            i[c] = rsqrt[c];
            i[c] *= gamma[c];
            s[c] = beta[c] - mean[c] * i[c];
            if (!std::isfinite(i[c]) || !std::isfinite(s[c]))
                throw format_error("layer " + this->name() + ": channel " + std::to_string(c) +
                                   " normalises with a non-finite factor (gamma " + std::to_string(gamma[c]) +
                                   ", beta " + std::to_string(beta[c]) + ")");
        }
        inv = std::move(i);
        shift = std::move(s);
    }

    float epsilon_;
    bool center_, scale_;
    detail::AlignedFloats gamma_, beta_, gamma_grad_, beta_grad_;
    std::vector<float> mean_, variance_, rsqrt_, inv_, shift_;
};

}  // namespace prunedef
