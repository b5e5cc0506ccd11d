#pragma once
// Add (Keras Add): the sum of n inputs of the same shape, in input order ((a + b) + c, as Keras
// adds them). Inputs of different shapes are refused, never broadcast. (Sum<A, B>,
// layers/sum.hpp, is the compile-time form over two branches.)

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/layers/layer_base.hpp>

#include <string>
#include <utility>
#include <vector>

namespace prunedef {

class Add : public detail::LeafLayer<Add> {
public:
    static constexpr bool has_weights = false;

    explicit Add(std::string name = "add") : detail::LeafLayer<Add>(std::move(name)) {}

    /// At least one input; all of the same shape.
    ImageShape output_shape(const std::vector<ImageShape>& in) const {
        if (in.empty()) throw shape_error("layer " + this->name() + ": no inputs");
        for (std::size_t i = 1; i < in.size(); ++i)
            if (in[i] != in[0])
                throw shape_error("layer " + this->name() + ": input " + std::to_string(i) + " has shape " +
                                  in[i].str() + ", input 0 has " + in[0].str() + " (Add needs equal shapes)");
        return in[0];
    }

    /// out may be one of the inputs.
    void forward(const std::vector<const Tensor*>& in, Tensor& out) const {
        std::vector<ImageShape> shapes;
        for (const Tensor* t : in) shapes.push_back(t->shape());
        const ImageShape shape = output_shape(shapes);
        for (std::size_t i = 1; i < in.size(); ++i)
            if (in[i]->batch() != in[0]->batch())
                throw shape_error("layer " + this->name() + ": input " + std::to_string(i) + " holds " +
                                  std::to_string(in[i]->batch()) + " images, input 0 " +
                                  std::to_string(in[0]->batch()));
        bool aliased = false;
        for (const Tensor* t : in) aliased = aliased || t == &out;
        Tensor own;
        Tensor& sum = aliased ? own : out;
        sum.resize(in[0]->batch(), shape);
        float* s = sum.data();
        const std::size_t n = sum.size();
        const float* a = in[0]->data();
        for (std::size_t k = 0; k < n; ++k) s[k] = a[k];
        for (std::size_t i = 1; i < in.size(); ++i) {
            const float* b = in[i]->data();
            for (std::size_t k = 0; k < n; ++k) s[k] += b[k];
        }
        if (aliased) out = std::move(own);
    }
};

}  // namespace prunedef
