#pragma once
// detail::ThreadPool: the threads behind parallel_for (core/parallel.hpp).
//
// Why not an OpenMP parallel region: a region ends with a barrier that waits for every thread of
// the team, including one that the operating system has not yet scheduled. On a machine where
// another process keeps a core busy (a shared node, a laptop), each of the thousands of regions
// of a sweep or a training epoch then waits for a time slice: measured here, one training epoch
// of make-badnet took 99-119 s with two OpenMP threads against 14-15 s with one
// (benchmarks/README.md, "Contention"). In this pool the calling thread takes part in every job
// and never waits for a worker that has not started: it runs every task nobody has claimed, and
// waits only for tasks already running on another thread. A worker that wakes up late finds the
// job done and goes back to sleep.
//
// Protocol (one job at a time; a second thread calling run() meanwhile runs its loop alone):
//   caller:  publish body and shares; open the job (closed_ = false); wake the workers;
//            claim tasks until none is left; close the job (closed_ = true); wait until no
//            worker is inside it (active_ == 0); rethrow the first exception.
//   worker:  wait for a new generation; active_ += 1; if the job is still open, claim tasks
//            until none is left; active_ -= 1.
// Because a worker registers (active_) before it checks closed_, and the caller closes before it
// checks active_ (both sequentially consistent), a worker either sees the job closed and touches
// nothing, or the caller waits for it: no worker ever reads a finished job's body.
//
// A worker descheduled in the middle of a task still holds the caller up; when that makes the
// jobs slower than on the caller alone (another process on the worker's core), which the pool
// measures from time to time, they run on the caller alone (core/parallel_gain.hpp).

#include <prunedef/core/parallel_gain.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

/// Defined to 1 (CMake: PRUNEDEF_THREADS=OFF) for a build whose parallel loops run on the calling
/// thread alone.
#ifndef PRUNEDEF_NO_THREADS
#define PRUNEDEF_NO_THREADS 0
#endif

namespace prunedef {
namespace detail {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#else
    std::this_thread::yield();
#endif
}

/// Index of the calling thread in the running job (0: the caller), and whether it is inside one.
struct PoolThreadState {
    int index = 0;
    bool in_job = false;
};
inline PoolThreadState& pool_thread_state() {
    thread_local PoolThreadState state;
    return state;
}

/// The CPUs this process may run on (its affinity mask), at least 1.
inline int available_cpus() {
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
    return std::max(1u, std::thread::hardware_concurrency());
}

/// The default thread count: OMP_NUM_THREADS when it is set to a positive number (the variable
/// users already set for numerical code; its first value for a list), else the available CPUs.
inline int default_thread_count() {
#if PRUNEDEF_NO_THREADS
    return 1;
#endif
    if (const char* env = std::getenv("OMP_NUM_THREADS")) {
        char* end = nullptr;
        const long n = std::strtol(env, &end, 10);
        if (end != env && n > 0) return static_cast<int>(std::min<long>(n, 1024));
    }
    return available_cpus();
}

class ThreadPool {
public:
    static ThreadPool& instance() {
        // Never destroyed: workers may still sleep in it while static destructors run at exit.
        static ThreadPool* pool = new ThreadPool(default_thread_count());
        return *pool;
    }

    /// Threads a job runs on, the caller included.
    int threads() const { return threads_.load(std::memory_order_relaxed); }

    /// Sets the thread count (n >= 1); the workers start on the next job.
    void set_threads(int n) {
#if PRUNEDEF_NO_THREADS
        n = 1;  // built without threads
#endif
        if (n < 1) return;
        std::lock_guard<std::mutex> job(job_mutex_);
        stop_workers();
        threads_.store(n, std::memory_order_relaxed);
    }

    /// Calls body(task) for task in [0, count), each exactly once, on up to threads() threads.
    /// Thread t (0: the caller) owns the t-th contiguous share and runs it front to back; a
    /// thread done with its share takes the unclaimed tasks of the others.
    template <class Body>
    void run(std::ptrdiff_t count, Body& body) {
        const std::ptrdiff_t teams = std::min<std::ptrdiff_t>(threads(), count);
        std::unique_lock<std::mutex> job(job_mutex_, std::try_to_lock);
        PoolThreadState& me = pool_thread_state();
        const bool shared = teams > 1 && !me.in_job && job.owns_lock();
        const auto opened = shared ? ParallelGainMonitor::clock::now() : ParallelGainMonitor::clock::time_point{};
        if (!shared || gain_.serial(opened)) {
            // On this thread alone, with the same outcome as on several: every task runs, then
            // the first exception is rethrown. A job the pool runs alone by choice (shared) is
            // still a parallel loop to its tasks: in_parallel(), thread index 0, inner loops here.
            std::exception_ptr first;
            if (shared) me.in_job = true, me.index = 0;
            for (std::ptrdiff_t task = 0; task < count; ++task) {
                try {
                    body(task);
                } catch (...) {
                    if (!first) first = std::current_exception();
                }
            }
            if (shared) me.in_job = false;
            if (shared) gain_.record(static_cast<std::size_t>(count), opened, ParallelGainMonitor::clock::now());
            if (first) std::rethrow_exception(first);
            return;
        }
        start_workers();
        shares_count_ = teams;
        for (std::ptrdiff_t s = 0; s < teams; ++s) {
            shares_[static_cast<std::size_t>(s)].next.store(count * s / teams, std::memory_order_relaxed);
            shares_[static_cast<std::size_t>(s)].end = count * (s + 1) / teams;
        }
        body_ = &body;
        invoke_ = [](void* b, std::ptrdiff_t task) { (*static_cast<Body*>(b))(task); };
        failure_ = nullptr;
        closed_.store(false, std::memory_order_seq_cst);
        {
            std::lock_guard<std::mutex> lock(wake_mutex_);
            generation_.fetch_add(1, std::memory_order_seq_cst);
        }
        if (sleeping_.load(std::memory_order_seq_cst) > 0) wake_.notify_all();

        me.in_job = true;
        me.index = 0;
        work(0);
        me.in_job = false;

        closed_.store(true, std::memory_order_seq_cst);
        for (unsigned spins = 0; active_.load(std::memory_order_seq_cst) != 0; ++spins)
            if (spins < 4096) cpu_relax();
            else std::this_thread::yield();
        gain_.record(static_cast<std::size_t>(count), opened, ParallelGainMonitor::clock::now());
        body_ = nullptr;
        if (failure_) {
            std::exception_ptr f = failure_;
            failure_ = nullptr;
            std::rethrow_exception(f);
        }
    }

private:
    explicit ThreadPool(int threads) : threads_(threads) {}

    struct alignas(64) Share {
        std::atomic<std::ptrdiff_t> next{0};
        std::ptrdiff_t end = 0;
    };

    /// Runs tasks: share `own` first, then the others' unclaimed tasks.
    void work(std::ptrdiff_t own) {
        const std::ptrdiff_t n = shares_count_;
        for (std::ptrdiff_t i = 0; i < n; ++i) {
            Share& share = shares_[static_cast<std::size_t>((own + i) % n)];
            for (;;) {
                const std::ptrdiff_t task = share.next.fetch_add(1, std::memory_order_relaxed);
                if (task >= share.end) break;
                try {
                    invoke_(body_, task);
                } catch (...) {
                    std::lock_guard<std::mutex> lock(failure_mutex_);
                    if (!failure_) failure_ = std::current_exception();
                }
            }
        }
    }

    void worker_loop(int index) {
        PoolThreadState& me = pool_thread_state();
        me.index = index;
        std::uint64_t seen = 0;
        for (;;) {
            // Spin briefly (a job usually follows within microseconds), then sleep.
            std::uint64_t now = generation_.load(std::memory_order_seq_cst);
            for (unsigned spins = 0; now == seen && spins < 2000 && !stop_.load(std::memory_order_relaxed); ++spins) {
                cpu_relax();
                now = generation_.load(std::memory_order_seq_cst);
            }
            if (now == seen) {
                std::unique_lock<std::mutex> lock(wake_mutex_);
                sleeping_.fetch_add(1, std::memory_order_seq_cst);
                wake_.wait(lock, [&] {
                    return stop_.load(std::memory_order_relaxed) || generation_.load(std::memory_order_seq_cst) != seen;
                });
                sleeping_.fetch_sub(1, std::memory_order_seq_cst);
                now = generation_.load(std::memory_order_seq_cst);
            }
            if (stop_.load(std::memory_order_relaxed)) return;
            seen = now;
            active_.fetch_add(1, std::memory_order_seq_cst);
            if (!closed_.load(std::memory_order_seq_cst) && index < shares_count_) {
                me.in_job = true;
                work(index);
                me.in_job = false;
            }
            active_.fetch_sub(1, std::memory_order_seq_cst);
        }
    }

    void start_workers() {
        const int n = threads();
        if (static_cast<int>(workers_.size()) + 1 >= n) return;
        shares_ = std::make_unique<Share[]>(static_cast<std::size_t>(n));
        closed_.store(true, std::memory_order_seq_cst);
        try {
            for (int i = static_cast<int>(workers_.size()) + 1; i < n; ++i)
                workers_.emplace_back([this, i] { worker_loop(i); });
        } catch (const std::system_error&) {
            // No thread could be created (a process limit): run with those that exist.
            threads_.store(static_cast<int>(workers_.size()) + 1, std::memory_order_relaxed);
        }
    }

    void stop_workers() {
        {
            std::lock_guard<std::mutex> lock(wake_mutex_);
            stop_.store(true, std::memory_order_relaxed);
        }
        wake_.notify_all();
        for (auto& w : workers_) w.join();
        workers_.clear();
        stop_.store(false, std::memory_order_relaxed);
    }

    std::atomic<int> threads_;
    std::mutex job_mutex_;  // one job at a time
    std::vector<std::thread> workers_;
    std::unique_ptr<Share[]> shares_;
    std::ptrdiff_t shares_count_ = 0;
    void* body_ = nullptr;
    void (*invoke_)(void*, std::ptrdiff_t) = nullptr;
    std::mutex failure_mutex_;
    std::exception_ptr failure_;
    ParallelGainMonitor gain_;  // used by the job's caller only (under job_mutex_)

    std::atomic<bool> closed_{true};
    std::atomic<int> active_{0};
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<int> sleeping_{0};
    std::atomic<bool> stop_{false};
    std::mutex wake_mutex_;
    std::condition_variable wake_;
};

}  // namespace detail
}  // namespace prunedef
