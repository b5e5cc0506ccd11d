#pragma once
// A convolution layer's kernel kept packed between calls. Packing on every call costs little
// arithmetic but, at small batches, rewrites the packed weights on one core just before the
// other core reads them: keeping them packed made a batch-1 DeepID forward 15-25 % faster
// (benchmarks/README.md). The cache holds a copy of the kernel and bias it packed and compares it
// with the current ones on every call (bit for bit), so a weight changed by any means (training,
// pruning masks, a user writing through kernel()) is repacked before it is used: no invalidation
// protocol to forget. Thread-safe: concurrent calls get the same immutable packed snapshot.

#include <prunedef/kernels/conv2d.hpp>

#include <Eigen/Core>

#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

namespace prunedef {
namespace detail {

class PackedKernelCache {
public:
    PackedKernelCache() = default;
    // A copy starts empty (and packs on its first call): mutexes do not copy.
    PackedKernelCache(const PackedKernelCache&) {}
    PackedKernelCache& operator=(const PackedKernelCache&) { return *this; }

    /// The packed form of (kernel, bias) for geometry g and output rows of out_w pixels.
    std::shared_ptr<const PackedKernel> get(const ConvGeometry& g, const float* kernel, const float* bias,
                                            std::size_t out_w) const {
        const std::size_t kernel_size = g.patch_size() * g.out_channels, bias_size = g.out_channels;
        std::lock_guard<std::mutex> lock(mutex_);
        const bool same = packed_ && out_w_ == out_w && geometry_.kernel_h == g.kernel_h &&
                          geometry_.kernel_w == g.kernel_w && geometry_.in_channels == g.in_channels &&
                          geometry_.out_channels == g.out_channels &&
                          std::memcmp(kernel_.data(), kernel, kernel_size * sizeof(float)) == 0 &&
                          std::memcmp(bias_.data(), bias, bias_size * sizeof(float)) == 0;
        if (same) return packed_;
        auto packed = std::make_shared<PackedKernel>();
        pack_kernel(g, kernel, bias, out_w, *packed);
        kernel_.assign(kernel, kernel + kernel_size);
        bias_.assign(bias, bias + bias_size);
        geometry_ = g;
        out_w_ = out_w;
        packed_ = std::move(packed);
        return packed_;
    }

private:
    mutable std::mutex mutex_;
    mutable std::vector<float, Eigen::aligned_allocator<float>> kernel_, bias_;  // what packed_ was made from
    mutable ConvGeometry geometry_{0, 0, 0, 0};
    mutable std::size_t out_w_ = 0;
    mutable std::shared_ptr<const PackedKernel> packed_;
};

}  // namespace detail
}  // namespace prunedef
