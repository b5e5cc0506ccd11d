#pragma once
// Image files (PNG, JPEG, BMP) decoded with stb_image (Debian libstb-dev). Link the
// prunedef::image CMake target, which adds stb; the umbrella header does not include this file.
// The image's size is checked against the model's input from the header, before decoding.
//
// Hardening: the file is read whole (at most max_image_file_bytes) and only PNG, JPEG and BMP
// are handed to stb; its other decoders (GIF, PSD, HDR, PIC, PNM, TGA) are not exposed. JPEG
// Huffman tables are checked first: stb_image 2.27 (Debian 12) writes past its tables when a
// DHT segment declares more than 256 codes.

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>

#include <stb_image.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

namespace prunedef {

/// Largest image file load_image() reads.
inline constexpr std::size_t max_image_file_bytes = std::size_t(64) << 20;

namespace detail {

/// Checks every byte pair FF C4 (a DHT marker, wherever a decoder could meet it) as stb would
/// parse it: each table's 16 code counts must add up to at most 256. Bytes past the end read
/// as 0, as in stb.
inline bool jpeg_huffman_tables_ok(const std::vector<unsigned char>& b) {
    auto at = [&](std::size_t i) -> unsigned { return i < b.size() ? b[i] : 0u; };
    for (std::size_t m = 0; m + 1 < b.size(); ++m) {
        if (b[m] != 0xFF || b[m + 1] != 0xC4) continue;
        std::size_t p = m + 2;
        long left = long(at(p) << 8 | at(p + 1)) - 2;
        p += 2;
        while (left > 0 && p < b.size()) {
            ++p;  // table class and index
            unsigned n = 0;
            for (int i = 0; i < 16; ++i) n += at(p++);
            if (n > 256) return false;
            p += n;
            left -= 17 + long(n);
        }
    }
    return true;
}

}  // namespace detail

/// Loads one image as a 1-image NHWC tensor of raw pixel values 0..255. Greyscale and RGB are
/// converted to expected.channels; any other size than expected's height x width is refused.
inline Tensor load_image(const std::string& path, const ImageShape& expected) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw io_error(path + ": no such file");
    if (std::filesystem::is_directory(path, ec)) throw io_error(path + ": is a directory, expected an image");
    if (expected.channels != 1 && expected.channels != 3)
        throw shape_error(path + ": the model expects " + std::to_string(expected.channels) +
                          " channels; images can be loaded as 1 or 3 channels only");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw io_error(path + ": cannot open");
    std::vector<unsigned char> bytes;
    char chunk[65536];
    while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
        bytes.insert(bytes.end(), chunk, chunk + in.gcount());
        if (bytes.size() > max_image_file_bytes)
            throw format_error(path + ": file is larger than " + std::to_string(max_image_file_bytes >> 20) +
                               " MiB, too large for an image");
    }
    if (in.bad()) throw io_error(path + ": read failed");
    auto starts_with = [&](std::initializer_list<unsigned> magic) {
        if (bytes.size() < magic.size()) return false;
        std::size_t i = 0;
        for (unsigned m : magic)
            if (bytes[i++] != m) return false;
        return true;
    };
    const bool png = starts_with({0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
    const bool jpeg = starts_with({0xFF, 0xD8});
    const bool bmp = starts_with({'B', 'M'});
    if (!png && !jpeg && !bmp) throw format_error(path + ": not a PNG, JPEG or BMP image");
    if (jpeg && !detail::jpeg_huffman_tables_ok(bytes))
        throw format_error(path + ": corrupt JPEG (a Huffman table has more than 256 codes)");
    if (bytes.size() > std::size_t(INT32_MAX)) throw format_error(path + ": file too large");
    const int length = static_cast<int>(bytes.size());
    int w = 0, h = 0, c = 0;
    if (!stbi_info_from_memory(bytes.data(), length, &w, &h, &c))
        throw format_error(path + ": not a readable image (" + std::string(stbi_failure_reason()) + ")");
    if (std::size_t(h) != expected.height || std::size_t(w) != expected.width)
        throw shape_error(path + ": image is " + std::to_string(h) + "x" + std::to_string(w) + " (height x width), the model expects " +
                          std::to_string(expected.height) + "x" + std::to_string(expected.width));
    std::unique_ptr<unsigned char, void (*)(void*)> pixels(
        stbi_load_from_memory(bytes.data(), length, &w, &h, &c, static_cast<int>(expected.channels)),
        stbi_image_free);
    if (!pixels) throw format_error(path + ": cannot decode image (" + std::string(stbi_failure_reason()) + ")");
    if (std::size_t(h) != expected.height || std::size_t(w) != expected.width)
        throw format_error(path + ": image header says " + std::to_string(expected.height) + "x" +
                           std::to_string(expected.width) + " but decodes as " + std::to_string(h) + "x" +
                           std::to_string(w));
    Tensor t(1, expected);
    for (std::size_t i = 0; i < expected.size(); ++i) t.data()[i] = static_cast<float>(pixels.get()[i]);
    return t;
}

}  // namespace prunedef
