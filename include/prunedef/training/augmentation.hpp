#pragma once
// Data augmentation for training on images: each image of a mini-batch is, independently,
// flipped left to right with probability 1/2 (when flips are on) and then shifted by a random
// (dy, dx), each uniform in [-S, S] pixels, with zeros filling what the shift uncovers. Zero is
// the padding in stored pixel values (before the network's input scale, which keeps 0 at 0).
//
// The random numbers come from their own generator (seeded by the trainer from its seed, so
// augmentation does not change the shuffle) and are drawn one image after the other on the
// calling thread: the result depends on the seed only, never on the thread count.

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/training/initializer.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

namespace prunedef {

struct Augmentation {
    std::size_t max_shift = 0;     ///< S: shifts of up to S pixels in each direction (0: none)
    bool horizontal_flip = false;  ///< flip left to right with probability 1/2
    bool active() const { return max_shift > 0 || horizontal_flip; }
};

/// What is done to one image: flipped first (when flip), then moved dy rows down and dx columns
/// right (negative: up, left).
struct ImageTransform {
    long dy = 0, dx = 0;
    bool flip = false;
};

/// The next image's transform: dy and dx (in that order, when max_shift > 0), then the flip
/// (when flips are on).
inline ImageTransform draw_transform(const Augmentation& a, Rng& rng) {
    ImageTransform t;
    if (a.max_shift > 0) {
        const auto span = 2 * a.max_shift + 1;
        t.dy = long(rng.below(span)) - long(a.max_shift);
        t.dx = long(rng.below(span)) - long(a.max_shift);
    }
    if (a.horizontal_flip) t.flip = rng.uniform() < 0.5;
    return t;
}

/// out(y, x, c) = in(y - dy, x' - dx, c) with x' the flipped column (W - 1 - x' when flip), zero
/// where that falls outside the image; in and out are HxWxC images that must not overlap.
inline void transform_image(const float* in, float* out, std::size_t height, std::size_t width, std::size_t channels,
                            const ImageTransform& t) {
    const long H = long(height), W = long(width);
    for (long y = 0; y < H; ++y)
        for (long x = 0; x < W; ++x) {
            float* o = out + (std::size_t(y) * width + std::size_t(x)) * channels;
            const long sy = y - t.dy, sx0 = x - t.dx;
            if (sy < 0 || sy >= H || sx0 < 0 || sx0 >= W) {
                std::fill(o, o + channels, 0.0f);
                continue;
            }
            const long sx = t.flip ? W - 1 - sx0 : sx0;
            std::memcpy(o, in + (std::size_t(sy) * width + std::size_t(sx)) * channels, channels * sizeof(float));
        }
}

/// Applies a fresh transform to every image of a batch, in place, in image order.
inline void augment_batch(Tensor& images, const Augmentation& a, Rng& rng) {
    if (!a.active()) return;
    if (a.max_shift > 1000000) throw argument_error("augmentation: a shift of more than a million pixels");
    std::vector<float> copy(images.image_size());
    for (std::size_t i = 0; i < images.batch(); ++i) {
        const ImageTransform t = draw_transform(a, rng);
        std::memcpy(copy.data(), images.image(i), copy.size() * sizeof(float));
        transform_image(copy.data(), images.image(i), images.height(), images.width(), images.channels(), t);
    }
}

}  // namespace prunedef
