#pragma once
// B' for a DeepID-shaped head without the pruned channels' work: fc_1 and conv_4 reduced to the
// rows that read the kept channels of the features, so that GoodNet<Net, Masked<Net>> pays for
// the kept channels' part of fc_1 and conv_4, fc_2 and the output layer, instead of a second
// whole head. The values are B''s up to floating-point summation order (the pruned channels'
// zero terms are left out instead of added).

#include <prunedef/core/activation.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/defense/channel_mask.hpp>
#include <prunedef/defense/deepid_head_sweep.hpp>
#include <prunedef/kernels/elementwise.hpp>
#include <prunedef/layers/conv2d.hpp>
#include <prunedef/layers/dense.hpp>

#include <vector>

namespace prunedef {
namespace detail {

template <class Net>
class KeptChannelHead {
    static_assert(has_incremental_head<Net>, "KeptChannelHead needs a DeepID-shaped head");

public:
    KeptChannelHead(const Net& net, const ChannelMask& mask) : net_(&net) {
        const ImageShape fs = net.feature_shape();
        const std::size_t C = fs.channels, positions = fs.height * fs.width;
        for (std::size_t c = 0; c < C; ++c)
            if (!mask.is_pruned(c)) kept_.push_back(c);
        const auto& sum = net.head().template layer<0>();
        const auto& fc1 = sum.first().template layer<1>();
        const auto& conv4 = sum.second().template layer<0>();
        const std::size_t H = fc1.out_features(), C4 = conv4.out_channels(), Ck = kept_.size();
        shape_ = {fs.height, fs.width, Ck};
        WeightArray w1{"kernel:0", {positions * Ck, H}, {}};
        w1.values.reserve(positions * Ck * H);
        for (std::size_t p = 0; p < positions; ++p)
            for (std::size_t c : kept_) {
                const float* row = fc1.kernel().data() + (p * C + c) * H;
                w1.values.insert(w1.values.end(), row, row + H);
            }
        fc1_.set_weights({w1, {"bias:0", {H}, {fc1.bias().begin(), fc1.bias().end()}}});
        WeightArray k4{"kernel:0", {conv4.kernel_h(), conv4.kernel_w(), Ck, C4}, {}};
        for (std::size_t tap = 0; tap < conv4.kernel_h() * conv4.kernel_w(); ++tap)
            for (std::size_t c : kept_) {
                const float* row = conv4.kernel().data() + (tap * C + c) * C4;
                k4.values.insert(k4.values.end(), row, row + C4);
            }
        conv4_.set_weights({k4, {"bias:0", {C4}, {conv4.bias().begin(), conv4.bias().end()}}});
    }

    /// Logits of B' for features (all channels; the pruned ones are not read).
    void logits(const Tensor& features, Tensor& out) const {
        const auto& sum = net_->head().template layer<0>();
        const auto& fc2 = sum.second().template layer<2>();
        const auto& output = net_->head().template layer<2>();
        const std::size_t n = features.batch(), C = features.channels(), positions = shape_.height * shape_.width;
        thread_local Tensor kept, z1, a4, z2, hidden;
        kept.resize(n, shape_);
        for (std::size_t i = 0; i < n; ++i) {
            const float* f = features.image(i);
            float* k = kept.image(i);
            for (std::size_t p = 0; p < positions; ++p)
                for (std::size_t j = 0; j < kept_.size(); ++j) *k++ = f[p * C + kept_[j]];
        }
        conv4_.forward(kept, a4);
        kept.reshape({1, 1, shape_.size()});
        fc1_.forward(kept, z1);
        a4.reshape({1, 1, a4.image_size()});
        fc2.forward(a4, z2);
        add(z1, z2, hidden);
        activate<Relu>(hidden);
        output.forward(hidden, out);
    }

private:
    const Net* net_;
    std::vector<std::size_t> kept_;
    ImageShape shape_{};
    Dense<Linear> fc1_{"fc_1_kept"};
    Conv2D<Relu> conv4_{"conv_4_kept"};
};

}  // namespace detail
}  // namespace prunedef
