#pragma once
// Writes data sets in the CSAW-HackML challenge layout: dataset "data" (N, C, H, W) as uint8
// (pixels rounded and clamped to 0..255) and dataset "label" (N,) as uint8, or int32 when a
// label exceeds 255 (the face networks have 1283 classes), atomically.

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/io/atomic_output.hpp>
#include <prunedef/io/hdf5.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace prunedef {

inline void write_dataset(const std::string& path, const Tensor& images, const std::vector<int>& labels) {
    if (labels.size() != images.batch())
        throw argument_error(path + ": " + std::to_string(images.batch()) + " images but " +
                             std::to_string(labels.size()) + " labels");
    const std::size_t N = images.batch(), H = images.height(), W = images.width(), C = images.channels();
    std::vector<std::uint8_t> data(images.size());
    bool small_labels = true;
    for (std::size_t n = 0; n < N; ++n) {
        if (labels[n] < 0) throw argument_error(path + ": label " + std::to_string(labels[n]) + " is negative");
        small_labels = small_labels && labels[n] <= 255;
        const float* src = images.image(n);
        for (std::size_t c = 0; c < C; ++c)
            for (std::size_t p = 0; p < H * W; ++p)
                data[(n * C + c) * H * W + p] =
                    static_cast<std::uint8_t>(std::clamp(std::lround(src[p * C + c]), 0L, 255L));
    }
    AtomicOutput out(path);
    {
        detail::H5Object file = detail::create_h5_file(out.path());
        file.file = path;
        detail::h5_write_dataset(file, "data", {N, C, H, W}, data.data(), H5T_STD_U8LE);
        if (small_labels) {
            const std::vector<std::uint8_t> label(labels.begin(), labels.end());
            detail::h5_write_dataset(file, "label", {N}, label.data(), H5T_STD_U8LE);
        } else {
            const std::vector<std::int32_t> label(labels.begin(), labels.end());
            detail::h5_write_dataset(file, "label", {N}, label.data(), H5T_STD_I32LE);
        }
    }
    out.commit();
}

}  // namespace prunedef
