#pragma once
// The one-sweep pruning of Liu et al.: remove the channels of the pruned layer one at a time in
// a given order and record every image's predicted class after each step.
//
// Cost: the trunk (everything up to the pruned layer's pooled output) runs once per image; each
// step re-runs only the head, and only for the images in which the removed channel was non-zero
// (zeroing a channel that is already zero changes nothing). DeepID-shaped heads take the
// incremental path of deepid_head_sweep.hpp; any other head is re-run whole. The per-image predictions of every
// step are kept (images x (channels + 1) ints, small), so every metric of every threshold, of
// B' and of GoodNet<B, B'>, is computed afterwards from them.
//
// Images are processed in fixed tasks of task_images images, each task sweeping all steps on one
// thread; the split does not depend on the thread count, so neither do the results.

#include <prunedef/core/parallel.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/data/batch_source.hpp>
#include <prunedef/defense/deepid_head_sweep.hpp>
#include <prunedef/defense/metrics.hpp>
#include <prunedef/kernels/elementwise.hpp>

#include <algorithm>
#include <cstring>
#include <functional>
#include <vector>

namespace prunedef {

/// Predicted class of every image after each pruning step: column k is the network with the
/// first k channels of the order removed (column 0 is the unpruned network).
struct SweepPredictions {
    std::size_t images = 0;
    std::size_t steps = 0;            // channels removed in the last column
    std::vector<int> predicted;       // images x (steps + 1), row-major
    std::vector<int> labels;          // one per image

    int at(std::size_t image, std::size_t k) const { return predicted[image * (steps + 1) + k]; }
    /// How many images are classified as their label after k steps.
    std::size_t matches(std::size_t k) const {
        std::size_t n = 0;
        for (std::size_t i = 0; i < images; ++i) n += at(i, k) == labels[i];
        return n;
    }
    void append(const SweepPredictions& more) {
        predicted.insert(predicted.end(), more.predicted.begin(), more.predicted.end());
        labels.insert(labels.end(), more.labels.begin(), more.labels.end());
        images += more.images;
    }
};

namespace detail {

/// Sweeps images [begin, end) of a feature batch; writes rows of out.predicted. Runs serially.
template <class Net>
void sweep_task(const Net& net, const Tensor& features, std::size_t begin, std::size_t end,
                const std::vector<std::size_t>& order, std::vector<int>& predicted) {
    const std::size_t n = end - begin, fsize = features.image_size(), C = features.channels();
    const std::size_t positions = fsize / C, cols = order.size() + 1;
    Tensor local(n, features.shape());
    std::memcpy(local.data(), features.image(begin), n * fsize * sizeof(float));
    Tensor logits;
    net.head_logits(local, logits);
    const std::vector<int> base = argmax(logits);
    for (std::size_t i = 0; i < n; ++i) predicted[(begin + i) * cols] = base[i];

    std::vector<std::size_t> affected;
    Tensor subset;
    for (std::size_t k = 1; k <= order.size(); ++k) {
        const std::size_t c = order[k - 1];
        affected.clear();
        for (std::size_t i = 0; i < n; ++i) {
            float* img = local.image(i);
            bool nonzero = false;
            for (std::size_t p = 0; p < positions; ++p) {
                nonzero |= img[p * C + c] != 0.0f;
                img[p * C + c] = 0.0f;
            }
            if (nonzero) affected.push_back(i);
            predicted[(begin + i) * cols + k] = predicted[(begin + i) * cols + k - 1];
        }
        if (affected.empty()) continue;
        subset.resize(affected.size(), features.shape());
        for (std::size_t j = 0; j < affected.size(); ++j)
            std::memcpy(subset.image(j), local.image(affected[j]), fsize * sizeof(float));
        net.head_logits(subset, logits);
        const std::vector<int> pred = argmax(logits);
        for (std::size_t j = 0; j < affected.size(); ++j) predicted[(begin + affected[j]) * cols + k] = pred[j];
    }
}

}  // namespace detail

/// What G = GoodNet<B, B'_k> does with the swept images, for every step k (index k of the result):
/// B's prediction is column 0, B'_k's column k, and G outputs B's class where they agree, else
/// `classes` (N, "backdoor detected"). Reads only the predictions (no forward pass).
inline std::vector<GoodNetCounts> goodnet_counts_per_step(const SweepPredictions& p, int classes) {
    std::vector<GoodNetCounts> counts(p.steps + 1);
    for (GoodNetCounts& c : counts) c.images = p.images;
    for (std::size_t i = 0; i < p.images; ++i) {
        const int b = p.at(i, 0), label = p.labels[i];
        for (std::size_t k = 0; k <= p.steps; ++k) {
            const int g = goodnet_output(b, p.at(i, k), classes);
            if (g == classes) ++counts[k].flagged;
            else if (g == label) ++counts[k].matched;
            else ++counts[k].other;
        }
    }
    return counts;
}

/// Images per sweep task (fixed so that results do not depend on the thread count).
constexpr std::size_t sweep_task_images = 64;

/// Sweeps a batch of features (the network's features() output) along an order.
template <class Net>
SweepPredictions sweep_features(const Net& net, const Tensor& features, const int* labels,
                                const std::vector<std::size_t>& order) {
    SweepPredictions out;
    out.images = features.batch();
    out.steps = order.size();
    out.predicted.assign(out.images * (out.steps + 1), 0);
    out.labels.assign(labels, labels + out.images);
    const std::size_t tasks = (out.images + sweep_task_images - 1) / sweep_task_images;
    detail::parallel_for(static_cast<std::ptrdiff_t>(tasks), [&](std::ptrdiff_t t) {
        const std::size_t begin = static_cast<std::size_t>(t) * sweep_task_images;
        const std::size_t end = std::min(out.images, begin + sweep_task_images);
        if constexpr (detail::has_incremental_head<Net>)
            detail::sweep_task_incremental(net, features, begin, end, order, out.predicted);
        else
            detail::sweep_task(net, features, begin, end, order, out.predicted);
    });
    return out;
}

/// Streams a data set: features batch by batch, each swept along the order. Memory: one batch of
/// images and features plus the predictions.
using SweepProgress = std::function<void(std::size_t done, std::size_t total)>;

template <class Net, class Source>
SweepPredictions sweep_dataset(const Net& net, const Source& data, const std::vector<std::size_t>& order,
                               std::size_t batch_size = 256, const SweepProgress& progress = {}) {
    data.check_image_shape(net.input_shape());
    data.check_labels(net.num_classes());
    SweepPredictions all;
    all.steps = order.size();
    Tensor features;
    for_each_batch(data, batch_size, [&](const Tensor& images, const int* labels, std::size_t) {
        net.features(images, features);
        all.append(sweep_features(net, features, labels, order));
        if (progress) progress(all.images, data.size());
    });
    return all;
}

}  // namespace prunedef
