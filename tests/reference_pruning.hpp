#pragma once
// Test references for pruning and GoodNet written without the library's own pruning code: a
// copy of a network whose pruned channels' kernel slices and biases are zero, and the GoodNet
// agreement rule spelled out.

#include <prunedef/prunedef.hpp>

#include <vector>

namespace prunedef_test {

/// A copy of net whose pruned layer has the listed output channels' kernel slices and biases set
/// to zero (not with prune_channels()).
template <class Net>
Net zeroed_copy(const Net& net, const std::vector<std::size_t>& pruned) {
    Net out = net;
    std::vector<prunedef::WeightArray> w = out.pruned_layer().weights();
    const std::size_t C = w[1].values.size();  // kernel (kh, kw, in, out): out is the fastest index
    for (std::size_t c : pruned) {
        for (std::size_t i = c; i < w[0].values.size(); i += C) w[0].values[i] = 0.0f;
        w[1].values[c] = 0.0f;
    }
    out.pruned_layer().set_weights(w);
    out.bind(net.input_shape());
    return out;
}

/// The GoodNet rule: B's class where B and B' agree, else `detected`.
inline std::vector<int> agreement(const std::vector<int>& pb, const std::vector<int>& pbp, int detected) {
    std::vector<int> out(pb.size());
    for (std::size_t i = 0; i < pb.size(); ++i) out[i] = pb[i] == pbp[i] ? pb[i] : detected;
    return out;
}

}  // namespace prunedef_test
