#pragma once
// Sum<A, B>: two branches applied to the same input, their outputs added (Keras Add over two
// paths). DeepID's fc_1 path and conv_4 -> fc_2 path meet this way.

#include <prunedef/core/tensor.hpp>
#include <prunedef/core/workspace.hpp>
#include <prunedef/kernels/elementwise.hpp>
#include <prunedef/layers/fusion.hpp>

#include <string>
#include <utility>

namespace prunedef {

template <class BranchA, class BranchB>
class Sum {
public:
    static constexpr bool has_weights = false;
    static constexpr bool is_composite = true;

    Sum() = default;
    Sum(BranchA a, BranchB b, std::string name = "add") : a_(std::move(a)), b_(std::move(b)), name_(std::move(name)) {}

    const std::string& name() const { return name_; }
    BranchA& first() { return a_; }
    const BranchA& first() const { return a_; }
    BranchB& second() { return b_; }
    const BranchB& second() const { return b_; }

    ImageShape output_shape(const ImageShape& in) const {
        const ImageShape sa = a_.output_shape(in), sb = b_.output_shape(in);
        if (sa != sb)
            throw shape_error("layer " + name_ + ": branches produce " + sa.str() + " and " + sb.str());
        return sa;
    }
    /// The branches' outputs go to scratch from ws.
    void forward(const Tensor& in, Tensor& out, Workspace& ws) const {
        detail::ScratchFrame frame(ws);
        Tensor& ta = frame.tensor();
        Tensor& tb = frame.tensor();
        detail::forward_layer(a_, in, ta, ws);
        detail::forward_layer(b_, in, tb, ws);
        add(ta, tb, out);
    }
    /// With scratch of its own for this call (pass a Workspace to reuse memory between calls).
    void forward(const Tensor& in, Tensor& out) const {
        Workspace ws;
        forward(in, out, ws);
    }

    template <class F>
    void visit(F&& f) {
        a_.visit(f);
        b_.visit(f);
        f(*this);
    }
    template <class F>
    void visit(F&& f) const {
        a_.visit(f);
        b_.visit(f);
        f(*this);
    }

private:
    BranchA a_;
    BranchB b_;
    std::string name_ = "add";
};

}  // namespace prunedef
