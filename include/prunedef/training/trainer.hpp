#pragma once
// Mini-batch training of a network with softmax cross-entropy: shuffled with a seeded
// generator, deterministic for a given seed and thread count. Optionally trains only the head,
// and applies a constraint to the network before training and after every step (Fine-Pruning
// keeps B''s pruned channels at zero this way). Optional data augmentation (augmentation.hpp):
// each mini-batch is shifted and flipped after it is gathered, with its own seeded generator.
// Random erasing (augmentation.hpp) comes after the shift and flip, with values drawn in the
// range of the training images. Optional sharpness-aware steps (sam.hpp) and an agreement loss
// toward a teacher network (distillation.hpp; the teacher sees each mini-batch shifted and
// flipped but not erased: the student learns the teacher's output on the whole image).

#include <prunedef/core/error.hpp>
#include <prunedef/core/percent.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/data/batch_source.hpp>
#include <prunedef/kernels/elementwise.hpp>
#include <prunedef/model/predict.hpp>
#include <prunedef/training/augmentation.hpp>
#include <prunedef/training/backprop.hpp>
#include <prunedef/training/distillation.hpp>
#include <prunedef/training/initializer.hpp>
#include <prunedef/training/loss.hpp>
#include <prunedef/training/optimizer.hpp>
#include <prunedef/training/sam.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
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

/// Reads a whole batch source into memory.
template <class Source>
LabelledImages read_all(const Source& data) {
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

/// Mixed into the training seed for the augmentation's generator (an arbitrary odd constant).
inline constexpr std::uint64_t augmentation_seed_mix = 0x9e3779b97f4a7c15ull;

struct TrainOptions {
    std::size_t epochs = 1;
    std::size_t batch_size = 64;
    std::uint64_t seed = 1;
    bool train_trunk = true;                    // false: only the layers after the pruned one
    /// Shifts, flips and erasing of each mini-batch (none by default); drawn from Rng(seed ^
    /// augmentation_seed_mix), so turning it on leaves the shuffle as it was.
    Augmentation augmentation{};
    /// Sharpness-aware minimisation radius (sam.hpp): each step takes the gradient at the weights
    /// moved by sam_rho g / ||g|| (the constraint applied there too); 0: plain steps (the default).
    float sam_rho = 0.0f;
    /// With sam_rho > 0: adaptive SAM (ASAM, sam.hpp), the weights moved by
    /// sam_rho w^2 g / ||w g|| instead.
    bool sam_adaptive = false;
    /// Agreement loss toward teacher (distillation.hpp); weight 0 (the default): plain
    /// cross-entropy, the teacher unused. teacher(images, logits) writes the teacher's logits of
    /// the mini-batch after its shift and flip, before erasing.
    Distillation distillation{};
    std::function<void(const Tensor& images, Tensor& logits)> teacher;
    /// Learning rate for an epoch (1-based); empty keeps the optimizer's.
    std::function<float(std::size_t epoch)> learning_rate;
    std::function<void(const EpochReport&)> on_epoch;
};

/// A constraint that leaves the network as it is.
struct NoConstraint {
    template <class Net>
    void operator()(Net&) const {}
};

/// An end-of-epoch hook that does nothing.
struct NoEpochEnd {
    template <class Net>
    void operator()(const Net&, const EpochReport&) const {}
};

/// Trains net in place; returns one report per epoch. constrain(net) is called before the first
/// step and after every optimizer step (e.g. to hold pruned channels at zero); epoch_end(net,
/// report) after every epoch, with the network as that epoch left it (e.g. to measure it on
/// held-out data and keep the best epoch's copy).
template <class Net, class Optimizer, class Constraint = NoConstraint, class EpochEnd = NoEpochEnd>
std::vector<EpochReport> train(Net& net, const LabelledImages& data, Optimizer& optimizer, const TrainOptions& options,
                               Constraint&& constrain = {}, EpochEnd&& epoch_end = {}) {
    if (data.size() == 0) throw argument_error("train: no training images");
    if (options.batch_size == 0) throw argument_error("train: batch size must be positive");
    for (std::size_t i = 0; i < data.size(); ++i)
        if (data.labels[i] < 0 || std::size_t(data.labels[i]) >= net.num_classes())
            throw argument_error("train: label " + std::to_string(data.labels[i]) + " of image " + std::to_string(i) +
                                 " is not a class of the network (" + std::to_string(net.num_classes()) + ")");
    if (!(options.sam_rho >= 0.0f) || !std::isfinite(options.sam_rho))
        throw argument_error("train: the SAM radius must be finite and >= 0");
    check_distillation(options.distillation);
    check_random_erasing(options.augmentation.erasing);
    const bool distill = options.distillation.weight > 0.0f;
    if (distill && !options.teacher) throw argument_error("train: distillation without a teacher");
    constrain(net);
    const std::vector<ParameterRef> params = options.train_trunk ? parameters(net) : head_parameters(net);
    Rng rng(options.seed);
    Rng augment_rng(options.seed ^ augmentation_seed_mix);
    std::vector<std::size_t> order(data.size());
    std::iota(order.begin(), order.end(), std::size_t(0));
    std::vector<EpochReport> reports;
    NetworkTrainCache<Net> cache;
    Tensor images, logits, dlogits, teacher_logits, sam_logits;
    std::vector<int> labels;
    SamPerturbation sam;
    float erase_low = 0.0f, erase_high = 0.0f;  // the training images' range, for erasing
    if (options.augmentation.erasing.active()) {
        const float* v = data.images.data();
        const auto [low, high] = std::minmax_element(v, v + data.images.size());
        erase_low = *low;
        erase_high = *high;
    }
    const auto batch_loss = [&](const Tensor& z) {
        return distill ? distillation_loss(z, teacher_logits, labels.data(), options.distillation, dlogits)
                       : softmax_cross_entropy(z, labels.data(), dlogits);
    };
    for (std::size_t epoch = 1; epoch <= options.epochs; ++epoch) {
        const auto start = std::chrono::steady_clock::now();
        if (options.learning_rate) optimizer.set_learning_rate(options.learning_rate(epoch));
        for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
        double loss_sum = 0;
        std::size_t correct = 0;
        for (std::size_t first = 0; first < order.size(); first += options.batch_size) {
            const std::size_t count = std::min(options.batch_size, order.size() - first);
            gather(data, order.data() + first, count, images, labels);
            augment_batch(images, options.augmentation, augment_rng);
            if (distill) options.teacher(images, teacher_logits);
            erase_batch(images, options.augmentation.erasing, erase_low, erase_high, augment_rng);
            forward_train(net, images, logits, cache, options.train_trunk);
            const std::vector<int> predicted = argmax(logits);
            for (std::size_t i = 0; i < count; ++i) correct += predicted[i] == labels[i];
            loss_sum += batch_loss(logits) * double(count);
            backward(net, cache, dlogits);
            if (options.sam_rho > 0.0f) {
                sam.perturb(params, options.sam_rho, options.sam_adaptive);
                if (sam.perturbed()) {
                    constrain(net);
                    forward_train(net, images, sam_logits, cache, options.train_trunk);
                    batch_loss(sam_logits);
                    backward(net, cache, dlogits);
                    sam.restore(params);
                }
            }
            optimizer.step(params);
            constrain(net);
        }
        EpochReport r;
        r.epoch = epoch;
        r.loss = loss_sum / double(data.size());
        r.accuracy = percent_of(correct, data.size());
        r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        r.images_per_second = double(data.size()) / r.seconds;
        r.learning_rate = optimizer.learning_rate();
        if (options.on_epoch) options.on_epoch(r);
        epoch_end(static_cast<const Net&>(net), r);
        reports.push_back(r);
    }
    return reports;
}

/// Percentage of images classified as their label.
template <class Model>
double accuracy(const Model& model, const LabelledImages& data) {
    return percent_matching(predict_all(model, data.images), data.labels);
}

}  // namespace prunedef
