#pragma once
// Per-channel mean activation of the pruned layer over a data set, in one streamed pass.
//
// Default site: the pooled output that feeds the dense layers (pool_3 in DeepID), as the lab's
// reference does; ActivationSite::convolution uses the pruned convolution's output before
// pooling. Sums are accumulated per image in double and added image by image in index order, so
// the result (and hence the channel order) does not depend on the thread count.

#include <prunedef/core/parallel.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/data/batch_source.hpp>

#include <string_view>
#include <vector>

namespace prunedef {

enum class ActivationSite { pooled, convolution };

inline std::string_view to_string(ActivationSite s) { return s == ActivationSite::pooled ? "pooled" : "convolution"; }

/// Mean activation of each channel over images and spatial positions.
struct ChannelActivations {
    std::vector<double> mean;
    std::size_t images = 0;
    ActivationSite site = ActivationSite::pooled;
};

/// Running per-channel sums; add() batches in order, then result().
class ChannelActivationAccumulator {
public:
    explicit ChannelActivationAccumulator(std::size_t channels, ActivationSite site)
        : sums_(channels, 0.0), site_(site) {}

    /// Adds every image of a batch (NHWC, channels last).
    void add(const Tensor& activations) {
        const std::size_t C = sums_.size(), positions = activations.height() * activations.width();
        std::vector<double> per_image(activations.batch() * C, 0.0);
        detail::parallel_for(static_cast<std::ptrdiff_t>(activations.batch()), [&](std::ptrdiff_t n) {
            const float* p = activations.image(static_cast<std::size_t>(n));
            double* s = per_image.data() + static_cast<std::size_t>(n) * C;
            for (std::size_t pos = 0; pos < positions; ++pos)
                for (std::size_t c = 0; c < C; ++c) s[c] += p[pos * C + c];
        });
        for (std::size_t n = 0; n < activations.batch(); ++n)
            for (std::size_t c = 0; c < C; ++c) sums_[c] += per_image[n * C + c] / double(positions);
        images_ += activations.batch();
    }
    ChannelActivations result() const {
        ChannelActivations r;
        r.mean.resize(sums_.size());
        for (std::size_t c = 0; c < sums_.size(); ++c) r.mean[c] = images_ ? sums_[c] / double(images_) : 0.0;
        r.images = images_;
        r.site = site_;
        return r;
    }

private:
    std::vector<double> sums_;
    std::size_t images_ = 0;
    ActivationSite site_;
};

namespace detail {
/// The features of a batch (fused convolution and pooling), and, for the convolution site, the
/// pruned convolution's output too; returns the tensor the statistics are taken over.
template <class Net>
const Tensor& trunk_outputs(const Net& net, const Tensor& images, ActivationSite site, Tensor& features, Tensor& conv) {
    if (site == ActivationSite::pooled) {
        net.features(images, features);
        return features;
    }
    net.conv_output(images, conv);
    net.reduce().forward(conv, features);
    return conv;
}
}  // namespace detail

/// Streams a data set through the network's trunk and returns the mean activation of each
/// channel of the pruned layer.
template <class Net, class Source>
ChannelActivations mean_channel_activations(const Net& net, const Source& data,
                                            ActivationSite site = ActivationSite::pooled,
                                            std::size_t batch_size = 256) {
    data.check_image_shape(net.input_shape());
    ChannelActivationAccumulator acc(net.prunable_channels(), site);
    Tensor conv, pooled;
    for_each_batch(data, batch_size, [&](const Tensor& images, const int*, std::size_t) {
        acc.add(detail::trunk_outputs(net, images, site, pooled, conv));
    });
    return acc.result();
}

}  // namespace prunedef
