#pragma once
// Data augmentation for training on images: each image of a mini-batch is, independently,
// flipped left to right with probability 1/2 (when flips are on) and then shifted by a random
// (dy, dx), each uniform in [-S, S] pixels, with zeros filling what the shift uncovers. Zero is
// the padding in stored pixel values (before the network's input scale, which keeps 0 at 0).
//
// Random erasing (Zhong, Zheng, Kang, Li and Yang, "Random Erasing Data Augmentation", AAAI
// 2020), applied after the shift and flip: with probability p an image gets one rectangle of
// random area (a uniform fraction in [0.02, 0.4] of the image) and aspect ratio (height / width
// uniform in [0.3, 1 / 0.3]) at a uniform position, every value in it replaced by a uniform
// random value in [low, high] (the trainer passes the range of its training images). Up to 100
// draws find a rectangle that fits; an image where none does is left as it is. These are the
// paper's defaults. A network trained so cannot rely on any small patch of an image, which is
// what a patch trigger is.
//
// The random numbers come from their own generator (seeded by the trainer from its seed, so
// augmentation does not change the shuffle) and are drawn one image after the other on the
// calling thread: the result depends on the seed only, never on the thread count.

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/training/initializer.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

namespace prunedef {

/// Random erasing's setting (file comment); the defaults but probability are the paper's.
struct RandomErasing {
    double probability = 0.0;  ///< p: the chance that an image gets a rectangle (0: none)
    double min_area = 0.02;    ///< the rectangle's area as a fraction of the image's: at least
    double max_area = 0.4;     ///< ... and at most
    double min_aspect = 0.3;   ///< height / width in [min_aspect, 1 / min_aspect]
    bool active() const { return probability > 0.0; }
};

struct Augmentation {
    std::size_t max_shift = 0;     ///< S: shifts of up to S pixels in each direction (0: none)
    bool horizontal_flip = false;  ///< flip left to right with probability 1/2
    RandomErasing erasing{};       ///< after the shift and flip (erase_batch)
    /// Whether images are shifted or flipped (augment_batch); erasing is apart (erase_batch).
    bool active() const { return max_shift > 0 || horizontal_flip; }
};

/// Refuses an erasing setting that cannot be drawn (argument_error): a probability outside
/// [0, 1], areas not 0 < min <= max <= 1, an aspect bound not in (0, 1].
inline void check_random_erasing(const RandomErasing& e) {
    if (!(e.probability >= 0.0 && e.probability <= 1.0))
        throw argument_error("random erasing: the probability must be in [0, 1], got " + std::to_string(e.probability));
    if (!(e.min_area > 0.0 && e.min_area <= e.max_area && e.max_area <= 1.0))
        throw argument_error("random erasing: the area fractions must satisfy 0 < min <= max <= 1, got " +
                             std::to_string(e.min_area) + " and " + std::to_string(e.max_area));
    if (!(e.min_aspect > 0.0 && e.min_aspect <= 1.0))
        throw argument_error("random erasing: the aspect bound must be in (0, 1], got " + std::to_string(e.min_aspect));
}

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

/// A rectangle of an image: rows [top, top + height), columns [left, left + width); height 0:
/// none.
struct ErasedRectangle {
    std::size_t top = 0, left = 0, height = 0, width = 0;
};

/// The next image's rectangle (file comment): the coin, then up to 100 draws of area, aspect and,
/// for the first that fits, position.
inline ErasedRectangle draw_erased_rectangle(const RandomErasing& e, std::size_t height, std::size_t width, Rng& rng) {
    ErasedRectangle r;
    if (!e.active() || rng.uniform() >= e.probability) return r;
    const double area = double(height) * double(width);
    for (int attempt = 0; attempt < 100; ++attempt) {
        const double fraction = e.min_area + (e.max_area - e.min_area) * rng.uniform();
        const double aspect = e.min_aspect + (1.0 / e.min_aspect - e.min_aspect) * rng.uniform();
        const auto h = std::size_t(std::lround(std::sqrt(fraction * area * aspect)));
        const auto w = std::size_t(std::lround(std::sqrt(fraction * area / aspect)));
        if (h == 0 || w == 0 || h >= height || w >= width) continue;
        r.top = std::size_t(rng.below(height - h + 1));
        r.left = std::size_t(rng.below(width - w + 1));
        r.height = h;
        r.width = w;
        return r;
    }
    return r;
}

/// Erases a fresh rectangle (or none) in every image of a batch, in place, in image order: each
/// value inside becomes a uniform random value in [low, high].
inline void erase_batch(Tensor& images, const RandomErasing& e, float low, float high, Rng& rng) {
    if (!e.active()) return;
    check_random_erasing(e);
    if (!(low <= high) || !std::isfinite(low) || !std::isfinite(high))
        throw argument_error("random erasing: the fill range must be finite with low <= high");
    const std::size_t H = images.height(), W = images.width(), C = images.channels();
    for (std::size_t i = 0; i < images.batch(); ++i) {
        const ErasedRectangle r = draw_erased_rectangle(e, H, W, rng);
        float* image = images.image(i);
        for (std::size_t y = r.top; y < r.top + r.height; ++y)
            for (std::size_t x = r.left; x < r.left + r.width; ++x)
                for (std::size_t c = 0; c < C; ++c)
                    image[(y * W + x) * C + c] = low + float(double(high - low) * rng.uniform());
    }
}

}  // namespace prunedef
