#pragma once
// Mini-batch training of a network with softmax cross-entropy: shuffled with a seeded
// generator, deterministic for a given seed and thread count. Optionally keeps a channel mask
// of the pruned layer at zero (Fine-Pruning fine-tunes B' this way) and trains only the head.

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/defense/channel_mask.hpp>
#include <prunedef/io/dataset.hpp>
#include <prunedef/kernels/elementwise.hpp>
#include <prunedef/training/backprop.hpp>
#include <prunedef/training/initializer.hpp>
#include <prunedef/training/loss.hpp>
#include <prunedef/training/optimizer.hpp>

#include <chrono>
#include <cstring>
#include <functional>
#include <numeric>
#include <vector>

namespace prunedef {

/// Images and labels held in memory (training data is read whole).
struct LabelledImages {
    Tensor images;
    std::vector<int> labels;
    std::size_t size() const { return labels.size(); }
};

/// Reads a whole data set into memory.
inline LabelledImages read_all(const DatasetReader& data) {
    LabelledImages out;
    data.read(0, data.size(), out.images);
    out.labels = data.labels();
    return out;
}

/// Copies the images with the given indices into a batch.
inline void gather(const LabelledImages& data, const std::size_t* indices, std::size_t count, Tensor& images,
                   std::vector<int>& labels) {
    images.resize(count, data.images.shape());
    labels.resize(count);
    const std::size_t size = data.images.image_size();
    for (std::size_t i = 0; i < count; ++i) {
        std::memcpy(images.image(i), data.images.image(indices[i]), size * sizeof(float));
        labels[i] = data.labels[indices[i]];
    }
}

struct EpochReport {
    std::size_t epoch = 0;          // 1-based
    double loss = 0;                // mean training loss
    double accuracy = 0;            // training accuracy during the epoch, percent
    double seconds = 0;
    double images_per_second = 0;
    float learning_rate = 0;
};

struct TrainOptions {
    std::size_t epochs = 1;
    std::size_t batch_size = 64;
    std::uint64_t seed = 1;
    bool train_trunk = true;                    // false: only the layers after the pruned one
    const ChannelMask* keep_pruned = nullptr;   // channels of the pruned layer held at zero
    /// Learning rate for an epoch (1-based); empty keeps the optimizer's.
    std::function<float(std::size_t epoch)> learning_rate;
    std::function<void(const EpochReport&)> on_epoch;
};

/// Trains net in place; returns one report per epoch.
template <class Net, class Optimizer>
std::vector<EpochReport> train(Net& net, const LabelledImages& data, Optimizer& optimizer, const TrainOptions& options) {
    if (data.size() == 0) throw argument_error("train: no training images");
    if (options.batch_size == 0) throw argument_error("train: batch size must be positive");
    for (std::size_t i = 0; i < data.size(); ++i)
        if (data.labels[i] < 0 || std::size_t(data.labels[i]) >= net.num_classes())
            throw argument_error("train: label " + std::to_string(data.labels[i]) + " of image " + std::to_string(i) +
                                 " is not a class of the network (" + std::to_string(net.num_classes()) + ")");
    if (options.keep_pruned) zero_channels(net.pruned_layer(), *options.keep_pruned);
    const std::vector<ParameterRef> params = options.train_trunk ? parameters(net) : head_parameters(net);
    Rng rng(options.seed);
    std::vector<std::size_t> order(data.size());
    std::iota(order.begin(), order.end(), std::size_t(0));
    std::vector<EpochReport> reports;
    NetworkTrainCache<Net> cache;
    Tensor images, logits, dlogits;
    std::vector<int> labels;
    for (std::size_t epoch = 1; epoch <= options.epochs; ++epoch) {
        const auto start = std::chrono::steady_clock::now();
        if (options.learning_rate) optimizer.set_learning_rate(options.learning_rate(epoch));
        for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
        double loss_sum = 0;
        std::size_t correct = 0;
        for (std::size_t first = 0; first < order.size(); first += options.batch_size) {
            const std::size_t count = std::min(options.batch_size, order.size() - first);
            gather(data, order.data() + first, count, images, labels);
            forward_train(net, images, logits, cache, options.train_trunk);
            const std::vector<int> predicted = argmax(logits);
            for (std::size_t i = 0; i < count; ++i) correct += predicted[i] == labels[i];
            loss_sum += softmax_cross_entropy(logits, labels.data(), dlogits) * double(count);
            backward(net, cache, dlogits);
            optimizer.step(params);
            if (options.keep_pruned) zero_channels(net.pruned_layer(), *options.keep_pruned);
        }
        EpochReport r;
        r.epoch = epoch;
        r.loss = loss_sum / double(data.size());
        r.accuracy = 100.0 * double(correct) / double(data.size());
        r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        r.images_per_second = double(data.size()) / r.seconds;
        r.learning_rate = optimizer.learning_rate();
        if (options.on_epoch) options.on_epoch(r);
        reports.push_back(r);
    }
    return reports;
}

/// The predicted class of every image.
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

/// Percentage of images classified as their label.
template <class Model>
double accuracy(const Model& model, const LabelledImages& data) {
    const auto p = predict_all(model, data.images);
    std::size_t correct = 0;
    for (std::size_t i = 0; i < p.size(); ++i) correct += p[i] == data.labels[i];
    return data.size() ? 100.0 * double(correct) / double(data.size()) : 0.0;
}

}  // namespace prunedef
