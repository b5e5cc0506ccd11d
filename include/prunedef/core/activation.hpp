#pragma once
// Activation functions as types, so that a layer's activation is part of the model's type and
// is fused into the kernel that produces the layer's output.

#include <algorithm>
#include <string_view>

namespace prunedef {

/// f(x) = x (Keras "linear").
struct Linear {
    static constexpr std::string_view name = "linear";
    static float apply(float x) { return x; }
    static constexpr bool zero_preserving = true;
};

/// f(x) = max(x, 0).
struct Relu {
    static constexpr std::string_view name = "relu";
    static float apply(float x) { return std::max(x, 0.0f); }
    static constexpr bool zero_preserving = true;
};

}  // namespace prunedef
