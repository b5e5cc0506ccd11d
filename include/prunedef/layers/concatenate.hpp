#pragma once
// Concatenate (Keras Concatenate, axis -1): the inputs' channels one after another at every
// position; all inputs have the same height and width ({1, 1, n} vectors concatenate too).

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/layers/layer_base.hpp>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace prunedef {

class Concatenate : public detail::LeafLayer<Concatenate> {
public:
    static constexpr bool has_weights = false;

    explicit Concatenate(std::string name = "concatenate") : detail::LeafLayer<Concatenate>(std::move(name)) {}

    /// At least one input; all of the same height and width.
    ImageShape output_shape(const std::vector<ImageShape>& in) const {
        if (in.empty()) throw shape_error("layer " + this->name() + ": no inputs");
        ImageShape out{in[0].height, in[0].width, 0};
        for (std::size_t i = 0; i < in.size(); ++i) {
            if (in[i].height != out.height || in[i].width != out.width)
                throw shape_error("layer " + this->name() + ": input " + std::to_string(i) + " has shape " +
                                  in[i].str() + ", input 0 has " + in[0].str() +
                                  " (Concatenate joins channels of equal height and width)");
            out.channels += in[i].channels;
        }
        return out;
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
        Tensor& cat = aliased ? own : out;
        const std::size_t batch = in[0]->batch(), positions = batch * shape.height * shape.width;
        cat.resize(batch, shape);
        std::size_t first = 0;
        for (const Tensor* t : in) {
            const std::size_t c = t->channels();
            const float* src = t->data();
            float* dst = cat.data() + first;
            for (std::size_t p = 0; p < positions; ++p)
                std::memcpy(dst + p * shape.channels, src + p * c, c * sizeof(float));
            first += c;
        }
        if (aliased) out = std::move(own);
    }
};

}  // namespace prunedef
