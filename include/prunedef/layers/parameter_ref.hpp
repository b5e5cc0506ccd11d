#pragma once
// ParameterRef: a trainable parameter array and the gradient the backward pass left for it, as
// the optimizers (training/optimizer.hpp) take them; `changed` (when set) tells the owning layer
// that the array was written through this kept pointer (layers/layer_base.hpp's generation
// contract); the optimizers call it at the end of each step.

#include <prunedef/core/workspace.hpp>

#include <functional>

namespace prunedef {

struct ParameterRef {
    detail::AlignedFloats* value;
    detail::AlignedFloats* gradient;
    std::function<void()> changed = {};
};

}  // namespace prunedef
