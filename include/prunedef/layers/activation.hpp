#pragma once
// A stand-alone activation layer (Keras "Activation"), e.g. the ReLU after DeepID's add_1.

#include <prunedef/core/activation.hpp>
#include <prunedef/kernels/elementwise.hpp>

#include <string>
#include <utility>

namespace prunedef {

template <class Function>
class Activation {
public:
    using function = Function;
    static constexpr bool has_weights = false;

    explicit Activation(std::string name = "activation") : name_(std::move(name)) {}
    const std::string& name() const { return name_; }

    ImageShape output_shape(const ImageShape& in) const { return in; }
    void forward(const Tensor& in, Tensor& out) const {
        out = in;
        activate<Function>(out);
    }

    template <class F>
    void visit(F&& f) { f(*this); }
    template <class F>
    void visit(F&& f) const { f(*this); }

private:
    std::string name_;
};

}  // namespace prunedef
