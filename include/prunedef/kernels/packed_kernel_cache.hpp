#pragma once
// A layer's weights kept in the form its kernel reads (Conv2D: the kernel packed in SIMD rows;
// Dense: the last columns zero-padded to a packet), made when the weights change rather than
// on every call. Packing on every call costs little arithmetic but, at small batches, rewrites
// the packed weights on one core just before the other core reads them: keeping them packed made
// a batch-1 DeepID forward 15-25 % faster (benchmarks/README.md).
//
// The cache is tied to the layer's weight generation (layers/layer_base.hpp): set_weights() and
// weights_changed() repack at once (repack()); a mutable kernel()/bias() access only counts a
// generation, and the next const call finds get() out of date and repacks once. That lazy repack
// is safe with concurrent const callers: the fast path is one atomic load; a stale cache is
// repacked under a mutex, and since the generation only moves in non-const calls (never
// concurrent with const ones), no caller can be reading the packed data while it is rewritten.
// What the generation cannot see is a write through a pointer kept from an earlier access made
// after the last repack: that writer calls weights_changed() (the optimizers do); matches()
// checks it (every forward pass in builds without NDEBUG, and tests).

#include <atomic>
#include <cstdint>
#include <mutex>
#include <utility>

namespace prunedef {
namespace detail {

template <class Packed>
class PackedCache {
public:
    PackedCache() = default;
    PackedCache(const PackedCache& other) { copy_from(other); }
    PackedCache& operator=(const PackedCache& other) {
        if (this != &other) copy_from(other);
        return *this;
    }

    /// Packs now for generation `generation` (a non-const point: no concurrent callers).
    template <class PackFn>
    void repack(std::uint64_t generation, PackFn&& pack) {
        pack(packed_);
        generation_.store(generation, std::memory_order_release);
    }

    /// The packed weights of generation `generation`, packed first if the cache is older.
    template <class PackFn>
    const Packed& get(std::uint64_t generation, PackFn&& pack) const {
        if (generation_.load(std::memory_order_acquire) != generation) {
            std::lock_guard<std::mutex> lock(mutex_);
            if (generation_.load(std::memory_order_relaxed) != generation) {
                pack(packed_);
                generation_.store(generation, std::memory_order_release);
            }
        }
        return packed_;
    }

    /// Whether the cache was made for `generation` (it may still be stale if weights were written
    /// through a kept pointer without weights_changed(); the layers' packed_weights_current()
    /// compares the values).
    bool is_generation(std::uint64_t generation) const {
        return generation_.load(std::memory_order_acquire) == generation;
    }
    /// The packed weights as they are, whatever their generation (for comparisons).
    const Packed& peek() const { return packed_; }

private:
    static constexpr std::uint64_t never = ~std::uint64_t(0);

    void copy_from(const PackedCache& other) {
        std::lock_guard<std::mutex> lock(other.mutex_);
        packed_ = other.packed_;
        generation_.store(other.generation_.load(std::memory_order_acquire), std::memory_order_release);
    }

    mutable std::mutex mutex_;  // taken only to repack a stale cache in a const call
    mutable std::atomic<std::uint64_t> generation_{never};
    mutable Packed packed_;
};

}  // namespace detail
}  // namespace prunedef
