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
    auto b = make();
    auto bprime = make();
    load_keras_weights(path, b);
    load_keras_weights(path, bprime, std::string("/") + goodnet_repaired_group);
    if (!b.bound() || !bprime.bound())
        throw format_error(path + ": /: attribute prunedef_input_shape missing, cannot tell the input size");
    return std::make_pair(std::move(b), std::move(bprime));
}

}  // namespace prunedef
