#pragma once
// OpenMP helpers. Work is always split into tasks whose boundaries do not depend on the thread
// count, so that every result is bit-identical with 1 or N threads.

#include <cstddef>
#include <exception>
#include <utility>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace prunedef {

/// The number of threads prunedef's parallel loops use (OpenMP's current setting).
inline int thread_count() {
#if defined(_OPENMP)
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/// Sets the number of threads for prunedef's parallel loops (no effect without OpenMP).
inline void set_thread_count(int n) {
#if defined(_OPENMP)
    if (n > 0) omp_set_num_threads(n);
#else
    (void)n;
#endif
}

namespace detail {

/// Calls body(task) for task in [0, count) on all threads, each task on exactly one thread.
/// Static scheduling: thread t takes the t-th contiguous share of the tasks, the same share in
/// every call, so a layer's thread reads the images that the same thread wrote in the layer
/// before (still in its core's cache), and a head's column blocks stay in one core's L2 from call
/// to call. Against schedule(dynamic, 1) this made the DeepID forward 11-33 % faster
/// (benchmarks/README.md). Which thread runs a task never changes a value.
template <class Body>
void parallel_for(std::ptrdiff_t count, Body&& body) {
#if defined(_OPENMP)
    if (count > 1 && omp_get_max_threads() > 1 && !omp_in_parallel()) {
        // An exception may not leave an OpenMP region (std::terminate): the first one is kept
        // and rethrown on the calling thread once the loop is done.
        std::exception_ptr failure;
#pragma omp parallel for schedule(static)
        for (std::ptrdiff_t task = 0; task < count; ++task) {
            try {
                body(task);
            } catch (...) {
#pragma omp critical(prunedef_parallel_for_failure)
                if (!failure) failure = std::current_exception();
            }
        }
        if (failure) std::rethrow_exception(failure);
        return;
    }
#endif
    for (std::ptrdiff_t task = 0; task < count; ++task) body(task);
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
