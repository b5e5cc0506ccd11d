#pragma once
// Shapes of single images (H x W x C) and helpers to print them in error messages.

#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

namespace prunedef {

/// The shape of one image or feature map in NHWC order, without the batch dimension.
struct ImageShape {
    std::size_t height = 0;
    std::size_t width = 0;
    std::size_t channels = 0;

    std::size_t size() const { return height * width * channels; }
    friend bool operator==(const ImageShape& a, const ImageShape& b) {
        return a.height == b.height && a.width == b.width && a.channels == b.channels;
    }
    friend bool operator!=(const ImageShape& a, const ImageShape& b) { return !(a == b); }
    std::string str() const {
        return std::to_string(height) + "x" + std::to_string(width) + "x" + std::to_string(channels);
    }
};

namespace detail {

/// "(4, 4, 3, 20)": the way HDF5 tools and numpy print dimensions.
template <class Dims>
std::string dims_str(const Dims& dims) {
    std::ostringstream out;
    out << "(";
    bool first = true;
    for (auto d : dims) {
        if (!first) out << ", ";
        out << d;
        first = false;
    }
    if (dims.size() == 1) out << ",";
    out << ")";
    return out.str();
}

}  // namespace detail
}  // namespace prunedef
