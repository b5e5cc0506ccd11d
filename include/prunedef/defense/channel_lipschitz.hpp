#pragma once
// CLP, Channel Lipschitzness-based Pruning (Zheng, Zhang, Wang, Zhao and Liu, "Data-free Backdoor
// Removal based on Channel Lipschitzness", ECCV 2022): a data-free pruning policy. A backdoor
// makes a few channels react very strongly to a small trigger; such channels have a large
// Lipschitz constant. For channel k of the pruned layer the paper's upper bound of its channel
// Lipschitz constant (UCLC) is the spectral norm of the channel's kernel,
//
//     UCLC_k = |gamma_k| / sqrt(var_k + eps) * sigma_max(W_k),
//
// W_k the channel's kernel reshaped to in_channels x (kh * kw) (a Dense neuron: its weight
// vector, whose spectral norm is its L2 norm), and the factor that of the BatchNormalization
// that follows the layer, when one does (ReLU in between changes nothing: it is 1-Lipschitz).
// The bias does not enter (a Lipschitz constant ignores offsets).
//
// The order is decreasing UCLC: the channels with the largest bound are the suspicious ones and
// are pruned first; ties by channel index. The paper prunes every layer at UCLC > mean + u * std
// of its layer; here the bound ranks the channels of the one pruned layer and the sweep's
// accuracy-drop thresholds (or --k) decide how many go, so CLP composes with GoodNet and the
// reports like every other policy.
//
// Cost: no data at all. Per channel, the Gram matrix of W_k in its smaller dimension
// m = min(in_channels, kh * kw) and its largest eigenvalue in double: O(kh*kw*in_channels*m + m^3)
// per channel; on DeepID's conv_3 (60 channels of 3x3x40, m = 9) well under a millisecond, against
// a forward pass over the validation set for the activation policies.
//
// The pruned layer is never folded with a following BatchNormalization (graph_network.hpp), so
// its kernel is the layer's own; the BatchNormalization factor is given by channel_scale
// (following_batch_norm_scale() reads it from a model's configuration: a BatchNormalization that
// is the pruned layer's only reader). Without it, a BatchNormalization after the layer would be
// ignored: the tool always passes it.

#include <prunedef/core/error.hpp>
#include <prunedef/defense/activation_stats.hpp>
#include <prunedef/defense/pruning_policy.hpp>
#include <prunedef/model/layer_spec.hpp>

#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace prunedef {

namespace detail {

template <class Layer, class = void>
struct has_in_channels : std::false_type {};
template <class Layer>
struct has_in_channels<Layer, std::void_t<decltype(std::declval<const Layer&>().in_channels())>> : std::true_type {};

/// The input channels of the pruned layer: its own in_channels() when it has one, else the
/// channels of the stem's output (a bound network).
template <class Net>
std::size_t pruned_in_channels(const Net& net) {
    using Layer = std::decay_t<decltype(net.pruned_layer())>;
    if constexpr (has_in_channels<Layer>::value)
        return net.pruned_layer().in_channels();
    else
        return net.stem().output_shape(net.input_shape()).channels;
}

/// The largest singular value of the rows x cols matrix a (row-major, in double), from the
/// largest eigenvalue of its Gram matrix in the smaller dimension.
inline double largest_singular_value(const std::vector<double>& a, std::size_t rows, std::size_t cols) {
    using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const Eigen::Map<const Matrix> m(a.data(), Eigen::Index(rows), Eigen::Index(cols));
    const Eigen::MatrixXd gram = rows <= cols ? Eigen::MatrixXd(m * m.transpose()) : Eigen::MatrixXd(m.transpose() * m);
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(gram, Eigen::EigenvaluesOnly);
    const double top = eig.eigenvalues().maxCoeff();  // a Gram matrix: eigenvalues >= 0 up to rounding
    return std::sqrt(std::max(top, 0.0));
}

}  // namespace detail

/// UCLC of every channel of a kernel stored (positions, in_channels, out_channels) row-major
/// (Keras' Conv2D (kh, kw, cin, cout), positions = kh * kw; Dense (in, out): positions 1), times
/// |channel_scale[k]| when channel_scale is not empty.
inline std::vector<double> channel_lipschitz_bounds(const float* kernel, std::size_t kernel_size, std::size_t in_channels,
                                                    std::size_t out_channels, const std::vector<double>& channel_scale = {}) {
    if (in_channels == 0 || out_channels == 0 || kernel_size == 0 || kernel_size % (in_channels * out_channels) != 0)
        throw argument_error("channel Lipschitz bound: a kernel of " + std::to_string(kernel_size) +
                             " values is not (positions, " + std::to_string(in_channels) + ", " +
                             std::to_string(out_channels) + ")");
    if (!channel_scale.empty() && channel_scale.size() != out_channels)
        throw argument_error("channel Lipschitz bound: " + std::to_string(channel_scale.size()) +
                             " channel scales for a layer of " + std::to_string(out_channels) + " channels");
    const std::size_t positions = kernel_size / (in_channels * out_channels);
    std::vector<double> bounds(out_channels), w(positions * in_channels);
    for (std::size_t k = 0; k < out_channels; ++k) {
        for (std::size_t p = 0; p < positions; ++p)
            for (std::size_t c = 0; c < in_channels; ++c)
                w[p * in_channels + c] = double(kernel[(p * in_channels + c) * out_channels + k]);
        bounds[k] = detail::largest_singular_value(w, positions, in_channels);
        if (!channel_scale.empty()) bounds[k] *= std::fabs(channel_scale[k]);
        if (!std::isfinite(bounds[k]))
            throw numeric_error("channel Lipschitz bound of channel " + std::to_string(k) + " is not finite");
    }
    return bounds;
}

/// CLP: prunes the channels with the largest channel Lipschitz upper bound first (data-free).
struct ChannelLipschitz {
    static constexpr std::string_view name = "clp";
    static constexpr bool needs_activations = false;
    /// The scale of the BatchNormalization after the pruned layer per channel (gamma / sqrt(var +
    /// eps)); empty: none follows it.
    std::vector<double> channel_scale{};

    /// UCLC of every channel of net's pruned layer.
    template <class Net>
    std::vector<double> bounds(const Net& net) const {
        const auto& layer = net.pruned_layer();
        return channel_lipschitz_bounds(layer.kernel().data(), layer.kernel().size(), detail::pruned_in_channels(net),
                                        layer.out_channels(), channel_scale);
    }

    template <class Net>
    std::vector<std::size_t> order(const Net& net, const ChannelActivations&) const {
        return detail::stable_order_by(bounds(net), false);
    }
};

namespace detail {

/// The only layer of spec that reads `layer`; null when none or several do.
inline const LayerSpec* only_reader(const ModelSpec& spec, const std::string& layer) {
    const LayerSpec* reader = nullptr;
    std::size_t readers = 0;
    for (const LayerSpec& l : spec.layers)
        for (const std::string& in : l.inputs)
            if (in == layer) {
                ++readers;
                reader = &l;
            }
    return readers == 1 ? reader : nullptr;
}

/// A layer between a convolution and its BatchNormalization that acts on each channel alone with
/// a Lipschitz constant of at most 1 (so the bound gamma / sigma x sigma_max(W_k) still holds):
/// ReLU, a LeakyReLU of slope at most 1, an Activation of relu, Dropout (identity at inference).
inline bool channelwise_contraction(const LayerSpec& l) {
    if (l.class_name == "ReLU" || l.class_name == "Dropout") return true;
    if (l.class_name == "LeakyReLU") return std::abs(l.alpha) <= 1.0f;
    if (l.class_name == "Activation") return l.activation == "relu" || l.activation == "linear";
    return false;
}

}  // namespace detail

/// The per-channel factor gamma / sqrt(moving_variance + epsilon) of the BatchNormalization that
/// is the only reader of `layer` in spec, possibly through per-channel contractions
/// (ReLU, Dropout, ...; gamma 1 when it has no scale), from weights under Keras' names
/// (graph_weights()); none when no BatchNormalization alone reads the layer.
inline std::optional<std::vector<double>> following_batch_norm_scale(const ModelSpec& spec, const ModelWeights& weights,
                                                                     const std::string& layer) {
    const LayerSpec* reader = detail::only_reader(spec, layer);
    while (reader && detail::channelwise_contraction(*reader)) reader = detail::only_reader(spec, reader->name);
    if (!reader || reader->class_name != "BatchNormalization") return std::nullopt;
    const auto it = weights.find(reader->name);
    if (it == weights.end()) throw format_error("CLP: no weights for BatchNormalization " + reader->name);
    const auto array = [&](const std::string& want) -> const WeightArray* {
        for (const WeightArray& w : it->second) {
            const std::string base = w.name.substr(0, w.name.find(':'));
            const std::string tail = base.substr(base.rfind('/') == std::string::npos ? 0 : base.rfind('/') + 1);
            if (tail == want) return &w;
        }
        return nullptr;
    };
    const WeightArray* variance = array("moving_variance");
    const WeightArray* gamma = reader->scale ? array("gamma") : nullptr;
    if (!variance || (reader->scale && !gamma))
        throw format_error("CLP: BatchNormalization " + reader->name + " lacks " + (variance ? "gamma" : "moving_variance"));
    std::vector<double> scale(variance->values.size());
    for (std::size_t c = 0; c < scale.size(); ++c) {
        const double g = gamma ? double(gamma->values.at(c)) : 1.0;
        scale[c] = g / std::sqrt(double(variance->values[c]) + double(reader->epsilon));
    }
    return scale;
}

}  // namespace prunedef
