#pragma once
// Image files (PNG, JPEG, BMP, ...) decoded with stb_image (Debian libstb-dev). Link the
// prunedef::image CMake target, which adds stb; the umbrella header does not include this file.
// The image's size is checked against the model's input from the header, before decoding.

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>

#include <stb_image.h>

#include <filesystem>
#include <memory>
#include <string>

namespace prunedef {

/// Loads one image as a 1-image NHWC tensor of raw pixel values 0..255. Greyscale and RGB are
/// converted to expected.channels; any other size than expected's height x width is refused.
inline Tensor load_image(const std::string& path, const ImageShape& expected) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw io_error(path + ": no such file");
    if (expected.channels != 1 && expected.channels != 3)
        throw shape_error(path + ": the model expects " + std::to_string(expected.channels) +
                          " channels; images can be loaded as 1 or 3 channels only");
    int w = 0, h = 0, c = 0;
    if (!stbi_info(path.c_str(), &w, &h, &c))
        throw format_error(path + ": not a readable image (" + std::string(stbi_failure_reason()) + ")");
    if (std::size_t(h) != expected.height || std::size_t(w) != expected.width)
        throw shape_error(path + ": image is " + std::to_string(h) + "x" + std::to_string(w) + " (height x width), the model expects " +
                          std::to_string(expected.height) + "x" + std::to_string(expected.width));
    std::unique_ptr<unsigned char, void (*)(void*)> pixels(
        stbi_load(path.c_str(), &w, &h, &c, static_cast<int>(expected.channels)), stbi_image_free);
    if (!pixels) throw format_error(path + ": cannot decode image (" + std::string(stbi_failure_reason()) + ")");
    Tensor t(1, expected);
    for (std::size_t i = 0; i < expected.size(); ++i) t.data()[i] = static_cast<float>(pixels.get()[i]);
    return t;
}

}  // namespace prunedef
