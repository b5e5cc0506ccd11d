#pragma once
// BatchSourceRef: a non-owning, type-erased reference to any batch source (batch_source.hpp),
// itself a batch source; BatchSourcePtr: the same, nullable, for optional data sets (RepairData).
// One indirect call per batch, so the cost is nothing next to reading or predicting a batch.

#include <prunedef/core/tensor.hpp>
#include <prunedef/data/batch_source.hpp>

#include <cstddef>
#include <optional>
#include <type_traits>
#include <vector>

namespace prunedef {

class BatchSourceRef {
public:
    template <class Source, class = std::enable_if_t<!std::is_same_v<std::decay_t<Source>, BatchSourceRef>>>
    BatchSourceRef(const Source& source) : source_(&source), ops_(&ops_for<Source>) {}  // NOLINT: implicit on purpose
    /// A temporary would be gone before the reference is used.
    template <class Source, class = std::enable_if_t<!std::is_same_v<std::decay_t<Source>, BatchSourceRef>>>
    BatchSourceRef(const Source&& source) = delete;

    std::size_t size() const { return ops_->size(source_); }
    const ImageShape& image_shape() const { return ops_->image_shape(source_); }
    const std::vector<int>& labels() const { return ops_->labels(source_); }
    void read(std::size_t start, std::size_t count, Tensor& images) const { ops_->read(source_, start, count, images); }
    void check_image_shape(const ImageShape& expected) const { ops_->check_image_shape(source_, expected); }
    void check_labels(std::size_t classes) const { ops_->check_labels(source_, classes); }

private:
    struct Ops {
        std::size_t (*size)(const void*);
        const ImageShape& (*image_shape)(const void*);
        const std::vector<int>& (*labels)(const void*);
        void (*read)(const void*, std::size_t, std::size_t, Tensor&);
        void (*check_image_shape)(const void*, const ImageShape&);
        void (*check_labels)(const void*, std::size_t);
    };
    template <class S>
    static const S& as(const void* p) {
        return *static_cast<const S*>(p);
    }
    template <class S>
    static constexpr Ops ops_for{
        [](const void* p) -> std::size_t { return as<S>(p).size(); },
        [](const void* p) -> const ImageShape& { return as<S>(p).image_shape(); },
        [](const void* p) -> const std::vector<int>& { return as<S>(p).labels(); },
        [](const void* p, std::size_t start, std::size_t count, Tensor& images) { as<S>(p).read(start, count, images); },
        [](const void* p, const ImageShape& expected) { as<S>(p).check_image_shape(expected); },
        [](const void* p, std::size_t classes) { as<S>(p).check_labels(classes); },
    };

    const void* source_;
    const Ops* ops_;
};

/// A nullable BatchSourceRef, written like a pointer: BatchSourcePtr p = &reader; if (p) p->size().
class BatchSourcePtr {
public:
    BatchSourcePtr() = default;
    BatchSourcePtr(std::nullptr_t) {}  // NOLINT: implicit on purpose
    template <class Source>
    BatchSourcePtr(const Source* source) {  // NOLINT: implicit on purpose
        if (source) ref_.emplace(*source);
    }

    explicit operator bool() const { return ref_.has_value(); }
    const BatchSourceRef& operator*() const { return *ref_; }
    const BatchSourceRef* operator->() const { return &*ref_; }

private:
    std::optional<BatchSourceRef> ref_;
};

}  // namespace prunedef
