#pragma once
// Predicting many images, batch by batch, with any classifier that has predict(Tensor) (a
// Network, a Masked network, a GoodNet): a whole batch source (data/batch_source.hpp) or a tensor
// held in memory; and the share of predictions that match labels.

#include <prunedef/core/percent.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/data/batch_source.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

namespace prunedef {

/// The predicted class of every image of a batch source.
template <class Model, class Source>
std::vector<int> predict_dataset(const Model& model, const Source& data, std::size_t batch_size = 256) {
    data.check_image_shape(model.input_shape());
    std::vector<int> out;
    out.reserve(data.size());
    for_each_batch(data, batch_size, [&](const Tensor& images, const int*, std::size_t) {
        const auto p = model.predict(images);
        out.insert(out.end(), p.begin(), p.end());
    });
    return out;
}

/// The predicted class of every image of a tensor.
template <class Model>
std::vector<int> predict_all(const Model& model, const Tensor& images, std::size_t batch_size = 1024) {
    std::vector<int> out;
    out.reserve(images.batch());
    Tensor batch;
    for (std::size_t first = 0; first < images.batch(); first += batch_size) {
        const std::size_t count = std::min(batch_size, images.batch() - first);
        batch.resize(count, images.shape());
        std::memcpy(batch.data(), images.image(first), count * images.image_size() * sizeof(float));
        const auto p = model.predict(batch);
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

/// Percentage of predictions equal to their label.
inline double percent_matching(const std::vector<int>& predicted, const std::vector<int>& labels) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < predicted.size(); ++i) n += predicted[i] == labels[i];
    return percent_of(n, predicted.size());
}

}  // namespace prunedef
