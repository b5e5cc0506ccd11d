#pragma once
// Identity: passes its input through; used where a network has no pooling after the pruned
// convolution.

#include <prunedef/core/tensor.hpp>

#include <string>
#include <utility>

namespace prunedef {

class Identity {
public:
    static constexpr bool has_weights = false;

    explicit Identity(std::string name = "identity") : name_(std::move(name)) {}
    const std::string& name() const { return name_; }
    ImageShape output_shape(const ImageShape& in) const { return in; }
    void forward(const Tensor& in, Tensor& out) const { out = in; }

    template <class F>
    void visit(F&&) {}
    template <class F>
    void visit(F&&) const {}

private:
    std::string name_;
};

}  // namespace prunedef
