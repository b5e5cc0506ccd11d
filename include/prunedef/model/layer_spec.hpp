#pragma once
// ModelSpec: a model's architecture as its configuration states it, in Keras' terms and
// independent of the file it came from (a Keras 2 full-model .h5, a Keras 3 .keras archive, a
// model.to_json() file). The Keras readers (io/keras_config.hpp) produce it, checking every
// setting prunedef cannot compute exactly; the graph builder (model/graph_network.hpp) turns it
// and the layers' weights into a network.
//
// A layer's weights travel beside the spec, by layer name, as WeightArrays with Keras' variable
// names without the ":0" suffix: "kernel", "bias" (Conv2D, Dense), "gamma", "beta",
// "moving_mean", "moving_variance" (BatchNormalization, gamma/beta only when scale/center).

#include <prunedef/core/shape.hpp>
#include <prunedef/layers/weights.hpp>

#include <array>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace prunedef {

/// One layer of a model's configuration. Only the fields its class uses are meaningful.
struct LayerSpec {
    std::string name;        ///< Keras layer name, unique in the model
    std::string class_name;  ///< Keras class: InputLayer, Conv2D, Dense, MaxPooling2D, ...
    /// The layers whose outputs it reads, in order (Add and Concatenate read several; InputLayer none).
    std::vector<std::string> inputs;

    // InputLayer: the image shape (height, width, channels).
    std::optional<ImageShape> input_shape;

    // Conv2D (filters), Dense (units): the activation fused into the layer; also the function of
    // an Activation layer. One of linear, relu, sigmoid, tanh, softmax, elu.
    std::string activation = "linear";
    std::size_t units = 0;                       ///< Conv2D filters, Dense units
    bool use_bias = true;                        ///< Conv2D, Dense
    std::array<std::size_t, 2> kernel_size{};    ///< Conv2D (rows, columns)
    std::array<std::size_t, 2> strides{1, 1};    ///< Conv2D, pooling (pooling: defaults to pool_size)
    std::array<std::size_t, 2> pool_size{};      ///< MaxPooling2D, AveragePooling2D
    std::string padding = "valid";               ///< Conv2D, pooling: valid or same
    /// ZeroPadding2D: rows added at the top, bottom, columns at the left, right.
    std::array<std::size_t, 4> zero_padding{};

    /// LeakyReLU negative slope (Keras 2 "alpha", Keras 3 "negative_slope"); ELU's alpha.
    float alpha = 0.0f;

    /// BatchNormalization, Concatenate: the axis as the configuration states it (-1: the last).
    /// Only the channel axis is computed: -1, or rank - 1 of the tensor read (3 for an image, 1 for
    /// a vector after Flatten, Dense or global pooling); the graph builder checks it.
    int axis = -1;

    // BatchNormalization (inference: y = gamma * (x - mean) / sqrt(var + epsilon) + beta).
    float epsilon = 1e-3f;
    bool center = true;
    bool scale = true;
};

/// A model's architecture: layers in the configuration's order (each after the layers it reads),
/// one input layer and one output layer.
struct ModelSpec {
    std::vector<LayerSpec> layers;
    /// Name of the InputLayer; it is always layers[0]. A Sequential model whose input shape is
    /// its first layer's batch_input_shape gets an InputLayer named "<first layer>_input", as Keras 2
    /// names it.
    std::string input;
    std::string output;  ///< name of the layer whose output is the model's output
    /// Where the spec came from ("model.h5: attribute /model_config"), for messages.
    std::string source;

    const LayerSpec* find(const std::string& name) const {
        for (const auto& l : layers)
            if (l.name == name) return &l;
        return nullptr;
    }
};

/// The weights of a model's layers by layer name (weightless layers may be absent).
using ModelWeights = std::map<std::string, std::vector<WeightArray>>;

}  // namespace prunedef
