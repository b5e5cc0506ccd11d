#pragma once
// ANP, Adversarial Neuron Pruning (Wu and Wang, "Adversarial Neuron Perturbation Exposes
// Backdoors", NeurIPS 2021): a pruning policy learnt from clean data alone. Channels that carry a
// backdoor are the ones whose small multiplicative perturbation changes the network's output
// most; ANP learns a soft mask m_c in [0, 1] per channel that keeps the clean loss low both as it
// is and under the worst such perturbation, and the channels whose mask ends lowest go first.
//
// Channel c of the pruned layer computes, before its activation,
//
//     z_c = s_c * (W_c x) + t_c * b_c,   s_c = m_c + delta_c,   t_c = 1 + xi_c,
//
// with delta_c, xi_c in [-eps, eps] (the paper's code: the perturbation is added to the mask on
// the weights and multiplies the bias; the mask leaves the bias alone). Each iteration, on a
// clean mini-batch:
//   1. delta, xi start uniform in [-eps, eps] and take one signed-gradient ascent step of size
//      eps on the loss (mask fixed), then are clipped to [-eps, eps];
//   2. the mask takes one SGD step (momentum 0.9, as in the paper's code) on
//      alpha * L(s = m, t = 1) + (1 - alpha) * L(s = m + delta, t = 1 + xi), then is clipped to
//      [0, 1].
// Defaults are the paper's: eps 0.4, alpha 0.2, learning rate 0.2, batch 128, 2000 iterations.
// The order is increasing learnt mask (ties by channel index); the sweep's accuracy-drop
// thresholds (or --k) then decide how many channels go, so ANP composes with GoodNet and the
// reports like every other policy. The paper perturbs and masks every layer's neurons (its
// BatchNormalization layers); here only the pruned layer's channels, the ones the sweep prunes.
//
// Gradients come from the training code's backward passes (training/backprop.hpp,
// graph_backprop.hpp): the pruned layer is run with its kernel slice c scaled by s_c and its
// bias by t_c, and by the chain rule dL/ds_c = sum_i dL/dW'_ic W_ic, dL/dt_c = dL/db'_c b_c
// (W', b' the scaled weights, W, b the layer's own). The stem (the layers before the pruned one)
// is fixed: it runs once per mini-batch, the rest of the network three times forward and
// backward (perturbation step, clean loss, perturbed loss). The mini-batches are drawn with a
// seeded generator and every backward pass sums in a fixed order, so the masks do not depend on
// the thread count.
//
// Cost: iterations x batch images through the stem plus 3 x that through the pruned layer and
// the layers after it, forward and backward (no gradient into the stem): 2000 x 128 = 256,000
// images, about as much as 3 to 4 training epochs of a 60,000-image set. On the Fashion-MNIST
// DeepID of make-badnet (28x28x1, conv_3 of 64 channels) 26 s of CPU, 38 to 65 s on a loaded
// 2-core machine (benchmarks/README.md, "ANP against the default order"); on the full-size DeepID
// of CSAW (55x47x3 inputs, about 8 times the multiply-adds per image) expect several minutes.
//
// A network whose head cannot train as it is (a GraphNetwork with a folded BatchNormalization)
// learns its masks on its training form (fine_pruning.hpp, graph_training_form()): the pruned
// layer's channels are the same.

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/defense/activation_stats.hpp>
#include <prunedef/defense/pruning_policy.hpp>
#include <prunedef/layers/layer_base.hpp>
#include <prunedef/model/graph_layer.hpp>
#include <prunedef/training/backprop.hpp>
#include <prunedef/training/initializer.hpp>
#include <prunedef/training/loss.hpp>
#include <prunedef/training/trainer.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace prunedef {

struct AnpOptions {
    float epsilon = 0.4f;           // perturbation budget: delta, xi in [-epsilon, epsilon]
    float alpha = 0.2f;             // weight of the unperturbed loss in the mask's objective
    float learning_rate = 0.2f;     // SGD on the masks
    float momentum = 0.9f;          // SGD momentum (the paper's code)
    std::size_t iterations = 2000;  // mini-batches
    std::size_t batch_size = 128;
    std::uint64_t seed = 1;         // mini-batches and the perturbations' random starts
    /// Called after every iteration with (iterations done, iterations).
    std::function<void(std::size_t, std::size_t)> progress;
};

/// Refuses options outside the method's domain (argument_error naming the option).
inline void check_anp_options(const AnpOptions& o) {
    if (!(o.epsilon >= 0.0f && o.epsilon <= 1.0f))
        throw argument_error("ANP: epsilon must be in [0, 1], got " + std::to_string(o.epsilon));
    if (!(o.alpha >= 0.0f && o.alpha <= 1.0f))
        throw argument_error("ANP: alpha must be in [0, 1], got " + std::to_string(o.alpha));
    if (!(o.learning_rate > 0.0f) || !std::isfinite(o.learning_rate))
        throw argument_error("ANP: the learning rate must be positive and finite");
    if (!(o.momentum >= 0.0f && o.momentum < 1.0f))
        throw argument_error("ANP: momentum must be in [0, 1), got " + std::to_string(o.momentum));
    if (o.iterations == 0) throw argument_error("ANP: at least one iteration is needed");
    if (o.batch_size == 0) throw argument_error("ANP: the batch size must be positive");
}

namespace detail {

/// The kernel and bias of a pruned layer: the layer itself (Conv2D, Dense), or a GraphLayer's
/// weighted op.
template <class Layer>
KernelAndBias& anp_weights(Layer& layer) {
    static_assert(std::is_base_of_v<KernelAndBias, Layer>, "ANP: the pruned layer must hold a kernel and a bias");
    return layer;
}
inline KernelAndBias& anp_weights(GraphLayer& layer) {
    KernelAndBias* kb = layer.weighted();
    if (!kb) throw argument_error("ANP: the pruned layer " + layer.name() + " has no weights");
    return *kb;
}

/// The loss of a network on one mini-batch as a function of the pruned layer's per-channel
/// weight factors s and bias factors t, and its gradient in them. The stem runs once per batch.
template <class Net>
class AnpBatchLoss {
public:
    explicit AnpBatchLoss(const Net& net) : work_(net) {
        KernelAndBias& kb = anp_weights(work_.pruned_layer());
        const KernelAndBias& ckb = kb;  // const access: no new generation
        kernel_.assign(ckb.kernel().begin(), ckb.kernel().end());
        bias_.assign(ckb.bias().begin(), ckb.bias().end());
        if (bias_.empty() || kernel_.size() % bias_.size() != 0)
            throw argument_error("ANP: the pruned layer's kernel does not end in its channels");
    }

    std::size_t channels() const { return bias_.size(); }

    /// The mini-batch the next calls measure (images as the network reads them, before its input scale).
    void set_batch(const Tensor& images, const std::vector<int>& labels) {
        labels_ = labels;
        Tensor scaled = images;
        const float scale = work_.input_scale();
        if (scale != 1.0f)
            for (std::size_t i = 0; i < scaled.size(); ++i) scaled.data()[i] *= scale;
        forward_train(work_.stem(), scaled, stem_out_, stem_cache_);
    }

    /// The mean cross-entropy at (s, t); writes dL/ds and dL/dt when ds, dt are not null.
    double operator()(const std::vector<double>& s, const std::vector<double>& t, std::vector<double>* ds,
                      std::vector<double>* dt) {
        const std::size_t cout = channels();
        auto& layer = work_.pruned_layer();
        KernelAndBias& kb = anp_weights(layer);
        {
            auto& k = kb.kernel();  // write access: a new generation, the layer repacks
            auto& b = kb.bias();
            for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<float>(double(kernel_[i]) * s[i % cout]);
            for (std::size_t c = 0; c < cout; ++c) b[c] = static_cast<float>(double(bias_[c]) * t[c]);
        }
        forward_train(layer, stem_out_, conv_, pruned_cache_);
        forward_train(work_.reduce(), conv_, features_, reduce_cache_);
        forward_train(work_.head(), features_, logits_, head_cache_);
        const double loss = softmax_cross_entropy(logits_, labels_.data(), dlogits_);
        if (!ds && !dt) return loss;
        backward(work_.head(), head_cache_, dlogits_, &dfeatures_);
        backward(work_.reduce(), reduce_cache_, dfeatures_, &dconv_);
        backward(layer, pruned_cache_, dconv_, nullptr);
        const auto& gk = kb.kernel_gradient();
        const auto& gb = kb.bias_gradient();
        if (ds) {
            ds->assign(cout, 0.0);
            for (std::size_t i = 0; i < gk.size(); ++i) (*ds)[i % cout] += double(gk[i]) * double(kernel_[i]);
        }
        if (dt) {
            dt->resize(cout);
            for (std::size_t c = 0; c < cout; ++c) (*dt)[c] = double(gb[c]) * double(bias_[c]);
        }
        return loss;
    }

private:
    Net work_;  // a copy: its pruned layer's weights are rewritten and every layer holds gradients
    std::vector<float> kernel_, bias_;
    std::vector<int> labels_;
    Tensor stem_out_, conv_, features_, logits_, dlogits_, dfeatures_, dconv_;
    TrainCache<typename Net::stem_type> stem_cache_;
    TrainCache<typename Net::pruned_type> pruned_cache_;
    TrainCache<typename Net::reduce_type> reduce_cache_;
    TrainCache<typename Net::head_type> head_cache_;
};

inline double sign_of(double v) { return v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0); }

}  // namespace detail

/// The learnt ANP mask of every channel of net's pruned layer, in [0, 1], from clean labelled
/// images alone (see the top of this file).
template <class Net>
std::vector<double> anp_masks(const Net& net, const LabelledImages& clean, const AnpOptions& options = {}) {
    check_anp_options(options);
    if (clean.size() == 0) throw argument_error("ANP: no clean images");
    for (std::size_t i = 0; i < clean.size(); ++i)
        if (clean.labels[i] < 0 || std::size_t(clean.labels[i]) >= net.num_classes())
            throw argument_error("ANP: label " + std::to_string(clean.labels[i]) + " of image " + std::to_string(i) +
                                 " is not a class of the network (" + std::to_string(net.num_classes()) + ")");
    detail::AnpBatchLoss<Net> loss(net);
    const std::size_t cout = loss.channels();
    const double eps = options.epsilon, alpha = options.alpha;
    std::vector<double> mask(cout, 1.0), velocity(cout, 0.0), delta(cout), xi(cout), s(cout), t(cout);
    std::vector<double> ds, dt, grad_nat, grad_rob;
    const std::vector<double> ones(cout, 1.0);
    Rng rng(options.seed);
    std::vector<std::size_t> order(clean.size());
    std::iota(order.begin(), order.end(), std::size_t(0));
    std::size_t next = order.size();  // reshuffle at the first batch
    Tensor images;
    std::vector<int> labels;
    for (std::size_t it = 0; it < options.iterations; ++it) {
        if (next >= order.size()) {  // a new pass over the shuffled images (the last batch may be short)
            for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
            next = 0;
        }
        const std::size_t count = std::min(options.batch_size, order.size() - next);
        gather(clean, order.data() + next, count, images, labels);
        next += count;
        loss.set_batch(images, labels);
        // 1. the worst perturbation: a random start, one signed ascent step of size eps
        for (std::size_t c = 0; c < cout; ++c) delta[c] = eps * (2.0 * rng.uniform() - 1.0);
        for (std::size_t c = 0; c < cout; ++c) xi[c] = eps * (2.0 * rng.uniform() - 1.0);
        if (eps > 0) {
            for (std::size_t c = 0; c < cout; ++c) {
                s[c] = mask[c] + delta[c];
                t[c] = 1.0 + xi[c];
            }
            loss(s, t, &ds, &dt);
            for (std::size_t c = 0; c < cout; ++c) {
                delta[c] = std::clamp(delta[c] + eps * detail::sign_of(ds[c]), -eps, eps);
                xi[c] = std::clamp(xi[c] + eps * detail::sign_of(dt[c]), -eps, eps);
            }
        }
        // 2. the mask's step on alpha L(m) + (1 - alpha) L(m + delta, 1 + xi)
        loss(mask, ones, &grad_nat, nullptr);
        if (eps > 0) {
            for (std::size_t c = 0; c < cout; ++c) {
                s[c] = mask[c] + delta[c];
                t[c] = 1.0 + xi[c];
            }
            loss(s, t, &grad_rob, nullptr);
        } else {
            grad_rob.assign(cout, 0.0);  // the paper's code: no perturbed term without a budget
        }
        for (std::size_t c = 0; c < cout; ++c) {
            const double g = alpha * grad_nat[c] + (1.0 - alpha) * grad_rob[c];
            velocity[c] = double(options.momentum) * velocity[c] + g;
            mask[c] = std::clamp(mask[c] - double(options.learning_rate) * velocity[c], 0.0, 1.0);
        }
        if (options.progress) options.progress(it + 1, options.iterations);
    }
    return mask;
}

/// ANP as a pruning policy: the channels with the lowest learnt mask first, ties by channel
/// index. The masks are the given ones when `masks` is not empty (e.g. learnt beforehand on a
/// network's training form), else learnt by order() on *clean with `options`.
struct AdversarialNeuronPruning {
    static constexpr std::string_view name = "anp";
    static constexpr bool needs_activations = false;
    AnpOptions options{};
    const LabelledImages* clean = nullptr;
    std::vector<double> masks{};

    template <class Net>
    std::vector<std::size_t> order(const Net& net, const ChannelActivations&) const {
        if (masks.empty() && !clean) throw argument_error("ANP: neither masks nor clean images given");
        const std::vector<double> m = masks.empty() ? anp_masks(net, *clean, options) : masks;
        if (m.size() != net.prunable_channels())
            throw argument_error("ANP: " + std::to_string(m.size()) + " masks for a layer of " +
                                 std::to_string(net.prunable_channels()) + " channels");
        return detail::stable_order_by(m, true);
    }
};

}  // namespace prunedef
