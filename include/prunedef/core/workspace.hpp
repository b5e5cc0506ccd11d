#pragma once
// Scratch memory made explicit: the intermediate tensors of a forward pass and the kernels'
// per-thread buffers live in a Workspace that the caller (or the object, see WorkspacePool) owns,
// never in hidden thread_local state. A workspace grows to the largest sizes it has seen and then
// keeps its memory, so a forward pass allocates nothing once it has run at its batch size.
//
// Thread-safety contract:
//   - a Workspace serves one call at a time (one thread; the kernels' pool threads inside that
//     call get their own slots through PerThreadScratch);
//   - objects that offer inference without a workspace argument (Network, GoodNet's kept-channel
//     head) borrow one from their WorkspacePool for the duration of the call, so their const
//     methods may be called from several threads at once; each concurrent caller gets its own
//     workspace (the pool holds as many as there have been concurrent callers);
//   - anything non-const (set_weights, a mutable kernel(), training) must not run while another
//     thread uses the object, as for any C++ object.

#include <prunedef/core/parallel.hpp>
#include <prunedef/core/tensor.hpp>

#include <Eigen/Core>

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

namespace prunedef {
namespace detail {

/// Float storage aligned for the widest SIMD packets (Tensor uses the same allocator).
using AlignedFloats = std::vector<float, Eigen::aligned_allocator<float>>;

class ScratchFrame;

}  // namespace detail

/// Reusable scratch memory for forward passes: a stack of tensors and float buffers handed out to
/// nested calls through detail::ScratchFrame, so that the same call path gets the same buffers on
/// every call. Copying a workspace gives an empty one (scratch is never shared).
class Workspace {
public:
    Workspace() = default;
    Workspace(const Workspace&) {}
    Workspace& operator=(const Workspace&) { return *this; }
    Workspace(Workspace&&) = default;
    Workspace& operator=(Workspace&&) = default;

    /// Bytes of scratch memory held (capacity, not just what the last call used).
    std::size_t bytes() const {
        std::size_t b = 0;
        for (const Tensor& t : tensors_) b += t.capacity() * sizeof(float);
        for (const auto& f : floats_) b += f.capacity() * sizeof(float);
        return b;
    }
    /// Frees all memory; only between calls.
    void clear() {
        tensors_.clear();
        floats_.clear();
        tensors_used_ = floats_used_ = 0;
    }

private:
    friend class detail::ScratchFrame;
    std::deque<Tensor> tensors_;  // deque: references stay valid when it grows
    std::deque<detail::AlignedFloats> floats_;
    std::size_t tensors_used_ = 0, floats_used_ = 0;
};

namespace detail {

/// The scratch a function takes from a workspace, given back when the frame ends. A function
/// opens one frame and takes what it needs; the functions it calls open their own frames above it.
class ScratchFrame {
public:
    explicit ScratchFrame(Workspace& ws) : ws_(ws), tensors_(ws.tensors_used_), floats_(ws.floats_used_) {}
    ~ScratchFrame() {
        ws_.tensors_used_ = tensors_;
        ws_.floats_used_ = floats_;
    }
    ScratchFrame(const ScratchFrame&) = delete;
    ScratchFrame& operator=(const ScratchFrame&) = delete;

    Tensor& tensor() {
        if (ws_.tensors_used_ == ws_.tensors_.size()) ws_.tensors_.emplace_back();
        return ws_.tensors_[ws_.tensors_used_++];
    }
    AlignedFloats& floats() {
        if (ws_.floats_used_ == ws_.floats_.size()) ws_.floats_.emplace_back();
        return ws_.floats_[ws_.floats_used_++];
    }
    Workspace& workspace() { return ws_; }

private:
    Workspace& ws_;
    std::size_t tensors_, floats_;
};

/// Per-thread slots of `size` floats each in one buffer, for a kernel whose parallel_for body
/// needs a private buffer: one slot per thread of the parallel loop (thread_count()), or a single
/// slot when the kernel is called inside a parallel loop (parallel_for then runs its tasks on the
/// calling thread). Slots are whole cache lines apart.
class PerThreadScratch {
public:
    PerThreadScratch(AlignedFloats& storage, std::size_t size) {
        nested_ = in_parallel();
        const std::size_t slots = nested_ ? 1 : static_cast<std::size_t>(thread_count());
        stride_ = (size + 15) / 16 * 16;
        if (storage.size() < slots * stride_) storage.resize(slots * stride_);
        base_ = storage.data();
    }
    /// The calling thread's slot (inside the kernel's parallel_for body).
    float* mine() const {
        if (!nested_) return base_ + static_cast<std::size_t>(thread_index()) * stride_;
        return base_;
    }

private:
    float* base_ = nullptr;
    std::size_t stride_ = 0;
    bool nested_ = false;
};

/// Workspaces lent to concurrent callers of an object's const methods: acquire() takes a free
/// one (or makes one) and the lease gives it back. Copies of the owning object start with an
/// empty pool.
class WorkspacePool {
public:
    WorkspacePool() = default;
    WorkspacePool(const WorkspacePool&) {}
    WorkspacePool& operator=(const WorkspacePool&) { return *this; }

    class Lease {
    public:
        Lease(const WorkspacePool& pool, std::unique_ptr<Workspace> ws) : pool_(&pool), ws_(std::move(ws)) {}
        Lease(Lease&&) = default;
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        Lease& operator=(Lease&&) = delete;
        ~Lease() {
            if (ws_) pool_->give_back(std::move(ws_));
        }
        Workspace& operator*() const { return *ws_; }

    private:
        const WorkspacePool* pool_;
        std::unique_ptr<Workspace> ws_;
    };

    Lease acquire() const {
        std::lock_guard<std::mutex> lock(mutex_);
        if (free_.empty()) {
            ++created_;
            return {*this, std::make_unique<Workspace>()};
        }
        std::unique_ptr<Workspace> ws = std::move(free_.back());
        free_.pop_back();
        return {*this, std::move(ws)};
    }
    /// Workspaces made so far (the most concurrent callers seen).
    std::size_t size() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return created_;
    }
    /// Bytes held by the workspaces not lent out right now.
    std::size_t bytes() const {
        std::lock_guard<std::mutex> lock(mutex_);
        std::size_t b = 0;
        for (const auto& ws : free_) b += ws->bytes();
        return b;
    }

private:
    void give_back(std::unique_ptr<Workspace> ws) const {
        std::lock_guard<std::mutex> lock(mutex_);
        free_.push_back(std::move(ws));
    }

    mutable std::mutex mutex_;
    mutable std::vector<std::unique_ptr<Workspace>> free_;
    mutable std::size_t created_ = 0;
};

}  // namespace detail
}  // namespace prunedef
