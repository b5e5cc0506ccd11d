#pragma once
// Image files (PNG, JPEG, BMP) decoded with stb_image (Debian libstb-dev). Link the
// prunedef::image CMake target, which adds stb; the umbrella header does not include this file.
// The image's size is checked against the model's input from the header, before decoding.
//
// Hardening: the file is read whole (at most max_image_file_bytes) and only PNG, JPEG and BMP
// are handed to stb; its other decoders (GIF, PSD, HDR, PIC, PNM, TGA) are not exposed. JPEG
// Huffman tables are checked first: stb_image 2.27 (Debian 12) writes past its tables when a
// DHT segment declares more than 256 codes. A PNG's compressed data must inflate to no more than
// its (checked) size holds, so a decompression bomb is refused in bounded memory; a BMP must hold
// the rows its header declares (stb reads missing ones as zeros); top-down BMPs are accepted.
// Only regular files are read (io/input_file.hpp).

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/io/input_file.hpp>

#include <stb_image.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
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

inline std::uint32_t image_be32(const std::vector<unsigned char>& b, std::size_t i) {
    return std::uint32_t(b[i]) << 24 | std::uint32_t(b[i + 1]) << 16 | std::uint32_t(b[i + 2]) << 8 | b[i + 3];
}
inline std::uint32_t image_le32(const std::vector<unsigned char>& b, std::size_t i) {
    return std::uint32_t(b[i + 3]) << 24 | std::uint32_t(b[i + 2]) << 16 | std::uint32_t(b[i + 1]) << 8 | b[i];
}

/// A PNG's image data (its IDAT chunks, one zlib stream) must inflate to no more than an image
/// of its header's size holds: stb_image inflates the whole stream into a growing buffer before
/// it compares, so a small file could take gigabytes (a decompression bomb). Inflates into a
/// buffer of that size. width and height are the image's size as stb_image reads it (from the
/// first IHDR chunk), already checked against the model's; a later IHDR chunk (stb refuses the
/// file) must not size the buffer, or a crafted one would ask for gigabytes.
inline void check_png_inflated_size(const std::vector<unsigned char>& b, const std::string& path, std::size_t width,
                                    std::size_t height) {
    std::size_t p = 8;
    unsigned depth = 8, colour = 6, interlace = 0;
    bool header = false, apple = false, end = false;
    std::vector<char> data;
    while (p + 12 <= b.size() && !end) {
        const std::uint32_t length = image_be32(b, p);
        // stb_image grows its buffer to a chunk's declared length before it finds the file too
        // short (2 GiB for a 1 KB file the fuzzer found), so a truncated chunk is refused here.
        if (length > b.size() - p - 12)
            throw format_error(path + ": cannot decode image (truncated PNG: chunk '" +
                               std::string(reinterpret_cast<const char*>(b.data() + p + 4), 4) + "' at byte " +
                               std::to_string(p) + " declares " + std::to_string(length) + " bytes, the file holds " +
                               std::to_string(b.size() - p - 12) + " more)");
        const unsigned char* type = b.data() + p + 4;
        const unsigned char* d = b.data() + p + 8;
        if (std::memcmp(type, "IHDR", 4) == 0 && length >= 13 && !header) {
            depth = d[8];
            colour = d[9];
            interlace = d[12];
            header = true;
        } else if (std::memcmp(type, "CgBI", 4) == 0) {
            apple = true;  // Apple's PNGs: a raw deflate stream, no zlib header
        } else if (std::memcmp(type, "IDAT", 4) == 0) {
            data.insert(data.end(), d, d + length);
        } else if (std::memcmp(type, "IEND", 4) == 0) {
            end = true;
        }
        p += 12 + std::size_t(length);
    }
    // stb_image reads chunks until IEND, and reads bytes past the end as zeros: 8 to 11 bytes
    // left after the last whole chunk still give it a length and a type (the fuzzer found
    // "IDAT" declaring 2 GiB there), so a PNG must end with an IEND chunk that the file holds.
    if (!end)
        throw format_error(path + ": cannot decode image (truncated PNG: " +
                           (p < b.size() ? "the last " + std::to_string(b.size() - p) +
                                               " bytes are not a whole chunk"
                                         : std::string("no IEND chunk")) +
                           ", at byte " + std::to_string(p) + ")");
    if (!header || data.empty() || data.size() > std::size_t(INT32_MAX)) return;  // stb refuses these
    const unsigned channels = colour == 0 || colour == 3 ? 1 : colour == 4 ? 2 : colour == 2 ? 3 : 4;
    const double row = std::ceil(double(width) * channels * std::min(depth, 16u) / 8) + 1;  // + the filter byte
    // Adam7 interlacing stores 7 reduced images, each row with its own filter byte and padding.
    const double limit = double(height) * row + (interlace ? 16 * (double(height) + 8) : 0);
    if (limit > double(INT32_MAX - 1)) return;  // cannot happen for a size the model accepts
    const int bound = static_cast<int>(limit);
    std::vector<char> out(std::size_t(bound) + 1);
    const int n = apple ? stbi_zlib_decode_noheader_buffer(out.data(), bound + 1, data.data(), int(data.size()))
                        : stbi_zlib_decode_buffer(out.data(), bound + 1, data.data(), int(data.size()));
    if (n < 0 || n > bound)
        throw format_error(path + ": cannot decode image (its compressed data is corrupt or inflates to more than the " +
                           std::to_string(bound) + " bytes a PNG of its size holds)");
}

/// A BMP must hold the pixel rows its header declares (stb_image reads missing ones as zeros);
/// checked for the uncompressed layouts (RLE is refused by stb).
inline void check_bmp_size(const std::vector<unsigned char>& b, const std::string& path) {
    if (b.size() < 34 || image_le32(b, 14) < 40) return;  // older headers: stb checks them
    const double offset = image_le32(b, 10);
    const double width = std::abs(double(std::int32_t(image_le32(b, 18))));
    const double height = std::abs(double(std::int32_t(image_le32(b, 22))));
    const unsigned bpp = unsigned(b[28]) | unsigned(b[29]) << 8;
    const std::uint32_t compression = image_le32(b, 30);
    if (compression != 0 && compression != 3) return;
    const double row = std::floor((double(bpp) * width + 31) / 32) * 4;
    const double needed = offset + row * height;
    if (double(b.size()) < needed)
        throw format_error(path + ": truncated BMP: its header declares " + std::to_string(static_cast<long long>(needed)) +
                           " bytes of pixel data and header, the file has " + std::to_string(b.size()));
}

}  // namespace detail

/// Loads one image as a 1-image NHWC tensor of raw pixel values 0..255. Greyscale and RGB are
/// converted to expected.channels; any other size than expected's height x width is refused.
inline Tensor load_image(const std::string& path, const ImageShape& expected) {
    detail::require_regular_input(path, "an image");
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
    if (bmp) h = h < 0 && h != INT32_MIN ? -h : h;  // a top-down BMP declares a negative height
    if (h <= 0 || w <= 0 || std::size_t(h) != expected.height || std::size_t(w) != expected.width)
        throw shape_error(path + ": image is " + std::to_string(h) + "x" + std::to_string(w) + " (height x width), the model expects " +
                          std::to_string(expected.height) + "x" + std::to_string(expected.width));
    if (png) detail::check_png_inflated_size(bytes, path, std::size_t(w), std::size_t(h));
    if (bmp) detail::check_bmp_size(bytes, path);
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
