#pragma once
// choose_input_scale(): for a model file that does not state how its inputs were scaled, the one
// of 1 (raw pixels) and 1/255 under which the network classifies the first images of a labelled
// set best. The CSAW networks were trained both ways (the sunglasses network scores 49 % at 1 and
// 95 % at 1/255 on clean faces), so a wrong guess is a silently wrong result: a tie decides
// nothing, and the caller refuses then.

#include <prunedef/core/tensor.hpp>

#include <algorithm>
#include <cstddef>
#include <vector>

namespace prunedef {

struct InputScaleChoice {
    std::size_t images = 0;         ///< images tried (the first of the set, at most 256)
    std::size_t correct_raw = 0;    ///< of them classified as their label at scale 1
    std::size_t correct_255 = 0;    ///< at scale 1/255
    bool decided() const { return correct_raw != correct_255; }
    bool per_255() const { return correct_255 > correct_raw; }
    float scale() const { return per_255() ? 1.0f / 255.0f : 1.0f; }
};

/// Tries both scales on the first (up to max_images) images of data and leaves net at the better
/// one (at 1 on a tie, which the caller must refuse: see decided()).
template <class Net, class Source>
InputScaleChoice choose_input_scale(Net& net, const Source& data, std::size_t max_images = 256) {
    InputScaleChoice c;
    c.images = std::min(max_images, data.size());
    Tensor images;
    data.read(0, c.images, images);
    const std::vector<int>& labels = data.labels();
    const float scales[2] = {1.0f, 1.0f / 255.0f};
    std::size_t* correct[2] = {&c.correct_raw, &c.correct_255};
    for (int s = 0; s < 2; ++s) {
        net.set_input_scale(scales[s]);
        const std::vector<int> predicted = net.predict(images);
        for (std::size_t i = 0; i < c.images; ++i) *correct[s] += predicted[i] == labels[i];
    }
    net.set_input_scale(c.scale());
    return c;
}

}  // namespace prunedef
