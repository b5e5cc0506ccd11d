#pragma once
// Per-channel mean activation of the pruned layer over a data set, in one streamed pass.
//
// Default site: the pooled output that feeds the dense layers (pool_3 in DeepID), as the lab's
// reference does; ActivationSite::convolution uses the pruned convolution's output before
// pooling. Sums are accumulated per image in double, added image by image in index order within
// fixed blocks of activation_block_images images (block b: images [b * 256, (b + 1) * 256) of the
// data set), and the block sums are added in block order: the result (and hence the channel
// order) depends neither on the thread count nor on how the data set is split between the ranks
// of a data-parallel run, as long as each rank starts at a block boundary (repair.hpp gathers the
// ranks' block sums and combines them in block order).

#include <prunedef/core/error.hpp>
#include <prunedef/core/parallel.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/data/batch_source.hpp>

#include <string>
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

/// Images per block of the activation sums (fixed: the sums do not depend on how a data set is split).
constexpr std::size_t activation_block_images = 256;

/// Running per-channel sums; add() batches in order, then result(). The images added are those
/// from first_image on (a multiple of activation_block_images) of a data set; block_sums() are
/// the sums of each block they touch, which combine() turns into the means.
class ChannelActivationAccumulator {
public:
    explicit ChannelActivationAccumulator(std::size_t channels, ActivationSite site, std::size_t first_image = 0)
        : channels_(channels), first_(first_image), site_(site) {
        if (first_image % activation_block_images != 0)
            throw argument_error("ChannelActivationAccumulator: first image " + std::to_string(first_image) +
                                 " is not a multiple of " + std::to_string(activation_block_images));
    }

    /// Adds every image of a batch (NHWC, channels last).
    void add(const Tensor& activations) {
        const std::size_t C = channels_, positions = activations.height() * activations.width();
        if (activations.batch() > 0 && activations.channels() != C)
            throw shape_error("ChannelActivationAccumulator: " + std::to_string(activations.channels()) +
                              " channels, expected " + std::to_string(C));
        std::vector<double> per_image(activations.batch() * C, 0.0);
        detail::parallel_for(static_cast<std::ptrdiff_t>(activations.batch()), [&](std::ptrdiff_t n) {
            const float* p = activations.image(static_cast<std::size_t>(n));
            double* s = per_image.data() + static_cast<std::size_t>(n) * C;
            for (std::size_t pos = 0; pos < positions; ++pos)
                for (std::size_t c = 0; c < C; ++c) s[c] += p[pos * C + c];
        });
        for (std::size_t n = 0; n < activations.batch(); ++n) {
            const std::size_t block = (images_ + n) / activation_block_images;  // first_ is a block boundary
            if (block * C >= blocks_.size()) blocks_.resize((block + 1) * C, 0.0);
            double* sums = blocks_.data() + block * C;
            for (std::size_t c = 0; c < C; ++c) sums[c] += per_image[n * C + c] / double(positions);
        }
        images_ += activations.batch();
    }
    /// The sums of each block touched, block after block (blocks x channels, row-major).
    const std::vector<double>& block_sums() const { return blocks_; }
    std::size_t images() const { return images_; }
    std::size_t first_image() const { return first_; }
    std::size_t channels() const { return channels_; }
    ChannelActivations result() const { return combine(blocks_, channels_, images_, site_); }

    /// The means from the block sums of a whole data set of `images` images, in block order.
    static ChannelActivations combine(const std::vector<double>& block_sums, std::size_t channels, std::size_t images,
                                      ActivationSite site) {
        if (channels == 0 ? !block_sums.empty() : block_sums.size() % channels != 0)
            throw argument_error("ChannelActivationAccumulator::combine: " + std::to_string(block_sums.size()) +
                                 " sums are not blocks of " + std::to_string(channels) + " channels");
        std::vector<double> sums(channels, 0.0);
        for (std::size_t b = 0; channels > 0 && b < block_sums.size() / channels; ++b)
            for (std::size_t c = 0; c < channels; ++c) sums[c] += block_sums[b * channels + c];
        ChannelActivations r;
        r.mean.resize(channels);
        for (std::size_t c = 0; c < channels; ++c) r.mean[c] = images ? sums[c] / double(images) : 0.0;
        r.images = images;
        r.site = site;
        return r;
    }

private:
    std::size_t channels_, first_;
    std::vector<double> blocks_;
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
