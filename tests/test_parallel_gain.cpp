// The thread pool's choice between several threads and the calling thread alone
// (core/parallel_gain.hpp): holds, the two probe windows, the verdict, the doubling hold.

#include <prunedef/core/parallel_gain.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_parallel_gain {

using prunedef::detail::ParallelGainMonitor;
using Phase = ParallelGainMonitor::Phase;
using namespace std::chrono_literals;
using clock = ParallelGainMonitor::clock;

namespace {
/// Runs jobs of 100 tasks, each taking `job` and followed by `gap` of the caller's own work, as
/// the pool would (asking serial() first), while the monitor stays in `phase`. Returns the time
/// after the last job; `serial_jobs` counts the jobs serial() sent to the calling thread.
clock::time_point run_jobs(ParallelGainMonitor& m, Phase phase, clock::duration job, clock::time_point now,
                           int& serial_jobs, clock::duration gap = 0us) {
    for (int guard = 0; guard < 100000; ++guard) {
        const bool alone = m.serial(now);
        if (m.phase() != phase) return now;
        serial_jobs += alone;
        m.record(100, now, now + job);
        now += job + gap;
    }
    FAIL("the monitor never left its phase");
    return now;
}

/// Measures both ways once: parallel jobs take `parallel_job`, serial ones `serial_job`.
clock::time_point probe(ParallelGainMonitor& m, clock::duration parallel_job, clock::duration serial_job,
                        clock::time_point now) {
    int serial_jobs = 0;
    REQUIRE(m.phase() == Phase::probe_parallel);
    now = run_jobs(m, Phase::probe_parallel, parallel_job, now, serial_jobs);
    CHECK(serial_jobs == 0);
    REQUIRE(m.phase() == Phase::probe_serial);
    const int before = serial_jobs;
    now = run_jobs(m, Phase::probe_serial, serial_job, now, serial_jobs);
    CHECK(serial_jobs - before >= int(ParallelGainMonitor::probe_jobs));
    CHECK(m.phase() == Phase::hold);
    return now;
}

/// Moves past the current hold (the first one starts at the first serial() call): the next
/// serial() call starts the probes.
clock::time_point end_hold(ParallelGainMonitor& m, clock::time_point now) {
    m.serial(now);
    now += m.hold();
    m.serial(now);
    return now;
}
}  // namespace

TEST_CASE("parallel gain: the first hold runs on several threads and ignores its jobs") {
    ParallelGainMonitor m;
    const clock::time_point t0{};
    CHECK_FALSE(m.serial(t0));
    int serial_jobs = 0;
    // jobs far slower in parallel change nothing during the hold
    const auto now = run_jobs(m, Phase::hold, 5ms, t0, serial_jobs);
    CHECK(serial_jobs == 0);
    CHECK(now >= t0 + ParallelGainMonitor::min_hold);
    CHECK(m.phase() == Phase::probe_parallel);
}

TEST_CASE("parallel gain: a probe window needs both probe_jobs jobs and probe_window of time") {
    ParallelGainMonitor m;
    auto now = end_hold(m, clock::time_point{});
    REQUIRE(m.phase() == Phase::probe_parallel);
    // long jobs: the window closes after probe_jobs jobs, not after 20 ms
    for (std::size_t j = 0; j + 1 < ParallelGainMonitor::probe_jobs; ++j) {
        m.serial(now);
        m.record(100, now, now + 50ms);
        now += 50ms;
        CHECK(m.phase() == Phase::probe_parallel);
    }
    m.record(100, now, now + 50ms);
    CHECK(m.phase() == Phase::probe_serial);
    // short jobs: the window closes once it spans probe_window
    int serial_jobs = 0;
    now = run_jobs(m, Phase::probe_serial, 100us, now, serial_jobs);
    CHECK(serial_jobs == int(ParallelGainMonitor::probe_window / 100us));
}

TEST_CASE("parallel gain: the faster way is held; the hold doubles while it keeps winning") {
    ParallelGainMonitor m;
    auto now = end_hold(m, clock::time_point{});
    // serial twice as fast (another process holds the worker's core)
    now = probe(m, 200us, 100us, now);
    CHECK(m.holding_serial());
    CHECK(m.hold() == ParallelGainMonitor::min_hold);  // a change of way: the shortest hold
    CHECK(m.serial(now));
    CHECK(m.serial(now + m.hold() - 1ns));
    CHECK(m.serial_holds() == 1);
    auto expected = ParallelGainMonitor::min_hold;
    for (int round = 0; round < 8; ++round) {
        now = end_hold(m, now);
        now = probe(m, 200us, 100us, now);
        expected = std::min<clock::duration>(expected * 2, ParallelGainMonitor::max_hold);
        CHECK(m.holding_serial());
        CHECK(m.hold() == expected);
    }
    CHECK(m.hold() == ParallelGainMonitor::max_hold);
    // the other process ends: parallel wins again, the hold starts short
    now = end_hold(m, now);
    now = probe(m, 60us, 100us, now);
    CHECK_FALSE(m.holding_serial());
    CHECK_FALSE(m.serial(now));
    CHECK(m.hold() == ParallelGainMonitor::min_hold);
    CHECK(m.serial_holds() == 9);
}

TEST_CASE("parallel gain: the caller's work between jobs counts in both windows; serial must win by the margin") {
    // parallel jobs 20 % faster but each followed by 1 ms of serial work: parallel still wins,
    // by less; equal job times with the same gaps: serial is not chosen on a tie
    ParallelGainMonitor m;
    auto now = end_hold(m, clock::time_point{});
    int serial_jobs = 0;
    now = run_jobs(m, Phase::probe_parallel, 80us, now, serial_jobs, 1ms);
    now = run_jobs(m, Phase::probe_serial, 100us, now, serial_jobs, 1ms);
    CHECK_FALSE(m.holding_serial());
    now = end_hold(m, now);
    now = run_jobs(m, Phase::probe_parallel, 100us, now, serial_jobs, 1ms);
    now = run_jobs(m, Phase::probe_serial, 100us, now, serial_jobs, 1ms);
    CHECK_FALSE(m.holding_serial());
    // the calling thread alone 5 % faster: within serial_margin, still parallel; 20 %: alone
    now = end_hold(m, now);
    now = probe(m, 105us, 100us, now);
    CHECK_FALSE(m.holding_serial());
    now = end_hold(m, now);
    now = probe(m, 120us, 100us, now);
    CHECK(m.holding_serial());
}

}  // namespace test_parallel_gain
