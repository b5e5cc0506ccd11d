#pragma once
// IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed, as Debian's
// dataset-fashion-mnist package ships them (/usr/share/datasets/fashion-mnist/*.gz).

#include <prunedef/core/error.hpp>
#include <prunedef/io/input_file.hpp>
#include <prunedef/core/tensor.hpp>

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace prunedef {
namespace detail {

/// Reads a whole (possibly gzipped) file, refusing more than max_bytes after decompression.
inline std::vector<unsigned char> read_gz_file(const std::string& path, std::size_t max_bytes) {
    require_regular_input(path, "an IDX file");
    std::unique_ptr<std::remove_pointer_t<gzFile>, int (*)(gzFile)> f(gzopen(path.c_str(), "rb"), gzclose);
    if (!f) throw io_error(path + ": cannot open");
    std::vector<unsigned char> out;
    unsigned char buffer[1 << 16];
    for (;;) {
        const int n = gzread(f.get(), buffer, sizeof buffer);
        if (n < 0) throw io_error(path + ": read failed (corrupt or truncated gzip data)");
        if (n == 0) break;
        if (out.size() + std::size_t(n) > max_bytes) throw format_error(path + ": larger than " + std::to_string(max_bytes) + " bytes");
        out.insert(out.end(), buffer, buffer + n);
    }
    return out;
}

inline std::uint32_t big_endian_u32(const unsigned char* p) {
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | std::uint32_t(p[3]);
}

/// Parses an IDX header of unsigned bytes: magic 0x000008NN, NN dimensions.
inline std::vector<std::size_t> idx_dims(const std::vector<unsigned char>& bytes, const std::string& path) {
    if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08)
        throw format_error(path + ": not an IDX file of unsigned bytes");
    const std::size_t rank = bytes[3];
    if (rank == 0 || bytes.size() < 4 + 4 * rank) throw format_error(path + ": truncated IDX header");
    std::vector<std::size_t> dims(rank);
    std::size_t total = 1;
    for (std::size_t i = 0; i < rank; ++i) {
        dims[i] = big_endian_u32(bytes.data() + 4 + 4 * i);
        total *= dims[i];
    }
    if (bytes.size() != 4 + 4 * rank + total)
        throw format_error(path + ": IDX header declares " + std::to_string(total) + " values, file holds " +
                           std::to_string(bytes.size() - 4 - 4 * rank));
    return dims;
}

}  // namespace detail

/// Reads an IDX image file (N, H, W) as an NHWC tensor with one channel, raw values 0..255.
inline Tensor read_idx_images(const std::string& path) {
    const auto bytes = detail::read_gz_file(path, std::size_t(1) << 31);
    const auto dims = detail::idx_dims(bytes, path);
    if (dims.size() != 3) throw format_error(path + ": expected IDX images of rank 3 (N, H, W)");
    Tensor t(dims[0], {dims[1], dims[2], 1});
    const unsigned char* p = bytes.data() + 4 + 4 * dims.size();
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = float(p[i]);
    return t;
}

/// Reads an IDX label file (N).
inline std::vector<int> read_idx_labels(const std::string& path) {
    const auto bytes = detail::read_gz_file(path, std::size_t(1) << 28);
    const auto dims = detail::idx_dims(bytes, path);
    if (dims.size() != 1) throw format_error(path + ": expected IDX labels of rank 1");
    const unsigned char* p = bytes.data() + 8;
    return std::vector<int>(p, p + dims[0]);
}

}  // namespace prunedef
