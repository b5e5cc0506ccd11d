// The thread pool behind parallel_for (core/thread_pool.hpp): every task exactly once with any
// thread count, loops inside loops, several callers at once, exceptions, thread indices.

#include <prunedef/core/error.hpp>
#include <prunedef/core/parallel.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

// Each test file in a namespace of its own: the test binary may be compiled as a unity build.
namespace test_thread_pool {

using namespace prunedef;

namespace {
/// Restores the thread count when a test case ends.
struct SavedThreads {
    int saved = thread_count();
    ~SavedThreads() { set_thread_count(saved); }
};
}  // namespace

TEST_CASE("thread pool: every task runs exactly once, for any thread and task count") {
    SavedThreads guard;
    for (const int threads : {1, 2, 3, 8}) {
        set_thread_count(threads);
        REQUIRE(thread_count() == (PRUNEDEF_NO_THREADS ? 1 : threads));
        for (const std::ptrdiff_t count : {0, 1, 2, 3, 7, 64, 1001}) {
            CAPTURE(threads);
            CAPTURE(count);
            std::vector<std::atomic<int>> runs(static_cast<std::size_t>(count));
            for (int repeat = 0; repeat < 20; ++repeat)
                detail::parallel_for(count, [&](std::ptrdiff_t t) { runs[static_cast<std::size_t>(t)].fetch_add(1); });
            int wrong = 0;
            for (auto& r : runs) wrong += r.load() != 20;
            CHECK(wrong == 0);
        }
    }
}

TEST_CASE("thread pool: thread indices are below thread_count() and distinct threads have distinct indices") {
    SavedThreads guard;
    set_thread_count(4);
    std::vector<int> index_of_task(4000);
    std::vector<std::thread::id> thread_of_task(4000);
    detail::parallel_for(4000, [&](std::ptrdiff_t t) {
        index_of_task[static_cast<std::size_t>(t)] = detail::thread_index();
        thread_of_task[static_cast<std::size_t>(t)] = std::this_thread::get_id();
        CHECK(detail::in_parallel());
    });
    CHECK_FALSE(detail::in_parallel());
    std::set<std::pair<int, std::thread::id>> pairs;
    std::set<int> indices;
    for (std::size_t t = 0; t < index_of_task.size(); ++t) {
        CHECK(index_of_task[t] >= 0);
        CHECK(index_of_task[t] < thread_count());
        pairs.insert({index_of_task[t], thread_of_task[t]});
        indices.insert(index_of_task[t]);
    }
    CHECK(pairs.size() == indices.size());  // one thread per index
    std::set<std::thread::id> threads;
    for (const auto& p : pairs) threads.insert(p.second);
    CHECK(threads.size() == pairs.size());  // one index per thread
}

TEST_CASE("thread pool: a loop inside a task runs on that task's thread") {
    SavedThreads guard;
    set_thread_count(3);
    std::vector<std::atomic<int>> runs(30 * 17);
    std::atomic<int> foreign{0};
    detail::parallel_for(30, [&](std::ptrdiff_t outer) {
        const auto me = std::this_thread::get_id();
        detail::parallel_for(17, [&](std::ptrdiff_t inner) {
            if (std::this_thread::get_id() != me) foreign.fetch_add(1);
            runs[static_cast<std::size_t>(outer * 17 + inner)].fetch_add(1);
        });
    });
    CHECK(foreign.load() == 0);
    int wrong = 0;
    for (auto& r : runs) wrong += r.load() != 1;
    CHECK(wrong == 0);
}

TEST_CASE("thread pool: several threads calling parallel_for at once each get every task run once") {
    SavedThreads guard;
    set_thread_count(2);
    constexpr int callers = 4, count = 257, repeats = 200;
    std::vector<std::vector<std::atomic<int>>> runs(callers);
    for (auto& r : runs) r = std::vector<std::atomic<int>>(count);
    std::vector<std::thread> threads;
    for (int c = 0; c < callers; ++c)
        threads.emplace_back([&, c] {
            for (int i = 0; i < repeats; ++i)
                detail::parallel_for(count, [&](std::ptrdiff_t t) { runs[c][static_cast<std::size_t>(t)].fetch_add(1); });
        });
    for (auto& t : threads) t.join();
    int wrong = 0;
    for (auto& caller : runs)
        for (auto& r : caller) wrong += r.load() != repeats;
    CHECK(wrong == 0);
}

TEST_CASE("thread pool: the first exception reaches the caller after every other task has run") {
    SavedThreads guard;
    for (const int threads : {1, 2, 4}) {
        CAPTURE(threads);
        set_thread_count(threads);
        std::atomic<int> ran{0};
        CHECK_THROWS_WITH_AS(detail::parallel_for(100,
                                                  [&](std::ptrdiff_t t) {
                                                      if (t == 37) throw numeric_error("task 37 failed");
                                                      ran.fetch_add(1);
                                                  }),
                             "task 37 failed", numeric_error);
        CHECK(ran.load() == 99);
        // the pool is usable afterwards
        std::atomic<int> after{0};
        detail::parallel_for(50, [&](std::ptrdiff_t) { after.fetch_add(1); });
        CHECK(after.load() == 50);
    }
}

TEST_CASE("thread pool: more threads than CPUs still completes many short loops") {
    // Oversubscription: the caller runs whatever no worker has started, so this finishes even when
    // most workers are not scheduled while a loop runs.
    SavedThreads guard;
    set_thread_count(16);
    std::atomic<long> sum{0};
    for (int i = 0; i < 2000; ++i) detail::parallel_for(16, [&](std::ptrdiff_t t) { sum.fetch_add(t); });
    CHECK(sum.load() == 2000L * (15 * 16 / 2));
}

}  // namespace test_thread_pool
