#pragma once
// What both benchmark programs share: where ../shared is, the CSAW lab3 DeepID (real weights, or
// random weights of the same sizes when the file is absent) and a batch of real face images.

#include <prunedef/prunedef.hpp>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#ifndef PRUNEDEF_SHARED_DIR
#define PRUNEDEF_SHARED_DIR "../shared"
#endif

namespace prunedef_bench {

/// ../shared: environment variable PRUNEDEF_SHARED, else the CMake cache variable PRUNEDEF_SHARED_DIR.
inline std::string shared_dir() {
    if (const char* env = std::getenv("PRUNEDEF_SHARED")) return env;
    return PRUNEDEF_SHARED_DIR;
}

inline const prunedef::ImageShape face_shape{55, 47, 3};

/// The CSAW DeepID ready to run, and where its weights came from.
struct Model {
    prunedef::DeepID net = prunedef::make_deepid();
    bool real = false;
    std::string source;  // the weights file, or a note that the weights are random
};

/// Kernel and bias sizes of every weighted layer of the CSAW face networks.
struct LayerSize {
    const char* name;
    std::vector<std::size_t> kernel;
};
inline const std::vector<LayerSize>& csaw_sizes() {
    static const std::vector<LayerSize> sizes = {
        {"conv_1", {4, 4, 3, 20}},   {"conv_2", {3, 3, 20, 40}}, {"conv_3", {3, 3, 40, 60}},
        {"conv_4", {2, 2, 60, 80}},  {"fc_1", {1200, 160}},      {"fc_2", {960, 160}},
        {"output", {160, 1283}},
    };
    return sizes;
}

/// Fills every weighted layer with uniform He-scaled random values of the CSAW sizes.
inline void fill_random(prunedef::DeepID& net, unsigned seed = 2020) {
    std::mt19937 rng(seed);
    net.visit([&](auto& layer) {
        using L = std::decay_t<decltype(layer)>;
        if constexpr (L::has_weights) {
            for (const auto& s : csaw_sizes()) {
                if (layer.name() != s.name) continue;
                std::size_t count = 1, fan_in = 1;
                for (std::size_t i = 0; i < s.kernel.size(); ++i) {
                    count *= s.kernel[i];
                    if (i + 1 < s.kernel.size()) fan_in *= s.kernel[i];
                }
                const float limit = std::sqrt(6.0f / float(fan_in));
                std::uniform_real_distribution<float> u(-limit, limit);
                prunedef::WeightArray kernel{"kernel:0", s.kernel, std::vector<float>(count)};
                for (auto& v : kernel.values) v = u(rng);
                const std::size_t out = s.kernel.back();
                prunedef::WeightArray bias{"bias:0", {out}, std::vector<float>(out, 0.01f)};
                layer.set_weights({std::move(kernel), std::move(bias)});
            }
        }
    });
    // Random weights on raw 0..255 pixels would grow without bound through five layers.
    net.set_input_scale(1.0f / 255.0f);
}

/// lab3_sunglasses_bd_weights.h5 (raw pixels), or random weights when the file is absent.
inline Model load_model() {
    Model m;
    const std::string path = shared_dir() + "/models/csaw/lab3_sunglasses_bd_weights.h5";
    if (std::filesystem::exists(path)) {
        prunedef::load_keras_weights(path, m.net);
        m.real = true;
        m.source = path;
    } else {
        fill_random(m.net);
        m.source = "RANDOM weights of the CSAW sizes (" + path + " is absent)";
    }
    m.net.bind(face_shape);
    return m;
}

/// `batch` real faces from clean_samples.h5, repeated as needed; uniform random pixels 0..255
/// when the file is absent. `real` tells which.
inline prunedef::Tensor face_batch(std::size_t batch, bool* real = nullptr) {
    prunedef::Tensor out(batch, face_shape);
    const std::string path = shared_dir() + "/data/csaw/clean_samples.h5";
    if (std::filesystem::exists(path)) {
        prunedef::DatasetReader reader(path);
        prunedef::Tensor all;
        reader.read(0, reader.size(), all);
        const std::size_t per = face_shape.size();
        for (std::size_t n = 0; n < batch; ++n)
            std::copy(all.image(n % all.batch()), all.image(n % all.batch()) + per, out.image(n));
        if (real) *real = true;
    } else {
        std::mt19937 rng(7);
        std::uniform_real_distribution<float> u(0.0f, 255.0f);
        for (std::size_t i = 0; i < out.size(); ++i) out.data()[i] = u(rng);
        if (real) *real = false;
    }
    return out;
}

/// The network's layer of that name and type (nullptr if there is none).
template <class Layer, class Net>
const Layer* find_layer(const Net& net, const std::string& name) {
    const Layer* found = nullptr;
    net.visit([&](const auto& layer) {
        using L = std::decay_t<decltype(layer)>;
        if constexpr (std::is_same_v<L, Layer>)
            if (layer.name() == name) found = &layer;
    });
    return found;
}

}  // namespace prunedef_bench
