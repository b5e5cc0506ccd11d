#pragma once
// DeepID, the network of the CSAW-HackML-2020 challenge (and of ../shared/fmnist_badnet):
//
//   conv_1 pool_1 conv_2 pool_2 | conv_3 | pool_3 | add_1(flatten_1 -> fc_1,
//                                                         conv_4 -> flatten_2 -> fc_2)
//                                                   -> activation_1 (ReLU) -> output
//
// The same type runs the 55x47x3 face networks and the 28x28x1 Fashion-MNIST BadNet: every size
// comes from the weights. conv_3 is the pruned layer and pool_3 gives the features.

#include <prunedef/core/activation.hpp>
#include <prunedef/layers/activation.hpp>
#include <prunedef/layers/conv2d.hpp>
#include <prunedef/layers/dense.hpp>
#include <prunedef/layers/flatten.hpp>
#include <prunedef/layers/maxpool2d.hpp>
#include <prunedef/layers/sequential.hpp>
#include <prunedef/layers/sum.hpp>
#include <prunedef/model/network.hpp>

namespace prunedef {

using DeepIDStem = Sequential<Conv2D<Relu>, MaxPool2D, Conv2D<Relu>, MaxPool2D>;
using DeepIDFc1Branch = Sequential<Flatten, Dense<Linear>>;
using DeepIDConv4Branch = Sequential<Conv2D<Relu>, Flatten, Dense<Linear>>;
using DeepIDHead = Sequential<Sum<DeepIDFc1Branch, DeepIDConv4Branch>, Activation<Relu>, Dense<Linear>>;

/// The DeepID topology as a type.
using DeepID = Network<DeepIDStem, Conv2D<Relu>, MaxPool2D, DeepIDHead>;

/// A DeepID with Keras' layer names and layer order, ready for load_keras_weights().
inline DeepID make_deepid() {
    return DeepID(
        DeepIDStem(Conv2D<Relu>("conv_1"), MaxPool2D("pool_1"), Conv2D<Relu>("conv_2"), MaxPool2D("pool_2")),
        Conv2D<Relu>("conv_3"), MaxPool2D("pool_3"),
        DeepIDHead(Sum<DeepIDFc1Branch, DeepIDConv4Branch>(
                       DeepIDFc1Branch(Flatten("flatten_1"), Dense<Linear>("fc_1")),
                       DeepIDConv4Branch(Conv2D<Relu>("conv_4"), Flatten("flatten_2"), Dense<Linear>("fc_2")), "add_1"),
                   Activation<Relu>("activation_1"), Dense<Linear>("output")),
        {"input", "conv_1", "pool_1", "conv_2", "pool_2", "conv_3", "pool_3", "conv_4", "flatten_1", "flatten_2",
         "fc_1", "fc_2", "add_1", "activation_1", "output"});
}

}  // namespace prunedef
