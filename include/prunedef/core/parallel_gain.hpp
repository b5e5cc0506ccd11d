#pragma once
// detail::ParallelGainMonitor: decides, by measuring both, whether the thread pool's jobs run
// faster on several threads or on the calling thread alone, and runs them the faster way.
//
// Why: the pool's calling thread never waits for a worker that has not started, but it must wait
// for a task that a worker has started. When another process keeps one of the cores busy, the
// worker sharing that core is descheduled in the middle of tasks, and a loop of many short jobs
// (a training epoch: about 20 jobs of 50-500 us per mini-batch) waits for a time slice again and
// again: measured with a busy loop on one of 2 cores, a make-badnet epoch took 8.7 s with 2
// threads against 7.2 s with 1, while a long-job loop (eval) stayed faster with 2 (2.2 s against
// 2.5 s; benchmarks/README.md, "Contention"). No estimate from inside one mode predicted this
// (the caller's own time per task said 2 threads were faster in both cases), so both are timed.
//
// How: jobs run on several threads for a hold period; then two probe windows of probe_window
// each time the jobs that follow, first on several threads, then on the calling thread alone, as
// tasks finished per second of wall time (from the first job's start to the last job's end, so
// the caller's serial work between jobs counts in both). The faster way (the calling thread
// alone only when faster by serial_margin) is held next; the hold
// doubles (min_hold up to max_hold) while the same way keeps winning and returns to min_hold when
// the other wins. A program's jobs repeat (mini-batches, batches of images), so two windows of
// neighbouring jobs measure the same mix. Which thread runs a task never changes a value
// (core/parallel.hpp), so neither does this choice.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace prunedef {
namespace detail {

class ParallelGainMonitor {
public:
    using clock = std::chrono::steady_clock;
    using duration = std::chrono::nanoseconds;

    static constexpr duration probe_window = std::chrono::milliseconds(20);
    static constexpr std::size_t probe_jobs = 8;  // a window holds at least this many jobs
    static constexpr duration min_hold = std::chrono::milliseconds(250);
    static constexpr duration max_hold = std::chrono::seconds(8);
    /// The calling thread alone must finish this many times the tasks per second to be chosen:
    /// one window slowed by something else (another process waking up) must not send a quiet
    /// machine's jobs to one thread (measured under a busy loop: 1.25-1.4 times as many).
    static constexpr double serial_margin = 1.1;

    enum class Phase { hold, probe_parallel, probe_serial };

    /// Whether the job starting at `now` runs on the calling thread alone. The first call starts
    /// the first hold (on several threads).
    bool serial(clock::time_point now) {
        if (!started_) {
            started_ = true;
            hold_until_ = now + hold_;
        }
        if (phase_ == Phase::hold && now >= hold_until_) {
            phase_ = Phase::probe_parallel;
            window_jobs_ = 0;
        }
        switch (phase_) {
        case Phase::hold: return hold_serial_;
        case Phase::probe_parallel: return false;
        case Phase::probe_serial: return true;
        }
        return false;
    }

    /// Records a job of `tasks` tasks that started at `start` and ended at `end`, run the way
    /// serial(start) said.
    void record(std::size_t tasks, clock::time_point start, clock::time_point end) {
        if (phase_ == Phase::hold) return;
        if (window_jobs_ == 0) {
            window_start_ = start;
            window_tasks_ = 0;
        }
        ++window_jobs_;
        window_tasks_ += tasks;
        const duration span = end - window_start_;
        if (window_jobs_ < probe_jobs || span < probe_window) return;
        const double rate = double(window_tasks_) / double(std::max<duration::rep>(span.count(), 1));
        window_jobs_ = 0;
        if (phase_ == Phase::probe_parallel) {
            parallel_rate_ = rate;
            phase_ = Phase::probe_serial;
            return;
        }
        const bool serial_wins = rate > serial_margin * parallel_rate_;
        hold_ = serial_wins == hold_serial_ ? std::min(hold_ * 2, max_hold) : min_hold;
        hold_serial_ = serial_wins;
        if (serial_wins) ++serial_holds_;
        phase_ = Phase::hold;
        hold_until_ = end + hold_;
    }

    Phase phase() const { return phase_; }
    /// Whether the current (or last) hold runs jobs on the calling thread alone.
    bool holding_serial() const { return hold_serial_; }
    duration hold() const { return hold_; }
    /// How many holds ran on the calling thread alone (for tests and diagnostics).
    std::uint64_t serial_holds() const { return serial_holds_; }

private:
    bool started_ = false;
    Phase phase_ = Phase::hold;
    bool hold_serial_ = false;
    duration hold_ = min_hold;
    clock::time_point hold_until_{};
    clock::time_point window_start_{};
    std::size_t window_jobs_ = 0, window_tasks_ = 0;
    double parallel_rate_ = 0;
    std::uint64_t serial_holds_ = 0;
};

}  // namespace detail
}  // namespace prunedef
