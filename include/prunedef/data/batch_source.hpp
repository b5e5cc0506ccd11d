#pragma once
// Batch sources: where the defense, the trainer and the models read labelled images from.
//
// A batch source is any type S with these const members (no base class; every consumer is a
// template over S, or takes the type-erased BatchSourceRef of batch_source_ref.hpp):
//
//   std::size_t size() const;                        // number of images
//   const ImageShape& image_shape() const;           // one image, H x W x C
//   const std::vector<int>& labels() const;          // all labels (small: held in memory)
//   void read(std::size_t start, std::size_t count, Tensor& images) const;
//                                                    // images [start, start + count), NHWC
//   void check_image_shape(const ImageShape& expected) const;  // throws shape_error
//   void check_labels(std::size_t classes) const;    // throws format_error
//
// Models: DatasetReader (io/dataset.hpp, an HDF5 file), ArrayBatchSource (images in memory, e.g.
// handed over from Python), BatchSlice (a contiguous range of another source, e.g. one MPI
// rank's share) and BatchSourceRef.

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

namespace prunedef {

/// Calls f(images, labels, first_index) for consecutive batches of a batch source.
template <class Source, class F>
void for_each_batch(const Source& data, std::size_t batch_size, F&& f) {
    if (batch_size == 0) throw argument_error("for_each_batch: batch size must be positive");
    Tensor images;
    for (std::size_t start = 0; start < data.size(); start += batch_size) {
        const std::size_t count = std::min(batch_size, data.size() - start);
        data.read(start, count, images);
        const int* labels = data.labels().data() + start;
        f(static_cast<const Tensor&>(images), labels, start);
    }
}

namespace detail {

/// The checks every batch source makes, with the messages naming `where` (a file and path, or
/// the name of an in-memory source).
inline void check_labels_below(const std::vector<int>& labels, std::size_t classes, const std::string& where) {
    for (std::size_t i = 0; i < labels.size(); ++i)
        if (labels[i] < 0 || static_cast<std::size_t>(labels[i]) >= classes)
            throw format_error(where + ": label " + std::to_string(i) + " is " + std::to_string(labels[i]) +
                               ", expected a class in [0, " + std::to_string(classes - 1) + "]");
}

inline void check_images_fit(const ImageShape& shape, const ImageShape& expected, const std::string& where) {
    if (shape.channels != expected.channels)
        throw shape_error(where + ": images have " + std::to_string(shape.channels) +
                          " channel(s), the model expects " + std::to_string(expected.channels));
    if (shape != expected)
        throw shape_error(where + ": images are " + std::to_string(shape.height) + "x" + std::to_string(shape.width) +
                          ", the model expects " + std::to_string(expected.height) + "x" +
                          std::to_string(expected.width));
}

/// Throws argument_error unless [start, start + count) lies within size images.
inline void check_range(std::size_t start, std::size_t count, std::size_t size, const std::string& where) {
    if (start > size || count > size - start)
        throw argument_error(where + ": rows " + std::to_string(start) + ".." + std::to_string(start + count) +
                             " out of range (" + std::to_string(size) + " images)");
}

}  // namespace detail
}  // namespace prunedef
