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
        std::vector<float> inv(C), shift(C);
        for (std::size_t c = 0; c < C; ++c) {
            const float v = variance[c] + epsilon_;
            if (!(v > 0))
                throw format_error("layer " + name + ": moving_variance " + std::to_string(variance[c]) +
                                   " of channel " + std::to_string(c) + " plus epsilon is not positive");
            inv[c] = 1.0f / std::sqrt(v);
            inv[c] *= gamma[c];
            shift[c] = beta[c] - mean[c] * inv[c];
            if (!std::isfinite(inv[c]) || !std::isfinite(shift[c]))
                throw format_error("layer " + name + ": channel " + std::to_string(c) +
                                   " normalises with a non-finite factor (moving_variance + epsilon = " +
                                   std::to_string(v) + ")");
        }
        gamma_ = std::move(gamma);
        beta_ = std::move(beta);
        mean_ = std::move(mean);
        variance_ = std::move(variance);
        inv_ = std::move(inv);
        shift_ = std::move(shift);
    }
    std::vector<WeightArray> weights() const {
        std::vector<WeightArray> w;
        const std::vector<std::size_t> dims{channels()};
        if (scale_) w.push_back({"gamma", dims, gamma_});
        if (center_) w.push_back({"beta", dims, beta_});
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
    float epsilon_;
    bool center_, scale_;
    std::vector<float> gamma_, beta_, mean_, variance_, inv_, shift_;
};

}  // namespace prunedef
