#pragma once
// Training of networks assembled at run time (GraphNetwork, model/graph_network.hpp): the
// forward_train / backward / parameters the generic training code (training/backprop.hpp,
// training/trainer.hpp, fine_pruning/fine_pruning.hpp) calls, for GraphSegment (stem, head) and
// GraphLayer (pruned layer, reduce). The ops' backward passes are in layers/layer_backward.hpp,
// the segment's in model/graph_segment.hpp.
//
// Train a network built with GraphSplit::fold_batch_norm = false (and fuse = false, so no
// convolution is computed twice): a folded BatchNormalization refuses to train. Batch
// normalisation trains in inference mode (moving statistics frozen, gamma and beta trained).
// rebuild_graph_network() makes the fast folded network of the trained weights.

#include <prunedef/core/tensor.hpp>
#include <prunedef/layers/parameter_ref.hpp>
#include <prunedef/model/graph_layer.hpp>
#include <prunedef/model/graph_network.hpp>
#include <prunedef/model/graph_segment.hpp>

#include <vector>

namespace prunedef {
namespace detail {

template <class Layer>
struct TrainCache;  // training/backprop.hpp

template <>
struct TrainCache<GraphSegment> {
    GraphSegment::Trace trace;
};
template <>
struct TrainCache<GraphLayer> {
    GraphSegment::Trace trace;
};

inline void forward_train(const GraphSegment& s, const Tensor& in, Tensor& out, TrainCache<GraphSegment>& c) {
    s.forward_train(in, out, c.trace);
}
inline void backward(GraphSegment& s, TrainCache<GraphSegment>& c, Tensor& dout, Tensor* din) {
    s.backward(c.trace, dout, din);
}
inline void forward_train(const GraphLayer& l, const Tensor& in, Tensor& out, TrainCache<GraphLayer>& c) {
    l.forward_train(in, out, c.trace);
}
inline void backward(GraphLayer& l, TrainCache<GraphLayer>& c, Tensor& dout, Tensor* din) {
    l.backward(c.trace, dout, din);
}

inline void append(std::vector<ParameterRef>& to, std::vector<ParameterRef> from) {
    for (auto& p : from) to.push_back(std::move(p));
}

}  // namespace detail

/// Every trainable array of the network (stem, pruned layer, reduce, head), in that order.
inline std::vector<ParameterRef> parameters(GraphNetwork& net) {
    std::vector<ParameterRef> out = net.stem().parameters();
    detail::append(out, net.pruned_layer().parameters());
    detail::append(out, net.reduce().parameters());
    detail::append(out, net.head().parameters());
    return out;
}
/// The trainable arrays of the layers after the pruned one.
inline std::vector<ParameterRef> head_parameters(GraphNetwork& net) { return net.head().parameters(); }

}  // namespace prunedef
