#pragma once
// The sweep's fast path for DeepID-shaped heads:
//
//   features F -> fc_1 (linear)                       -> Z1 -+
//              -> conv_4 (pre-activation Z4) -> ReLU -> fc_2 -+-> ReLU -> output
//
// fc_1 and conv_4 read F linearly, so removing channel c changes their pre-activations by
// -F[., c] times the weights that read channel c: a few hundred multiply-adds per non-zero
// position instead of the full layers. Only fc_2 and output (the part after a non-linearity)
// are recomputed, and only for the images in which channel c was non-zero.

#include <prunedef/core/activation.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/core/workspace.hpp>
#include <prunedef/kernels/conv2d.hpp>
#include <prunedef/kernels/dense.hpp>
#include <prunedef/kernels/elementwise.hpp>
#include <prunedef/layers/activation.hpp>
#include <prunedef/layers/conv2d.hpp>
#include <prunedef/layers/dense.hpp>
#include <prunedef/layers/flatten.hpp>
#include <prunedef/layers/sequential.hpp>
#include <prunedef/layers/sum.hpp>
#include <prunedef/model/network.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

namespace prunedef {
namespace detail {

/// Recognises heads of the form Sum<Flatten->Dense<Linear>, Conv2D<Relu>->Flatten->Dense<Linear>>
/// -> Activation<Relu> -> Dense<Linear>.
template <class Head>
struct is_deepid_head : std::false_type {};
template <>
struct is_deepid_head<Sequential<Sum<Sequential<Flatten, Dense<Linear>>, Sequential<Conv2D<Relu>, Flatten, Dense<Linear>>>,
                                 Activation<Relu>, Dense<Linear>>> : std::true_type {};

template <class Net>
constexpr bool has_incremental_head = is_deepid_head<typename Net::head_type>::value;

/// The end of a DeepID-shaped head: logits = output(ReLU(z1 + fc_2(a4))) for fc_1's outputs z1
/// and conv_4's activations a4 (one row per image), computed as Network::head_logits computes
/// them. Used by the sweep and by GoodNet's kept-channel head.
template <class Net>
void deepid_head_tail(const Net& net, const Tensor& z1, const Tensor& a4, Tensor& logits, Workspace& ws) {
    const auto& fc2 = net.head().template layer<0>().second().template layer<2>();
    const auto& output = net.head().template layer<2>();
    ScratchFrame frame(ws);
    Tensor& z2 = frame.tensor();
    Tensor& hidden = frame.tensor();
    fc2.forward(a4, z2);
    add(z1, z2, hidden);
    activate<Relu>(hidden);
    output.forward(hidden, logits);
}

/// Sweeps images [begin, end) of a feature batch with incremental fc_1 / conv_4 updates.
template <class Net>
void sweep_task_incremental(const Net& net, const Tensor& features, std::size_t begin, std::size_t end,
                            const std::vector<std::size_t>& order, std::vector<int>& predicted) {
    using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const auto& sum = net.head().template layer<0>();
    const auto& fc1 = sum.first().template layer<1>();
    const auto& conv4 = sum.second().template layer<0>();
    const auto& output = net.head().template layer<2>();

    const std::size_t n = end - begin, C = features.channels(), fsize = features.image_size();
    const std::size_t PH = features.height(), PW = features.width();
    const ImageShape z4_shape = conv4.geometry().output_shape(features.shape());
    const std::size_t OH = z4_shape.height, OW = z4_shape.width, C4 = conv4.out_channels();
    const std::size_t hidden = fc1.out_features(), cols = order.size() + 1;
    const auto E = [](std::size_t v) { return static_cast<Eigen::Index>(v); };

    Tensor local(n, features.shape());
    std::memcpy(local.data(), features.image(begin), n * fsize * sizeof(float));
    Tensor z1, z4;
    fc1.forward(local, z1);  // fc_1 is linear
    // conv_4 before its ReLU, with the layer's packed kernel (packing does not depend on the activation)
    conv2d<Linear>(local, conv4.geometry(), conv4.packed_kernel(), conv4.kernel().data(), conv4.bias().data(), z4);
    Workspace ws;  // for the head's tail, reused by every step of this task

    Eigen::Map<const RowMatrix> w1(fc1.kernel().data(), E(fsize), E(hidden));
    Eigen::Map<const RowMatrix> k4(conv4.kernel().data(), E(conv4.kernel().size() / C4), E(C4));
    // Recomputes the classes of the given images from their Z1 and Z4 (deepid_head_tail).
    const std::size_t classes = output.out_features();
    Tensor a4, z1_rows, logits;
    auto classify = [&](const std::vector<std::size_t>& rows, std::size_t k) {
        const std::size_t m = rows.size();
        a4.resize(m, {1, 1, z4.image_size()});
        z1_rows.resize(m, {1, 1, hidden});
        for (std::size_t j = 0; j < m; ++j) {
            const float* src = z4.image(rows[j]);
            float* dst = a4.image(j);
            for (std::size_t i = 0; i < z4.image_size(); ++i) dst[i] = src[i] > 0.0f ? src[i] : 0.0f;
            std::memcpy(z1_rows.image(j), z1.image(rows[j]), hidden * sizeof(float));
        }
        deepid_head_tail(net, z1_rows, a4, logits, ws);
        for (std::size_t j = 0; j < m; ++j) {
            // as argmax: no class from an overflowed pass
            predicted[(begin + rows[j]) * cols + k] = argmax_finite(logits.image(j), classes, begin + rows[j]);
        }
    };

    std::vector<std::size_t> rows(n);
    for (std::size_t i = 0; i < n; ++i) rows[i] = i;
    classify(rows, 0);

    for (std::size_t k = 1; k <= order.size(); ++k) {
        const std::size_t c = order[k - 1];
        rows.clear();
        for (std::size_t i = 0; i < n; ++i) {
            predicted[(begin + i) * cols + k] = predicted[(begin + i) * cols + k - 1];
            float* f = local.image(i);
            bool changed = false;
            Eigen::Map<Eigen::RowVectorXf> z1_row(z1.image(i), E(hidden));
            float* z4_img = z4.image(i);
            for (std::size_t y = 0; y < PH; ++y)
                for (std::size_t x = 0; x < PW; ++x) {
                    float& v = f[(y * PW + x) * C + c];
                    if (v == 0.0f) continue;
                    changed = true;
                    z1_row.noalias() -= v * w1.row(E((y * PW + x) * C + c));
                    // conv_4 outputs (oy, ox) that read input (y, x) through kernel tap (y-oy, x-ox)
                    for (std::size_t ky = 0; ky < conv4.kernel_h(); ++ky) {
                        if (y < ky || y - ky >= OH) continue;
                        for (std::size_t kx = 0; kx < conv4.kernel_w(); ++kx) {
                            if (x < kx || x - kx >= OW) continue;
                            Eigen::Map<Eigen::RowVectorXf> z4_row(z4_img + ((y - ky) * OW + (x - kx)) * C4, E(C4));
                            z4_row.noalias() -= v * k4.row(E((ky * conv4.kernel_w() + kx) * C + c));
                        }
                    }
                    v = 0.0f;
                }
            if (changed) rows.push_back(i);
        }
        if (!rows.empty()) classify(rows, k);
    }
}

}  // namespace detail
}  // namespace prunedef
