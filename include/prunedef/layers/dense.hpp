#pragma once
// Dense layer: out = Activation(in * kernel + bias); kernel (in, out) as Keras stores it. The
// last out % P columns are kept zero-padded for the kernel, redone when the weights change (see
// the generation contract in layers/layer_base.hpp).

#include <prunedef/core/activation.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/kernels/dense.hpp>
#include <prunedef/kernels/packed_kernel_cache.hpp>
#include <prunedef/layers/layer_base.hpp>
#include <prunedef/layers/weights.hpp>

#include <cassert>
#include <string>
#include <utility>
#include <vector>

namespace prunedef {

template <class Activation = Linear>
class Dense : public detail::LeafLayer<Dense<Activation>>, public detail::KernelAndBias {
public:
    using activation = Activation;
    static constexpr bool has_weights = true;

    explicit Dense(std::string name = "dense") : detail::LeafLayer<Dense<Activation>>(std::move(name)) {}

    std::size_t in_features() const { return in_; }
    std::size_t out_features() const { return out_; }

    /// Kernel (in, out) and bias (out).
    void set_weights(std::vector<WeightArray> w) {
        const auto kd = take_weights(this->name(), w, 2, "kernel (in, out) and bias (out)");
        in_ = kd[0];
        out_ = kd[1];
        repack();
    }
    /// Call after writing the kernel or bias through a reference or pointer kept from before:
    /// counts a new generation and repacks (the optimizers' step() does this).
    void weights_changed() {
        next_generation();
        repack();
    }
    std::vector<WeightArray> weights() const { return {{"kernel:0", {in_, out_}, {kernel_.begin(), kernel_.end()}}, {"bias:0", {out_}, {bias_.begin(), bias_.end()}}}; }

    ImageShape output_shape(const ImageShape& in) const {
        const std::string& name = this->name();
        if (kernel_.empty()) throw shape_error("layer " + name + ": no weights loaded");
        if (in.size() != in_)
            throw shape_error("layer " + name + ": input has " + std::to_string(in.size()) + " features (" +
                              in.str() + "), kernel expects " + std::to_string(in_));
        return {1, 1, out_};
    }

    void forward(const Tensor& in, Tensor& out) const {
        const detail::DenseTail& tail = tail_.get(generation(), [this](detail::DenseTail& t) { pack(t); });
        assert(packed_weights_current() && "Dense weights written through a kept pointer without weights_changed()");
        dense<Activation>(in, kernel_.data(), bias_.data(), out_, tail, out);
    }

    /// Whether the padded tail columns are of the current generation and equal the kernel and bias.
    bool packed_weights_current() const {
        if (!tail_.is_generation(generation())) return false;
        detail::DenseTail now;
        pack(now);
        return now.weights == tail_.peek().weights && now.bias == tail_.peek().bias;
    }

private:
    void pack(detail::DenseTail& t) const { detail::pack_dense_tail(kernel_.data(), bias_.data(), in_, out_, t); }
    void repack() {
        tail_.repack(generation(), [this](detail::DenseTail& t) { pack(t); });
    }

    detail::PackedCache<detail::DenseTail> tail_;  // the last out % P columns, zero-padded
    std::size_t in_ = 0, out_ = 0;
};

}  // namespace prunedef
