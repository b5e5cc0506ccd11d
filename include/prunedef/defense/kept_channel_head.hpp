#pragma once
// B' for a DeepID-shaped head without the pruned channels' work: fc_1 and conv_4 reduced to the
// rows that read the kept channels of the features, so that GoodNet<Net, Masked<Net>> pays for
// the kept channels' part of fc_1 and conv_4 instead of a second whole head; fc_2 and the output
// layer run once over B's and B''s rows together. The values are B''s up to floating-point summation order (the pruned channels'
// zero terms are left out instead of added).

#include <prunedef/core/activation.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/core/workspace.hpp>
#include <prunedef/model/channel_mask.hpp>
#include <prunedef/defense/deepid_head_sweep.hpp>
#include <prunedef/kernels/elementwise.hpp>
#include <prunedef/layers/conv2d.hpp>
#include <prunedef/layers/dense.hpp>

#include <algorithm>
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

    /// B's logits for every image of `features` (as net.head_logits gives them, bit for bit) and
    /// B''s for the images listed in `affected`, with fc_2 and the output layer run once over
    /// both (B's rows first): at small batches these two layers' weights are then read once
    /// instead of twice.
    /// Safe to call from several threads at once: each call borrows a workspace from the head's
    /// pool (or uses the one given, which serves one call at a time).
    void logits_with_original(const Tensor& features, const std::vector<std::size_t>& affected, Tensor& logits_b,
                              Tensor& logits_bp) const {
        logits_with_original(features, affected, logits_b, logits_bp, *pool_.acquire());
    }
    void logits_with_original(const Tensor& features, const std::vector<std::size_t>& affected, Tensor& logits_b,
                              Tensor& logits_bp, Workspace& ws) const {
        const auto& sum = net_->head().template layer<0>();
        const auto& fc1 = sum.first().template layer<1>();
        const auto& conv4 = sum.second().template layer<0>();
        const std::size_t n = features.batch(), m = affected.size(), C = features.channels();
        const std::size_t positions = shape_.height * shape_.width;
        ScratchFrame frame(ws);
        Tensor &kept = frame.tensor(), &z1 = frame.tensor(), &z1k = frame.tensor(), &a4 = frame.tensor();
        Tensor &a4k = frame.tensor(), &stacked_a4 = frame.tensor(), &stacked_z1 = frame.tensor(), &logits = frame.tensor();
        // B: fc_1 (the dense kernel reads each image's maps as its flat feature vector) and conv_4
        fc1.forward(features, z1);
        conv4.forward(features, a4);
        // B': the kept channels of the affected images
        kept.resize(m, shape_);
        for (std::size_t i = 0; i < m; ++i) {
            const float* f = features.image(affected[i]);
            float* k = kept.image(i);
            for (std::size_t p = 0; p < positions; ++p)
                for (std::size_t j = 0; j < kept_.size(); ++j) *k++ = f[p * C + kept_[j]];
        }
        conv4_.forward(kept, a4k);
        fc1_.forward(kept, z1k);
        // the rest of the head over B's rows, then B''s
        const std::size_t a4_size = a4.image_size(), hidden_size = z1.image_size();
        stacked_a4.resize(n + m, {1, 1, a4_size});
        std::copy(a4.data(), a4.data() + n * a4_size, stacked_a4.data());
        std::copy(a4k.data(), a4k.data() + m * a4_size, stacked_a4.image(n));
        stacked_z1.resize(n + m, {1, 1, hidden_size});
        std::copy(z1.data(), z1.data() + n * hidden_size, stacked_z1.data());
        std::copy(z1k.data(), z1k.data() + m * hidden_size, stacked_z1.image(n));
        deepid_head_tail(*net_, stacked_z1, stacked_a4, logits, ws);
        const std::size_t classes = logits.image_size();
        logits_b.resize(n, {1, 1, classes});
        std::copy(logits.data(), logits.data() + n * classes, logits_b.data());
        logits_bp.resize(m, {1, 1, classes});
        std::copy(logits.image(n), logits.image(n) + m * classes, logits_bp.data());
    }

private:
    const Net* net_;
    std::vector<std::size_t> kept_;
    ImageShape shape_{};
    Dense<Linear> fc1_{"fc_1_kept"};
    Conv2D<Relu> conv4_{"conv_4_kept"};
    WorkspacePool pool_;  // lent to calls made without a workspace
};

}  // namespace detail
}  // namespace prunedef
