#pragma once
// ThreadRanks: a Communicator whose ranks are threads of one process (test helper), so that the
// data-parallel code paths run with 2 or 4 ranks inside the unit tests. run(R, body) calls
// body(comm) on R threads, one per rank, and rethrows the first rank's exception.

#include <prunedef/core/communicator.hpp>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace prunedef_test {

/// What the ranks share: one slot per rank and a reusable barrier.
class RankHub {
public:
    explicit RankHub(std::size_t ranks) : ranks_(ranks), ints_(ranks), doubles_(ranks) {}
    std::size_t ranks() const { return ranks_; }

    void barrier() {
        std::unique_lock<std::mutex> lock(mutex_);
        const std::size_t generation = generation_;
        if (++arrived_ == ranks_) {
            arrived_ = 0;
            ++generation_;
            cv_.notify_all();
        } else {
            cv_.wait(lock, [&] { return generation_ != generation; });
        }
    }
    template <class T>
    std::vector<T> gather(std::size_t rank, const std::vector<T>& mine) {
        slots<T>()[rank] = mine;
        barrier();
        std::vector<T> all;
        for (const auto& s : slots<T>()) all.insert(all.end(), s.begin(), s.end());
        barrier();  // nobody writes its slot again before everyone has read
        return all;
    }

private:
    template <class T>
    std::vector<std::vector<T>>& slots() {
        if constexpr (std::is_same_v<T, double>) return doubles_;
        else return ints_;
    }
    std::size_t ranks_, arrived_ = 0, generation_ = 0;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<std::vector<std::int64_t>> ints_;
    std::vector<std::vector<double>> doubles_;
};

class ThreadRank final : public prunedef::Communicator {
public:
    ThreadRank(RankHub& hub, std::size_t rank) : hub_(&hub), rank_(rank) {}
    std::size_t rank() const override { return rank_; }
    std::size_t size() const override { return hub_->ranks(); }

protected:
    void raw_sum(std::vector<std::int64_t>& values) const override {
        const std::vector<std::int64_t> all = hub_->gather(rank_, values);
        for (std::size_t i = 0; i < values.size(); ++i) {
            std::int64_t s = 0;
            for (std::size_t r = 0; r < size(); ++r) s += all[r * values.size() + i];
            values[i] = s;
        }
    }
    std::vector<double> raw_gather(const std::vector<double>& values) const override {
        return hub_->gather(rank_, values);
    }
    std::vector<std::int64_t> raw_gather(const std::vector<std::int64_t>& values) const override {
        return hub_->gather(rank_, values);
    }

private:
    RankHub* hub_;
    std::size_t rank_;
};

/// Runs body(comm) on `ranks` threads; returns each rank's exception (null where none).
inline std::vector<std::exception_ptr> run_ranks(std::size_t ranks,
                                                 const std::function<void(const prunedef::Communicator&)>& body) {
    RankHub hub(ranks);
    std::vector<std::exception_ptr> errors(ranks);
    std::vector<std::thread> threads;
    for (std::size_t r = 0; r < ranks; ++r)
        threads.emplace_back([&, r] {
            const ThreadRank comm(hub, r);
            try {
                body(comm);
            } catch (...) {
                errors[r] = std::current_exception();
            }
        });
    for (auto& t : threads) t.join();
    return errors;
}

}  // namespace prunedef_test
