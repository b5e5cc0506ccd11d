#pragma once
// GraphNetwork: a network assembled at run time from a ModelSpec (model/layer_spec.hpp) and its
// weights, on the same kernels as the compile-time types, split like every Network:
//
//   input -> Stem (all ancestors of the pruned layer) -> pruned layer (a Conv2D or Dense)
//         -> Reduce (the pooling that is the pruned layer's only reader, or identity)
//         -> Head (everything else; reads only Reduce's output and its own nodes) -> logits
//
// so the defense (ranking, sweep, stopping rule, Masked<Net>, GoodNet<Net, Masked<Net>>,
// prune_channels) runs on it unchanged. The model's final softmax is dropped (logits are
// pre-softmax, as for DeepID; the argmax is the same); a softmax anywhere else is computed. A
// Conv2D or Dense read only by a BatchNormalization has it folded in
// (model/batch_norm_folding.hpp), except the pruned layer.
//
// The default pruned layer is the last Conv2D (in topological order) at which the graph can be
// split so, i.e. the last convolution whose (pooled) output feeds the dense layers; found from
// the graph, not by name (conv_3 in DeepID: conv_4 lies on a branch beside pool_3's other reader).

#include <prunedef/core/error.hpp>
#include <prunedef/model/batch_norm_folding.hpp>
#include <prunedef/model/graph_layer.hpp>
#include <prunedef/model/graph_segment.hpp>
#include <prunedef/model/keras_layer_ops.hpp>
#include <prunedef/model/layer_spec.hpp>
#include <prunedef/model/network.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace prunedef {

using GraphNetwork = Network<GraphSegment, GraphLayer, GraphLayer, GraphSegment>;

/// Where a GraphNetwork is split: the layer to prune (empty: the default, see above) and whether
/// the features are taken after the pooling layer that directly follows it (as
/// ActivationSite::pooled) or at its output.
///
/// For training (training/graph_backprop.hpp), build with fold_batch_norm and fuse false: every
/// BatchNormalization stays a layer of its own (trained in Keras' parametrisation, gamma and
/// beta) and every op keeps its own output; rebuild_graph_network() turns the trained network
/// back into the fast one.
struct GraphSplit {
    std::string layer;
    bool pooled = true;
    bool fold_batch_norm = true;  // fold a BatchNormalization into the Conv2D / Dense before it
    bool fuse = true;             // run a convolution and the max pooling reading it as one kernel
};

namespace detail {

/// A ModelSpec's layers as a graph: indices in the spec's order, which is topological.
struct SpecGraph {
    const ModelSpec* spec = nullptr;
    std::map<std::string, std::size_t> index;
    std::vector<std::vector<std::size_t>> inputs, readers;
    std::size_t output = 0;             // the layer giving the logits (a final softmax layer dropped)
    std::optional<std::size_t> logits_layer_without_softmax;  // its fused softmax is dropped
    std::vector<char> live;             // ancestors of the output (and the output)

    const LayerSpec& layer(std::size_t i) const { return spec->layers[i]; }
    std::string where() const { return spec->source.empty() ? std::string("model") : spec->source; }
    std::string activation_of(std::size_t i) const {
        return logits_layer_without_softmax == i ? std::string("linear") : layer(i).activation;
    }
};

inline SpecGraph spec_graph(const ModelSpec& spec) {
    SpecGraph g;
    g.spec = &spec;
    const std::string where = spec.source.empty() ? std::string("model") : spec.source;
    if (spec.layers.empty()) throw format_error(where + ": the model has no layers");
    if (spec.layers[0].class_name != "InputLayer" || spec.layers[0].name != spec.input)
        throw format_error(where + ": the first layer must be the InputLayer " + spec.input + ", found " +
                           spec.layers[0].name + " (" + spec.layers[0].class_name + ")");
    const std::size_t n = spec.layers.size();
    g.inputs.resize(n);
    g.readers.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const LayerSpec& l = spec.layers[i];
        if (!g.index.emplace(l.name, i).second) throw format_error(where + ": two layers are named " + l.name);
        check_layer_supported(spec, l);
        if (i > 0 && l.class_name == "InputLayer")
            throw argument_error(spec_where(spec, l) + ": a second input; only models with one input are supported");
        const bool multi = reads_several(l.class_name);
        const std::size_t want = l.class_name == "InputLayer" ? 0 : 1;
        if (multi ? l.inputs.size() < 2 : l.inputs.size() != want)
            throw format_error(spec_where(spec, l) + ": reads " + std::to_string(l.inputs.size()) +
                               " tensors, expected " + (multi ? std::string("2 or more") : std::to_string(want)));
        for (const auto& in : l.inputs) {
            const auto it = g.index.find(in);
            if (it == g.index.end())
                throw format_error(spec_where(spec, l) + ": reads " + in + ", which is not a layer before it");
            g.inputs[i].push_back(it->second);
            g.readers[it->second].push_back(i);
        }
    }
    // Ranks of the layers' outputs (4: an image, 2: a vector), for the axis of BatchNormalization
    // and Concatenate, which must be the channels: -1 or rank - 1.
    std::vector<int> rank(n, 4);
    for (std::size_t i = 1; i < n; ++i) {
        const LayerSpec& l = spec.layers[i];
        const std::string& c = l.class_name;
        const int in_rank = rank[g.inputs[i].at(0)];
        rank[i] = c == "Flatten" || c == "Dense" || c == "GlobalAveragePooling2D" || c == "GlobalMaxPooling2D" ? 2 : in_rank;
        if ((c == "BatchNormalization" || c == "Concatenate") && l.axis != -1 && l.axis != in_rank - 1)
            throw argument_error(spec_where(spec, l) + ": axis " + std::to_string(l.axis) + " of a " +
                                 std::to_string(in_rank) + "-D tensor is not the channel axis (" +
                                 std::to_string(in_rank - 1) + " or -1); only the channel axis is supported");
    }
    const auto out = g.index.find(spec.output);
    if (out == g.index.end()) throw format_error(where + ": the output layer " + spec.output + " is not a layer");
    g.output = out->second;
    // the final softmax: a Softmax / Activation('softmax') layer is skipped, a fused one dropped
    const LayerSpec& last = spec.layers[g.output];
    if (last.class_name == "Softmax" || (last.class_name == "Activation" && last.activation == "softmax"))
        g.output = g.inputs[g.output][0];
    else if (last.activation == "softmax" && (last.class_name == "Dense" || last.class_name == "Conv2D"))
        g.logits_layer_without_softmax = g.output;
    g.live.assign(n, 0);
    g.live[g.output] = 1;
    for (std::size_t i = n; i-- > 0;)
        if (g.live[i])
            for (auto j : g.inputs[i]) g.live[j] = 1;
    return g;
}

/// The split of a SpecGraph at a pruned layer (indices into the spec).
struct GraphPartition {
    std::vector<std::size_t> stem;
    std::size_t pruned = 0;
    std::optional<std::size_t> reduce;
    std::vector<std::size_t> head;
};

/// Splits at layer p or throws argument_error naming the layer that prevents it.
inline GraphPartition partition_at(const SpecGraph& g, std::size_t p, bool pooled) {
    const LayerSpec& pl = g.layer(p);
    const std::string at = g.where() + ": cannot split the network at layer " + pl.name + ": ";
    if (!g.live[p]) throw argument_error(at + "it does not feed the output " + g.spec->output);
    if (p == g.output) throw argument_error(at + "it gives the model's output, so nothing would follow it");
    const std::size_t n = g.inputs.size();
    std::vector<char> stem(n, 0);
    for (auto j : g.inputs[p]) stem[j] = 1;
    for (std::size_t i = p; i-- > 0;)
        if (stem[i])
            for (auto j : g.inputs[i]) stem[j] = 1;
    GraphPartition part;
    part.pruned = p;
    std::vector<std::size_t> live_readers;
    for (auto r : g.readers[p])
        if (g.live[r]) live_readers.push_back(r);
    if (pooled) {
        const auto pool = std::find_if(live_readers.begin(), live_readers.end(),
                                       [&](std::size_t r) { return is_pooling_class(g.layer(r).class_name); });
        if (pool != live_readers.end()) {
            for (auto r : live_readers)
                if (r != *pool)
                    throw argument_error(at + "its output is read by the pooling " + g.layer(*pool).name +
                                         " and also by layer " + g.layer(r).name);
            part.reduce = *pool;
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (stem[i]) part.stem.push_back(i);
        else if (i != p && part.reduce != i && g.live[i]) part.head.push_back(i);
    }
    for (auto h : part.head)
        for (auto j : g.inputs[h]) {
            if (stem[j])
                throw argument_error(at + "layer " + g.layer(h).name + " reads " + g.layer(j).name +
                                     ", which is computed before it (a connection around the pruned layer)");
            if (part.reduce && j == p)
                throw argument_error(at + "its output is read by the pooling " + g.layer(*part.reduce).name +
                                     " and also by layer " + g.layer(h).name);
        }
    return part;
}

/// The default pruned layer: the last Conv2D at which the graph splits.
inline GraphPartition default_partition(const SpecGraph& g, bool pooled) {
    std::string why;
    for (std::size_t i = g.inputs.size(); i-- > 0;) {
        if (g.layer(i).class_name != "Conv2D" || !g.live[i]) continue;
        try {
            return partition_at(g, i, pooled);
        } catch (const argument_error& e) {
            if (why.empty()) why = e.what();
        }
    }
    throw argument_error(g.where() + ": no Conv2D layer at which the network splits into stem, pruned layer and "
                         "head" + (why.empty() ? std::string(" (it has no convolution)") : " (last tried: " + why + ")") +
                         "; name the layer to prune");
}

/// The BatchNormalization that layer i can be folded into within a segment: i is a Conv2D or
/// Dense with a linear activation whose only reader is that BatchNormalization.
inline std::optional<std::size_t> foldable_batch_norm(const SpecGraph& g, std::size_t i,
                                                      const std::vector<std::size_t>& segment) {
    const std::string& c = g.layer(i).class_name;
    if ((c != "Conv2D" && c != "Dense") || g.activation_of(i) != "linear") return std::nullopt;
    std::optional<std::size_t> reader;
    for (auto r : g.readers[i]) {
        if (!g.live[r]) continue;
        if (reader) return std::nullopt;
        reader = r;
    }
    if (!reader || g.layer(*reader).class_name != "BatchNormalization" ||
        std::find(segment.begin(), segment.end(), *reader) == segment.end())
        return std::nullopt;
    return reader;
}

/// The segment computing the given layers; `ids` maps the layers whose outputs are the
/// segment's input to GraphSegment::input_id; it ends at layer `result`.
inline GraphSegment build_segment(const SpecGraph& g, const ModelWeights& weights, const std::vector<std::size_t>& layers,
                                  std::map<std::size_t, int> ids, std::size_t result, const std::string& name,
                                  const GraphSplit& options = {}) {
    GraphSegment seg(name);
    std::map<std::size_t, std::size_t> folded;  // BatchNormalization -> the layer it is folded into
    for (auto i : layers) {
        if (const auto f = folded.find(i); f != folded.end()) {
            ids[i] = ids.at(f->second);
            continue;
        }
        std::vector<std::unique_ptr<GraphOp>> ops;
        bool done = false;
        if (const auto bn = options.fold_batch_norm ? foldable_batch_norm(g, i, layers) : std::nullopt) {
            if (auto f = folded_batch_norm_ops(*g.spec, g.layer(i), g.layer(*bn), weights)) {
                ops = std::move(*f);
                folded[*bn] = i;
                done = true;
            }
        }
        if (!done) ops = keras_layer_ops(*g.spec, g.layer(i), weights, g.activation_of(i));
        std::vector<int> in;
        for (auto j : g.inputs[i]) in.push_back(ids.at(j));
        if (ops.empty()) {  // passes its input through
            ids[i] = g.layer(i).class_name == "InputLayer" ? GraphSegment::input_id : in.at(0);
            continue;
        }
        int id = 0;
        for (auto& op : ops) {
            id = seg.add(std::move(op), in);
            in = {id};
        }
        ids[i] = id;
    }
    const int expect = ids.at(result);
    if (expect != (seg.empty() ? GraphSegment::input_id : static_cast<int>(seg.size()) - 1))
        throw argument_error(g.where() + ": segment " + name + " does not end at layer " + g.layer(result).name);
    seg.finish(options.fuse);
    return seg;
}

inline GraphLayer build_graph_layer(const SpecGraph& g, const ModelWeights& weights, std::size_t i) {
    const LayerSpec& l = g.layer(i);
    GraphSegment chain(l.name);
    int id = GraphSegment::input_id;
    for (auto& op : keras_layer_ops(*g.spec, l, weights, g.activation_of(i))) id = chain.add(std::move(op), {id});
    return GraphLayer(l.name, l.class_name, g.activation_of(i), std::move(chain));
}

/// Refuses weights for layers the spec does not have.
inline void check_weights_match(const SpecGraph& g, const ModelWeights& weights) {
    for (const auto& [name, arrays] : weights)
        if (!arrays.empty() && !g.index.count(name))
            throw format_error(g.where() + ": weights for layer " + name + ", which the model does not have");
}

}  // namespace detail

/// Builds the network a ModelSpec describes, with its weights, split at split.layer (or the
/// default). Binds it when the spec states the input shape. Throws argument_error for layers,
/// settings and splits prunedef cannot compute exactly, format_error for missing, extra or
/// misshapen weights, shape_error when the sizes do not fit together.
inline GraphNetwork build_graph_network(const ModelSpec& spec, const ModelWeights& weights, const GraphSplit& split = {}) {
    const detail::SpecGraph g = detail::spec_graph(spec);
    detail::check_weights_match(g, weights);
    detail::GraphPartition part;
    if (split.layer.empty()) {
        part = detail::default_partition(g, split.pooled);
    } else {
        const auto it = g.index.find(split.layer);
        if (it == g.index.end())
            throw argument_error(g.where() + ": no layer named " + split.layer + " to prune");
        const LayerSpec& l = g.layer(it->second);
        if (l.class_name != "Conv2D" && l.class_name != "Dense")
            throw argument_error(g.where() + ": layer " + l.name + " is a " + l.class_name +
                                 "; only a Conv2D (channels) or a Dense layer (neurons) can be pruned");
        part = detail::partition_at(g, it->second, split.pooled);
    }
    // every live layer's ops are built (and checked) once; dead layers only checked
    for (std::size_t i = 0; i < spec.layers.size(); ++i)
        if (!g.live[i]) detail::check_layer_supported(spec, spec.layers[i]);

    const std::size_t p = part.pruned;
    GraphSegment stem = detail::build_segment(g, weights, part.stem, {}, g.inputs[p].at(0), "stem", split);
    GraphLayer pruned = detail::build_graph_layer(g, weights, p);
    GraphLayer reduce = part.reduce ? detail::build_graph_layer(g, weights, *part.reduce) : GraphLayer("identity");
    const std::size_t features = part.reduce ? *part.reduce : p;
    GraphSegment head =
        detail::build_segment(g, weights, part.head, {{features, GraphSegment::input_id}}, g.output, "head", split);
    std::vector<std::string> order;
    for (const auto& l : spec.layers) order.push_back(l.name);
    GraphNetwork net(std::move(stem), std::move(pruned), std::move(reduce), std::move(head), std::move(order));
    if (spec.layers[0].input_shape) net.bind(*spec.layers[0].input_shape);
    return net;
}

/// Every weighted layer's weights under Keras' names without ":0" ("kernel", "bias", ...), in
/// the shapes Keras stores (a layer built without a bias has no "bias"), for writing the network
/// in its model's own file format.
inline ModelWeights graph_weights(const GraphNetwork& net) {
    ModelWeights out;
    net.stem().keras_weights(out);
    net.pruned_layer().keras_weights(out);
    net.reduce().keras_weights(out);
    net.head().keras_weights(out);
    return out;
}

/// The network `net` (built from spec) rebuilt with its current weights: the same split, input
/// scale and bound input shape, with BatchNormalization folded and pairs fused or not as given
/// (GraphSplit's fold_batch_norm and fuse; its layer and pooled are taken from net). Used to
/// train a network without folding and to make the fast network of the trained weights.
inline GraphNetwork rebuild_graph_network(const ModelSpec& spec, const GraphNetwork& net, bool fold_batch_norm,
                                          bool fuse) {
    GraphSplit split;
    split.layer = net.pruned_layer().name();
    split.pooled = !net.reduce().is_identity();
    split.fold_batch_norm = fold_batch_norm;
    split.fuse = fuse;
    GraphNetwork out = build_graph_network(spec, graph_weights(net), split);
    out.set_input_scale(net.input_scale());
    if (net.bound()) out.bind(net.input_shape());
    return out;
}

}  // namespace prunedef
