#pragma once
// ArrayBatchSource: a batch source over images and labels held in memory (NHWC float images,
// e.g. arrays handed over from Python). Validated once at construction.

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/data/batch_source.hpp>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace prunedef {

class ArrayBatchSource {
public:
    /// images: N images; labels: N non-negative class indices; name: used in error messages.
    ArrayBatchSource(Tensor images, std::vector<int> labels, std::string name = "in-memory images")
        : images_(std::move(images)), labels_(std::move(labels)), name_(std::move(name)) {
        if (labels_.size() != images_.batch())
            throw shape_error(name_ + ": " + std::to_string(images_.batch()) + " images but " +
                              std::to_string(labels_.size()) + " labels");
        for (std::size_t i = 0; i < labels_.size(); ++i)
            if (labels_[i] < 0)
                throw format_error(name_ + ": label " + std::to_string(i) + " is " + std::to_string(labels_[i]) +
                                   ", expected a non-negative integer");
    }

    const std::string& name() const { return name_; }
    std::size_t size() const { return labels_.size(); }
    const ImageShape& image_shape() const { return images_.shape(); }
    const std::vector<int>& labels() const { return labels_; }
    const Tensor& images() const { return images_; }

    void read(std::size_t start, std::size_t count, Tensor& images) const {
        detail::check_range(start, count, size(), name_);
        images.resize(count, images_.shape());
        if (count) std::memcpy(images.data(), images_.image(start), count * images_.image_size() * sizeof(float));
    }
    void check_image_shape(const ImageShape& expected) const {
        detail::check_images_fit(images_.shape(), expected, name_);
    }
    void check_labels(std::size_t classes) const {
        if (classes == 0) throw argument_error(name_ + ": check_labels: a model has at least one class");
        detail::check_labels_below(labels_, classes, name_);
    }

private:
    Tensor images_;
    std::vector<int> labels_;
    std::string name_;
};

}  // namespace prunedef
