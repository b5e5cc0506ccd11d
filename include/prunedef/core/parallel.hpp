#pragma once
// Parallel loops. Work is always split into tasks whose boundaries do not depend on the thread
// count, so that every result is bit-identical with 1 or N threads. The threads are prunedef's
// own pool (core/thread_pool.hpp: why not OpenMP regions, and how it stays fast when another
// process holds a core).

#include <prunedef/core/thread_pool.hpp>

#include <cstddef>
#include <utility>

namespace prunedef {

/// The number of threads prunedef's parallel loops use: OMP_NUM_THREADS when set, else the CPUs
/// the process may run on, unless set_thread_count() said otherwise.
inline int thread_count() { return detail::ThreadPool::instance().threads(); }

/// Sets the number of threads for prunedef's parallel loops (n >= 1; other values are ignored).
/// Not while a computation runs on another thread.
inline void set_thread_count(int n) { detail::ThreadPool::instance().set_threads(n); }

namespace detail {

/// Whether the calling thread is running a task of a parallel loop (a loop inside it runs on
/// that thread alone).
inline bool in_parallel() { return pool_thread_state().in_job; }

/// Index of the calling thread in the parallel loop it runs a task of, in [0, thread_count()).
inline int thread_index() { return pool_thread_state().index; }

/// Calls body(task) for task in [0, count) on all threads, each task on exactly one thread.
///
/// Each thread owns a contiguous share of the tasks, the same share in every call, and runs it
/// front to back, so a layer's thread reads the images that the same thread wrote in the layer
/// before (still in its core's cache), and a head's column blocks stay in one core's L2 from call
/// to call (against a shared task queue this made the DeepID forward 11-33 % faster,
/// benchmarks/README.md). A thread that has finished its share takes the tasks not yet started
/// of the others, and the calling thread never waits for a thread that has not started: on a
/// machine where another process holds a core, a descheduled thread no longer holds up the loop.
/// An exception thrown by a task is rethrown on the calling thread once the loop is done (the
/// first one; the other tasks still run). Which thread runs a task never changes a value.
template <class Body>
void parallel_for(std::ptrdiff_t count, Body&& body) {
    if (count <= 0) return;
    ThreadPool::instance().run(count, body);
}

/// Multiply-adds below which a kernel runs on the calling thread alone: starting and joining a
/// parallel region costs more than half of such a job (B''s kept-channel fc_1 and conv_4 at
/// batch 1, about 40,000 each).
constexpr std::size_t min_parallel_work = 100000;

/// parallel_for for a kernel of `work` multiply-adds: serial when the work is too small to share.
template <class Body>
void parallel_for_work(std::ptrdiff_t count, std::size_t work, Body&& body) {
    if (work < min_parallel_work) {
        for (std::ptrdiff_t task = 0; task < count; ++task) body(task);
        return;
    }
    parallel_for(count, std::forward<Body>(body));
}

}  // namespace detail
}  // namespace prunedef
