#pragma once
// Predicting a whole data set, batch by batch, with any classifier that has predict(Tensor)
// (a Network, a Masked network, a GoodNet), and the share of predictions that match labels.

#include <prunedef/io/dataset.hpp>

#include <cstddef>
#include <vector>

namespace prunedef {

template <class Model>
std::vector<int> predict_dataset(const Model& model, const DatasetReader& data, std::size_t batch_size = 256) {
    data.check_image_shape(model.input_shape());
    std::vector<int> out;
    out.reserve(data.size());
    for_each_batch(data, batch_size, [&](const Tensor& images, const int*, std::size_t) {
        const auto p = model.predict(images);
        out.insert(out.end(), p.begin(), p.end());
    });
    return out;
}

/// Percentage of predictions equal to their label.
inline double percent_matching(const std::vector<int>& predicted, const std::vector<int>& labels) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < predicted.size(); ++i) n += predicted[i] == labels[i];
    return predicted.empty() ? 0.0 : 100.0 * double(n) / double(predicted.size());
}

}  // namespace prunedef
