#pragma once
// Weight initialisation as Keras does by default: Glorot (Xavier) uniform kernels, zero biases.

#include <cmath>
#include <cstdint>
#include <random>
#include <type_traits>
#include <vector>

#include <prunedef/layers/weights.hpp>

namespace prunedef {

/// A deterministic generator for training (same seed, same numbers on every platform: the
/// standard engines are fully specified; we avoid std::*_distribution, which is not).
class Rng {
public:
    explicit Rng(std::uint64_t seed) : engine_(seed) {}
    /// Uniform in [0, 1).
    double uniform() { return double(engine_() >> 11) * (1.0 / 9007199254740992.0); }
    /// Uniform integer in [0, n).
    std::uint64_t below(std::uint64_t n) { return static_cast<std::uint64_t>(uniform() * double(n)); }
    std::mt19937_64& engine() { return engine_; }

private:
    std::mt19937_64 engine_;
};

/// Glorot-uniform kernel of the given Keras shape ((kh, kw, cin, cout) or (in, out)).
inline WeightArray glorot_uniform(const std::vector<std::size_t>& dims, Rng& rng) {
    WeightArray w{"kernel:0", dims, {}};
    std::size_t receptive = 1;
    for (std::size_t i = 0; i + 2 < dims.size(); ++i) receptive *= dims[i];
    const double fan_in = double(dims[dims.size() - 2] * receptive), fan_out = double(dims.back() * receptive);
    const double limit = std::sqrt(6.0 / (fan_in + fan_out));
    w.values.resize(w.element_count());
    for (auto& v : w.values) v = static_cast<float>((2.0 * rng.uniform() - 1.0) * limit);
    return w;
}

/// Initialises every weighted layer of a network from its kernel shape and bias size.
/// shapes[i] is the kernel shape of the i-th weighted layer in visit order.
template <class Net>
void initialize(Net& net, const std::vector<std::vector<std::size_t>>& kernel_shapes, Rng& rng) {
    std::size_t i = 0;
    net.visit([&](auto& layer) {
        using L = std::decay_t<decltype(layer)>;
        if constexpr (L::has_weights) {
            if (i >= kernel_shapes.size()) throw argument_error("initialize: too few kernel shapes for the network");
            const auto& dims = kernel_shapes[i++];
            layer.set_weights({glorot_uniform(dims, rng), WeightArray{"bias:0", {dims.back()}, std::vector<float>(dims.back(), 0.0f)}});
        }
    });
    if (i != kernel_shapes.size()) throw argument_error("initialize: more kernel shapes than weighted layers");
}

}  // namespace prunedef
