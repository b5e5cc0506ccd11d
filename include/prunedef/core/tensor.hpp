#pragma once
// Tensor: a batch of images in NHWC order, float32, contiguous and 64-byte aligned.

#include <prunedef/core/error.hpp>
#include <prunedef/core/shape.hpp>

#include <Eigen/Core>

#include <cstddef>
#include <vector>

namespace prunedef {

class Tensor {
public:
    using Storage = std::vector<float, Eigen::aligned_allocator<float>>;

    Tensor() = default;
    Tensor(std::size_t batch, ImageShape shape) { resize(batch, shape); }

    /// Changes the shape; keeps the allocation when it is large enough. Contents are unspecified.
    void resize(std::size_t batch, ImageShape shape) {
        batch_ = batch;
        shape_ = shape;
        data_.resize(batch * shape.size());
    }
    /// Reinterprets the same data with another per-image shape of the same size (Flatten).
    void reshape(ImageShape shape) {
        if (shape.size() != shape_.size())
            throw shape_error("Tensor::reshape: cannot view " + shape_.str() + " as " + shape.str());
        shape_ = shape;
    }

    std::size_t batch() const { return batch_; }
    const ImageShape& shape() const { return shape_; }
    std::size_t height() const { return shape_.height; }
    std::size_t width() const { return shape_.width; }
    std::size_t channels() const { return shape_.channels; }
    std::size_t image_size() const { return shape_.size(); }
    std::size_t size() const { return data_.size(); }
    /// Floats allocated (at least size(); resize never shrinks it).
    std::size_t capacity() const { return data_.capacity(); }

    float* data() { return data_.data(); }
    const float* data() const { return data_.data(); }
    float* image(std::size_t n) { return data_.data() + n * shape_.size(); }
    const float* image(std::size_t n) const { return data_.data() + n * shape_.size(); }

    float& at(std::size_t n, std::size_t h, std::size_t w, std::size_t c) {
        return data_[((n * shape_.height + h) * shape_.width + w) * shape_.channels + c];
    }
    float at(std::size_t n, std::size_t h, std::size_t w, std::size_t c) const {
        return data_[((n * shape_.height + h) * shape_.width + w) * shape_.channels + c];
    }

    /// The batch as a row-major (batch x H*W*C) matrix: one image per row.
    Eigen::Map<Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> matrix() {
        return {data_.data(), static_cast<Eigen::Index>(batch_), static_cast<Eigen::Index>(shape_.size())};
    }
    Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> matrix() const {
        return {data_.data(), static_cast<Eigen::Index>(batch_), static_cast<Eigen::Index>(shape_.size())};
    }

private:
    std::size_t batch_ = 0;
    ImageShape shape_{};
    Storage data_;
};

}  // namespace prunedef
