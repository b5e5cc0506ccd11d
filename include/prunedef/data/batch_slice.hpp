#pragma once
// BatchSlice: images [first, first + count) of another batch source, itself a batch source (e.g.
// the share of one MPI rank). Holds a reference to the source, which must outlive it, and a copy
// of the slice's labels.

#include <prunedef/core/error.hpp>
#include <prunedef/core/tensor.hpp>
#include <prunedef/data/batch_source.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace prunedef {

template <class Source>
class BatchSlice {
public:
    BatchSlice(const Source& source, std::size_t first, std::size_t count)
        : source_(&source), first_(first), count_(count) {
        detail::check_range(first, count, source.size(), "BatchSlice");
        const auto& all = source.labels();
        labels_.assign(all.begin() + static_cast<std::ptrdiff_t>(first),
                       all.begin() + static_cast<std::ptrdiff_t>(first + count));
    }

    const Source& source() const { return *source_; }
    std::size_t first() const { return first_; }
    std::size_t size() const { return count_; }
    const ImageShape& image_shape() const { return source_->image_shape(); }
    const std::vector<int>& labels() const { return labels_; }

    void read(std::size_t start, std::size_t count, Tensor& images) const {
        detail::check_range(start, count, count_, "BatchSlice");
        source_->read(first_ + start, count, images);
    }
    void check_image_shape(const ImageShape& expected) const { source_->check_image_shape(expected); }
    void check_labels(std::size_t classes) const {
        if (classes == 0) throw argument_error("BatchSlice: check_labels: a model has at least one class");
        detail::check_labels_below(labels_, classes,
                                   "slice [" + std::to_string(first_) + ", " + std::to_string(first_ + count_) + ")");
    }

private:
    const Source* source_;
    std::size_t first_, count_;
    std::vector<int> labels_;
};

/// The part of a source that worker `rank` of `ranks` reads: contiguous, in rank order. The
/// slices start at multiples of `granule` images (whole granules are dealt out, the counts differ
/// by at most one granule; the last slice ends with the source); granule 1: sizes differ by at
/// most one image.
template <class Source>
BatchSlice<Source> rank_slice(const Source& source, std::size_t rank, std::size_t ranks, std::size_t granule = 1) {
    if (ranks == 0 || rank >= ranks)
        throw argument_error("rank_slice: rank " + std::to_string(rank) + " of " + std::to_string(ranks));
    if (granule == 0) throw argument_error("rank_slice: a granule of 0 images");
    const std::size_t n = source.size(), units = n / granule + (n % granule != 0 ? 1 : 0);
    const std::size_t base = units / ranks, extra = units % ranks;
    const std::size_t first = std::min(n, (rank * base + std::min(rank, extra)) * granule);
    const std::size_t last = std::min(n, ((rank + 1) * base + std::min(rank + 1, extra)) * granule);
    return BatchSlice<Source>(source, first, last - first);
}

}  // namespace prunedef
