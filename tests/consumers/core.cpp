// A consumer of prunedef::core alone (Eigen, no HDF5): builds the DeepID type with generated
// weights, runs it on one image, and checks that no header outside io/ and report/ reached for
// HDF5 or JSON.
#include <prunedef/core/tensor.hpp>
#include <prunedef/layers/weights.hpp>
#include <prunedef/model/deepid.hpp>
#include <prunedef/model/network.hpp>
// the defense, training, Fine-Pruning and the attacks read data through batch sources, not HDF5
#include <prunedef/attacks/pruning_aware_attack.hpp>
#include <prunedef/data/array_batch_source.hpp>
#include <prunedef/defense/goodnet.hpp>
#include <prunedef/defense/repair.hpp>
#include <prunedef/fine_pruning/fine_pruning.hpp>

#ifdef H5_VERS_MAJOR
#error "a header outside io/ and report/ included hdf5.h"
#endif
#ifdef NLOHMANN_JSON_VERSION_MAJOR
#error "a header outside report/ included nlohmann/json"
#endif

#include <cmath>
#include <iostream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

int main() {
    using namespace prunedef;
    // 55x47x3 input, 2 channels per convolution, 3 classes (the shapes of tests/tiny_deepid.hpp)
    const std::vector<std::pair<std::string, std::vector<std::size_t>>> kernels = {
        {"conv_1", {4, 4, 3, 2}}, {"conv_2", {3, 3, 2, 2}}, {"conv_3", {3, 3, 2, 2}}, {"conv_4", {2, 2, 2, 2}},
        {"fc_1", {40, 4}},        {"fc_2", {24, 4}},        {"output", {4, 3}}};
    DeepID net = make_deepid();
    net.visit([&](auto& layer) {
        if constexpr (std::decay_t<decltype(layer)>::has_weights) {
            for (const auto& [name, dims] : kernels) {
                if (name != layer.name()) continue;
                WeightArray k{"kernel:0", dims, {}}, b{"bias:0", {dims.back()}, {}};
                k.values.assign(k.element_count(), 0.01f);
                b.values.assign(b.element_count(), 0.0f);
                layer.set_weights({k, b});
            }
        }
    });
    net.bind({55, 47, 3});
    Tensor image(1, {55, 47, 3});
    for (std::size_t i = 0; i < image.size(); ++i) image.data()[i] = float(i % 7);
    const Tensor logits = net.logits(image);
    if (logits.size() != 3 || !std::isfinite(logits.data()[0])) return 1;
    std::cout << "core consumer ok: " << logits.size() << " logits\n";
    return 0;
}
