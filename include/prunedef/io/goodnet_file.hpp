#pragma once
// GoodNet files: B and B' together in one HDF5 file.
//
//   /             B in the Keras 2.3 layout (so keras load_weights() on the file loads B)
//   /repaired     B' in the same layout, with attribute prunedef_pruned_channels (pruning order)
//   root attribute prunedef_goodnet = 1
//
// load_goodnet_networks() returns B and B' as written (B' pruned, possibly fine-tuned), so the
// file is all that is needed to classify: GoodNet g(std::move(b), std::move(bprime)) (defense/
// goodnet.hpp). io/ knows networks and files, not the defense.

#include <prunedef/core/error.hpp>
#include <prunedef/io/atomic_output.hpp>
#include <prunedef/io/hdf5.hpp>
#include <prunedef/io/keras_weights.hpp>

#include <string>
#include <utility>
#include <vector>

namespace prunedef {

inline constexpr const char* goodnet_repaired_group = "repaired";

/// Writes B and B' (with the channels pruned in B') as a GoodNet file, atomically.
template <class Net>
void save_goodnet(const std::string& path, const Net& b, const Net& bprime,
                  const std::vector<std::size_t>& pruned_channels) {
    AtomicOutput out(path);
    {
        detail::H5Object file = detail::create_h5_file(out.path());
        file.file = path;
        detail::H5Object root = detail::open_h5_root(file);
        detail::write_keras_layers(root, b);
        detail::h5_write_numeric_attribute(root, "prunedef_goodnet", {1.0}, true);
        detail::H5Object repaired = detail::create_h5_group(root, goodnet_repaired_group);
        detail::write_keras_layers(repaired, bprime);
        detail::h5_write_numeric_attribute(repaired, "prunedef_pruned_channels",
                                           std::vector<double>(pruned_channels.begin(), pruned_channels.end()));
    }
    out.commit();
}

/// True when the file is a GoodNet file written by save_goodnet().
inline bool is_goodnet_file(const std::string& path) {
    detail::H5Object file = detail::open_h5_file(path);
    return detail::h5_has_attribute(file, "prunedef_goodnet") && detail::h5_has_link(file, goodnet_repaired_group);
}

/// Loads a GoodNet file into two networks made by make() (e.g. make_deepid): {B, B'}.
template <class Make>
auto load_goodnet_networks(const std::string& path, Make make) {
    if (!is_goodnet_file(path))
        throw format_error(path + ": /: not a GoodNet file (attribute prunedef_goodnet or group /" +
                           std::string(goodnet_repaired_group) + " missing)");
    {
        const detail::H5Object file = detail::open_h5_file(path);
        const std::vector<double> flag = detail::h5_read_numeric_attribute(file, "prunedef_goodnet");
        if (flag.size() != 1 || flag[0] != 1)
            throw format_error(path + ": / attribute prunedef_goodnet: expected 1, found " +
                               (flag.size() == 1 ? std::to_string(flag[0]) : std::to_string(flag.size()) + " values"));
    }
    const std::string repaired = std::string("/") + goodnet_repaired_group;
    auto b = make();
    auto bprime = make();
    load_keras_weights(path, b);
    load_keras_weights(path, bprime, repaired);
    if (!b.bound())
        throw format_error(path + ": / attribute prunedef_input_shape missing, cannot tell the input size");
    if (!bprime.bound())
        throw format_error(path + ": " + repaired + " attribute prunedef_input_shape missing, cannot tell the input size");
    // B and B' must see the same inputs: a GoodNet compares their answers on the same pixels.
    if (b.input_shape() != bprime.input_shape())
        throw format_error(path + ": attribute prunedef_input_shape: B (/) takes " + b.input_shape().str() +
                           " inputs but B' (" + repaired + ") takes " + bprime.input_shape().str());
    if (b.input_scale() != bprime.input_scale())
        throw format_error(path + ": attribute prunedef_input_scale: B (/) scales inputs by " +
                           std::to_string(b.input_scale()) + " but B' (" + repaired + ") by " +
                           std::to_string(bprime.input_scale()));
    if (b.num_classes() != bprime.num_classes())
        throw format_error(path + ": layer output: B (/) has " + std::to_string(b.num_classes()) + " classes but B' (" +
                           repaired + ") has " + std::to_string(bprime.num_classes()));
    return std::make_pair(std::move(b), std::move(bprime));
}

}  // namespace prunedef
