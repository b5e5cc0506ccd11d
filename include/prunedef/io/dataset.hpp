#pragma once
// Data sets in the CSAW-HackML challenge layout: dataset "data" (N, C, H, W) of any integer or
// float type, contiguous or chunked/compressed, and dataset "label" (N,) or (N, 1) of any numeric type.
// Images are read in batches (hyperslabs) and converted to NHWC float32, so a large file is
// never held in memory; labels (small) are read and validated once at open. DatasetReader is a
// batch source (data/batch_source.hpp).

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/data/batch_source.hpp>
#include <prunedef/io/hdf5.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace prunedef {

class DatasetReader {
public:
    /// Largest accepted image (elements) and data set (elements): refuse absurd declared sizes
    /// before allocating anything.
    static constexpr std::size_t max_image_elements = std::size_t(1) << 26;
    static constexpr std::size_t max_images = std::size_t(1) << 31;
    /// Largest label dataset read at open (entries; read whole, 8 bytes each while converted).
    static constexpr std::size_t max_labels = std::size_t(1) << 26;

    explicit DatasetReader(const std::string& path, const std::string& label_name = "label")
        : file_(detail::open_h5_file(path)), data_(detail::open_h5_dataset(file_, "data")) {
        const H5T_class_t cls = detail::h5_dataset_class(data_);
        if (cls != H5T_INTEGER && cls != H5T_FLOAT)
            throw format_error(data_.where() + ": expected integer or float pixels, found " +
                               detail::h5_class_name(cls));
        const auto dims = detail::h5_dataset_dims(data_);
        if (dims.size() != 4)
            throw shape_error(data_.where() + ": expected rank 4 (N, C, H, W), found shape " + detail::dims_str(dims));
        for (auto d : dims)
            if (d == 0) throw shape_error(data_.where() + ": shape " + detail::dims_str(dims) + " has a zero dimension");
        if (dims[1] > 4096 || dims[2] > 65536 || dims[3] > 65536 || dims[1] * dims[2] * dims[3] > max_image_elements ||
            dims[0] > max_images)
            throw shape_error(data_.where() + ": declared shape " + detail::dims_str(dims) + " is too large");
        detail::h5_check_dataset_storage(data_, dims, SIZE_MAX);
        count_ = dims[0];
        shape_ = {dims[2], dims[3], dims[1]};

        detail::H5Object labels = detail::open_h5_dataset(file_, label_name);
        const auto ldims = detail::h5_dataset_dims(labels);
        const bool column = ldims.size() == 2 && ldims[1] == 1;  // (N, 1), as many real files store it
        if ((ldims.size() != 1 && !column) || ldims[0] != count_)
            throw shape_error(labels.where() + ": expected shape (" + std::to_string(count_) + ",) or (" +
                              std::to_string(count_) + ", 1) to match " +
                              data_.path + ", found " + detail::dims_str(ldims));
        // Labels are read whole: refuse a declared count that is absurd or not stored in the file.
        detail::h5_check_dataset_storage(labels, ldims, max_labels);
        std::vector<double> raw;
        detail::h5_read_numeric(labels, raw);
        labels_.resize(raw.size());
        for (std::size_t i = 0; i < raw.size(); ++i) {
            const double v = raw[i];
            if (!std::isfinite(v) || v != std::floor(v))
                throw format_error(labels.where() + ": label " + std::to_string(i) + " is " + std::to_string(v) +
                                   ", expected a non-negative integer");
            if (v < 0)
                throw format_error(labels.where() + ": label " + std::to_string(i) + " is " + std::to_string(v) +
                                   ", expected a non-negative integer");
            if (v > 1e9)
                throw format_error(labels.where() + ": label " + std::to_string(i) + " is " + std::to_string(v) +
                                   ", too large for a class index");
            labels_[i] = static_cast<int>(v);
        }
        label_path_ = labels.path;
    }

    const std::string& file() const { return file_.file; }
    std::size_t size() const { return count_; }
    /// Shape of one image, H x W x C.
    const ImageShape& image_shape() const { return shape_; }
    const std::vector<int>& labels() const { return labels_; }

    /// Throws format_error unless every label is below classes.
    void check_labels(std::size_t classes) const {
        if (classes == 0) throw argument_error(file_.file + ": check_labels: a model has at least one class");
        detail::check_labels_below(labels_, classes, file_.file + ": " + label_path_);
    }

    /// Throws shape_error unless the images have the shape a model expects.
    void check_image_shape(const ImageShape& expected) const {
        detail::check_images_fit(shape_, expected, data_.where());
    }

    /// Reads images [start, start + count) as raw values into an NHWC tensor.
    void read(std::size_t start, std::size_t count, Tensor& images) const {
        detail::check_range(start, count, count_, file_.file);
        if (count == 0) {
            images.resize(0, shape_);
            return;
        }
        detail::h5_read_numeric(data_, buffer_, start, count);
        images.resize(count, shape_);
        const std::size_t H = shape_.height, W = shape_.width, C = shape_.channels, plane = H * W;
        for (std::size_t n = 0; n < count; ++n) {
            const float* src = buffer_.data() + n * C * plane;
            float* dst = images.image(n);
            for (std::size_t c = 0; c < C; ++c)
                for (std::size_t p = 0; p < plane; ++p) {
                    const float v = src[c * plane + p];
                    if (!std::isfinite(v))
                        throw format_error(data_.where() + ": image " + std::to_string(start + n) +
                                           " has a non-finite pixel (" + std::to_string(v) + ")");
                    dst[p * C + c] = v;
                }
        }
    }

private:
    detail::H5Object file_;
    detail::H5Object data_;
    std::size_t count_ = 0;
    ImageShape shape_{};
    std::vector<int> labels_;
    std::string label_path_;
    mutable std::vector<float> buffer_;
};

}  // namespace prunedef
