#pragma once
// Sharpness-aware minimisation (Foret, Kleiner, Mobahi and Neyshabur, "Sharpness-Aware
// Minimization for Efficiently Improving Generalization", ICLR 2021): a step first moves the
// weights to w + rho g / ||g|| (g the mini-batch gradient at w, ||g|| the Euclidean norm over every
// trained array together), computes the gradient there, puts the weights back and lets the
// optimizer step from w with that second gradient. Zhu, Zhang, Wu, Wang and Yang ("Enhancing
// Fine-Tuning Based Backdoor Defense with Sharpness-Aware Minimization", ICCV 2023, FT-SAM) fine-
// tune backdoored networks with the adaptive form (below), whose perturbation of each weight grows
// with the weight. Cost: two forward and backward passes per step, about twice a plain fine-tuning
// step (on DeepID as on any network).
//
// Adaptive SAM (ASAM; Kwon, Kim, Park and Choi, "ASAM: Adaptive Sharpness-Aware Minimization for
// Scale-Invariant Learning of Deep Neural Networks", ICML 2021, element-wise operator T_w = |w|):
// w += rho w^2 g / ||w g|| (products element-wise). A weight of 0, such as a pruned channel's, is
// not moved, and no layer's perturbation is dominated by another's gradient scale: plain SAM on a
// network that reads raw pixels (0..255) puts nearly all of rho on conv_1, whose gradient is the
// largest (benchmarks/README.md, FT-SAM).
// The norm is summed in double in a fixed order (arrays in visit order, entries in storage
// order): the perturbation does not depend on the thread count.

#include <prunedef/core/error.hpp>
#include <prunedef/layers/parameter_ref.hpp>
#include <prunedef/training/optimizer.hpp>

#include <cmath>
#include <vector>

namespace prunedef {

/// The ascent half of a SAM step: perturb() moves the weights of params along their gradients to
/// the radius rho, restore() puts back the weights it saved. Gradients are left as they are.
class SamPerturbation {
public:
    /// w += rho g / ||g|| for every trained array (adaptive: w += rho w^2 g / ||w g||); nothing (and
    /// restore() a no-op) when rho is 0 or the norm is zero. Returns the norm, ||g|| or ||w g||.
    double perturb(const std::vector<ParameterRef>& params, float rho, bool adaptive = false) {
        if (!(rho >= 0.0f) || !std::isfinite(rho)) throw argument_error("SAM: rho must be finite and >= 0");
        saved_.clear();
        double sum = 0.0;
        for (const ParameterRef& p : params) {
            const auto& w = *p.value;
            const auto& g = *p.gradient;
            for (std::size_t i = 0; i < g.size(); ++i) {
                const double t = adaptive ? double(w[i]) * double(g[i]) : double(g[i]);
                sum += t * t;
            }
        }
        const double norm = std::sqrt(sum);
        if (!std::isfinite(norm)) throw numeric_error("SAM: the gradient is not finite");
        if (rho == 0.0f || norm == 0.0) return norm;
        const double scale = double(rho) / norm;
        saved_.reserve(params.size());
        for (const ParameterRef& p : params) {
            saved_.push_back(*p.value);
            auto& w = *p.value;
            const auto& g = *p.gradient;
            for (std::size_t i = 0; i < w.size(); ++i) {
                const double wi = w[i];
                w[i] = static_cast<float>(wi + scale * (adaptive ? wi * wi : 1.0) * double(g[i]));
            }
        }
        detail::parameters_changed(params);
        return norm;
    }
    /// The weights as perturb() found them.
    void restore(const std::vector<ParameterRef>& params) {
        if (saved_.empty()) return;
        for (std::size_t p = 0; p < params.size(); ++p) *params[p].value = saved_[p];
        saved_.clear();
        detail::parameters_changed(params);
    }
    bool perturbed() const { return !saved_.empty(); }

private:
    std::vector<detail::AlignedFloats> saved_;
};

}  // namespace prunedef
