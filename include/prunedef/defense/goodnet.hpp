#pragma once
// GoodNet<B, Bprime>: the repaired classifier of the CSAW-HackML lab. For an input, if B and B'
// agree on class i it outputs i, otherwise N, the extra class "backdoor detected" (classes 0..N).
//
// Masked<Net> is B with a channel mask: B' without a copy of its weights. GoodNet<Net,
// Masked<Net>> is specialised so that the shared trunk (everything up to the pruned layer's
// features) runs once per input, and B''s head runs only for inputs in which a pruned channel
// is active; for DeepID-shaped heads it reads only the kept channels (kept_channel_head.hpp,
// chosen at compile time), for any other Network<...> it runs B's head on the masked features.

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/core/workspace.hpp>
#include <prunedef/model/channel_mask.hpp>
#include <prunedef/defense/kept_channel_head.hpp>
#include <prunedef/defense/metrics.hpp>
#include <prunedef/kernels/elementwise.hpp>

#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace prunedef {

/// A network with some channels of its pruned layer masked out: their features are zeroed, which
/// removes the channels for any activation (prune_channels(net, mask), which zeroes weights, gives
/// the same network only for zero-preserving activations), without copying the weights.
template <class Net>
class Masked {
public:
    using network_type = Net;
    Masked(Net net, ChannelMask mask) : net_(std::move(net)), mask_(std::move(mask)) {
        if (mask_.channels() != net_.prunable_channels())
            throw shape_error("channel mask for " + std::to_string(mask_.channels()) + " channels, but layer " +
                              net_.pruned_layer().name() + " has " + std::to_string(net_.prunable_channels()));
    }
    const Net& base() const { return net_; }
    const ChannelMask& mask() const { return mask_; }
    const ImageShape& input_shape() const { return net_.input_shape(); }
    std::size_t num_classes() const { return net_.num_classes(); }

    void logits(const Tensor& images, Tensor& out) const {
        Tensor f;
        net_.features(images, f);
        mask_.apply(f);
        net_.head_logits(f, out);
    }
    Tensor logits(const Tensor& images) const {
        Tensor out;
        logits(images, out);
        return out;
    }
    std::vector<int> predict(const Tensor& images) const { return argmax(logits(images)); }

private:
    Net net_;
    ChannelMask mask_;
};

namespace detail {
/// B's class where B and B' agree, else the extra class: overwrites pb.
inline std::vector<int> combine_goodnet(std::vector<int> pb, const std::vector<int>& pbp, int detected) {
    for (std::size_t i = 0; i < pb.size(); ++i) pb[i] = goodnet_output(pb[i], pbp[i], detected);
    return pb;
}

inline void check_goodnet_pair(std::size_t classes_b, std::size_t classes_bp, const ImageShape& in_b,
                               const ImageShape& in_bp) {
    if (classes_b != classes_bp)
        throw shape_error("GoodNet: B has " + std::to_string(classes_b) + " classes but B' has " +
                          std::to_string(classes_bp));
    if (in_b != in_bp)
        throw shape_error("GoodNet: B takes " + in_b.str() + " inputs but B' takes " + in_bp.str());
}
}  // namespace detail

/// Two independent classifiers combined. Both must expose input_shape(), num_classes() and
/// predict(const Tensor&).
template <class B, class Bprime>
class GoodNet {
public:
    GoodNet(B b, Bprime bprime) : b_(std::move(b)), bprime_(std::move(bprime)) {
        detail::check_goodnet_pair(b_.num_classes(), bprime_.num_classes(), b_.input_shape(), bprime_.input_shape());
    }
    const B& original() const { return b_; }
    const Bprime& repaired() const { return bprime_; }
    /// N: the number of classes of B; GoodNet outputs classes 0..N, N meaning "backdoor detected".
    std::size_t num_classes() const { return b_.num_classes(); }
    int detected_class() const { return static_cast<int>(b_.num_classes()); }
    const ImageShape& input_shape() const { return b_.input_shape(); }

    /// Predictions of B and B' for each input.
    void predict_both(const Tensor& images, std::vector<int>& pb, std::vector<int>& pbp) const {
        pb = b_.predict(images);
        pbp = bprime_.predict(images);
    }
    std::vector<int> predict(const Tensor& images) const {
        std::vector<int> pb, pbp;
        predict_both(images, pb, pbp);
        return detail::combine_goodnet(std::move(pb), pbp, detected_class());
    }

private:
    B b_;
    Bprime bprime_;
};

/// B and B = B with a channel mask: the trunk runs once per input.
template <class Net>
class GoodNet<Net, Masked<Net>> {
public:
    GoodNet(Net b, ChannelMask mask) : bprime_(std::move(b), std::move(mask)) { prepare(); }
    explicit GoodNet(Masked<Net> bprime) : bprime_(std::move(bprime)) { prepare(); }
    GoodNet(const GoodNet& other) : bprime_(other.bprime_) { prepare(); }
    GoodNet& operator=(const GoodNet& other) {
        bprime_ = other.bprime_;
        prepare();
        return *this;
    }

    const Net& original() const { return bprime_.base(); }
    const Masked<Net>& repaired() const { return bprime_; }
    std::size_t num_classes() const { return original().num_classes(); }
    int detected_class() const { return static_cast<int>(num_classes()); }
    const ImageShape& input_shape() const { return original().input_shape(); }

    void predict_both(const Tensor& images, std::vector<int>& pb, std::vector<int>& pbp) const {
        const Net& net = original();
        const ChannelMask& mask = bprime_.mask();
        // features and logits in a workspace reused from call to call: fresh buffers of this size
        // cost page faults on every call (about 5 % of a batch of 256 through DeepID)
        const auto lease = pool_.acquire();
        Workspace& ws = *lease;
        detail::ScratchFrame frame(ws);
        Tensor &features = frame.tensor(), &logits = frame.tensor();
        net.features(images, features, ws);
        // Only inputs in which a pruned channel is non-zero can change. Features are channel-last:
        // position by position, only the pruned channels are read (no division per element).
        const std::size_t C = features.channels(), fsize = features.image_size();
        std::vector<std::size_t> affected;
        for (std::size_t n = 0; n < features.batch(); ++n) {
            const float* f = features.image(n);
            bool active = false;
            for (std::size_t position = 0; position < fsize && !active; position += C)
                for (const std::size_t c : pruned_)
                    if (f[position + c] != 0.0f) {
                        active = true;
                        break;
                    }
            if (active) affected.push_back(n);
        }
        if constexpr (detail::has_incremental_head<Net>) {
            if (kept_head_) {
                // both heads in one pass (B's rows, then B''s for the affected inputs)
                Tensor& logits_bp = frame.tensor();
                kept_head_->logits_with_original(features, affected, logits, logits_bp, ws);
                pb = argmax(logits);
                pbp = pb;
                const std::vector<int> changed = argmax(logits_bp);
                for (std::size_t j = 0; j < affected.size(); ++j) pbp[affected[j]] = changed[j];
                return;
            }
        }
        // any other head (or no channel kept): B's head over every input, then again over the
        // affected inputs' masked features
        net.head_logits(features, logits, ws);
        pb = argmax(logits);
        pbp = pb;
        if (affected.empty()) return;
        Tensor& subset = frame.tensor();
        subset.resize(affected.size(), features.shape());
        for (std::size_t j = 0; j < affected.size(); ++j)
            std::memcpy(subset.image(j), features.image(affected[j]), fsize * sizeof(float));
        mask.apply(subset);
        net.head_logits(subset, logits, ws);
        const std::vector<int> changed = argmax(logits);
        for (std::size_t j = 0; j < affected.size(); ++j) pbp[affected[j]] = changed[j];
    }
    std::vector<int> predict(const Tensor& images) const {
        std::vector<int> pb, pbp;
        predict_both(images, pb, pbp);
        return detail::combine_goodnet(std::move(pb), pbp, detected_class());
    }

private:
    void prepare() {
        pruned_ = bprime_.mask().pruned_channels();
        // a kept-channel head needs at least one kept channel
        if constexpr (detail::has_incremental_head<Net>) {
            const ChannelMask& mask = bprime_.mask();
            kept_head_.reset();
            if (mask.pruned_count() < mask.channels())
                kept_head_ = std::make_unique<detail::KeptChannelHead<Net>>(bprime_.base(), mask);
        }
    }

    // The kept-channel head exists only for DeepID-shaped heads with a kept channel: for any
    // other head the member is an empty placeholder, so that KeptChannelHead<Net> (DeepID-only)
    // is never instantiated.
    struct NoKeptHead {};
    using KeptHeadPtr = std::conditional_t<detail::has_incremental_head<Net>,
                                           std::unique_ptr<detail::KeptChannelHead<Net>>, NoKeptHead>;

    Masked<Net> bprime_;
    std::vector<std::size_t> pruned_;  // the mask's pruned channels, in increasing order
    KeptHeadPtr kept_head_;
    detail::WorkspacePool pool_;  // one workspace per concurrent call
};

template <class Net>
GoodNet(Net, ChannelMask) -> GoodNet<Net, Masked<Net>>;

}  // namespace prunedef
