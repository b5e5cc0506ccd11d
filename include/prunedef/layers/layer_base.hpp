#pragma once
// What the leaf layers share: LeafLayer gives the Keras layer name and visit(); KernelAndBias
// holds a kernel and a bias (Keras "kernel:0" and "bias:0"), their gradients, the checks
// Conv2D and Dense apply when weights arrive, and the weights' generation.
//
// The generation tells a layer when the packed copy it computes with (Conv2D's packed kernel,
// Dense's padded tail columns; kernels/packed_kernel_cache.hpp) is out of date. Contract:
//   - set_weights() and weights_changed() count a new generation (and the layer repacks at once);
//   - the non-const kernel() and bias() count a new generation as well, so writing through them
//     (`layer.kernel()[i] = v`, zero_channels) is seen by the next forward, which repacks once;
//   - whoever keeps a reference or pointer and writes through it later, after a forward pass has
//     run (the optimizers keep their parameter pointers across steps), calls weights_changed()
//     after writing: the optimizers' step() does so for every layer it wrote. Builds without
//     NDEBUG check on every forward pass that the packed copy equals the weights.

#include <prunedef/core/error.hpp>
#include <prunedef/core/workspace.hpp>
#include <prunedef/layers/weights.hpp>

#include <Eigen/Core>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace prunedef {
namespace detail {

template <class Derived>
class LeafLayer {
public:
    explicit LeafLayer(std::string name) : name_(std::move(name)) {}
    const std::string& name() const { return name_; }

    /// Calls f on this layer (composites call it on each of their leaves).
    template <class F>
    void visit(F&& f) { f(static_cast<Derived&>(*this)); }
    template <class F>
    void visit(F&& f) const { f(static_cast<const Derived&>(*this)); }

private:
    std::string name_;
};

// Parameters are AlignedFloats (core/workspace.hpp), aligned for the widest SIMD packets:
// Eigen's products peel unaligned leading elements, so with 16-byte malloc alignment and AVX-512
// the summation order (and the last bits of a result) would depend on where the allocator put
// the weights.

class KernelAndBias {
public:
    const AlignedFloats& kernel() const { return kernel_; }
    /// Write access: counts a new generation (see the contract at the top of this file).
    AlignedFloats& kernel() {
        ++generation_;
        return kernel_;
    }
    const AlignedFloats& bias() const { return bias_; }
    AlignedFloats& bias() {
        ++generation_;
        return bias_;
    }

    /// Counts the generation of the weights: a layer's packed copy is current when it was made
    /// for this generation.
    std::uint64_t generation() const { return generation_; }

    /// Gradients of the loss with respect to kernel and bias, filled by training (sized on first
    /// use; empty in inference-only networks).
    AlignedFloats& kernel_gradient() {
        kernel_grad_.resize(kernel_.size());
        return kernel_grad_;
    }
    AlignedFloats& bias_gradient() {
        bias_grad_.resize(bias_.size());
        return bias_grad_;
    }

protected:
    /// Checks [kernel, bias] (kernel of the given rank, no zero dimension, bias as long as the
    /// kernel's last dimension, finite values), takes their values and returns the kernel shape.
    std::vector<std::size_t> take_weights(const std::string& layer, std::vector<WeightArray>& w, std::size_t kernel_rank,
                                          const char* what) {
        check_weight_ranks(layer, w, {kernel_rank, 1}, what);
        const std::vector<std::size_t> kd = w[0].dims;
        for (auto d : kd)
            if (d == 0) throw shape_error("layer " + layer + ": kernel shape " + dims_str(kd) + " has a zero dimension");
        if (w[1].dims[0] != kd.back())
            throw shape_error("layer " + layer + ": bias has shape " + dims_str(w[1].dims) + ", expected (" +
                              std::to_string(kd.back()) + ",) to match kernel " + dims_str(kd));
        kernel_.assign(w[0].values.begin(), w[0].values.end());
        bias_.assign(w[1].values.begin(), w[1].values.end());
        ++generation_;
        return kd;
    }
    void next_generation() { ++generation_; }

    AlignedFloats kernel_, bias_;

private:
    AlignedFloats kernel_grad_, bias_grad_;
    std::uint64_t generation_ = 0;
};

}  // namespace detail
}  // namespace prunedef
