#pragma once
// Communicator: the few collective operations a data-parallel defense needs (its ranks each hold
// a slice of the data), without mpi.h. SingleProcess is the communicator of one process;
// prunedef/mpi/mpi_communicator.hpp implements it over MPI.
//
// Every collective first tells every rank whether one of them has failed: a rank that fails
// calls share_failure(message) instead of its next collective, and every other rank's next
// collective (sum, gather or check) then throws rank_failure with that message. So an error on
// one rank ends every rank, and no rank waits for ever. Ranks must call the collectives in the
// same order.

#include <prunedef/core/error.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace prunedef {

/// Thrown on every rank of a communicator when another rank failed; what() names the rank.
class rank_failure : public error {
public:
    explicit rank_failure(const std::string& what) : error(what) {}
};

class Communicator {
public:
    virtual ~Communicator() = default;
    virtual std::size_t rank() const = 0;
    virtual std::size_t size() const = 0;

    /// Element-wise sum over the ranks, on every rank. Integers: exact, so the order does not matter.
    void sum(std::vector<std::int64_t>& values) const {
        check();
        raw_sum(values);
    }
    /// Every rank's values (of any length), concatenated in rank order, on every rank. Combining
    /// the result in its order gives the same figures whatever the number of ranks.
    std::vector<double> gather(const std::vector<double>& values) const {
        check();
        return raw_gather(values);
    }
    std::vector<std::int64_t> gather(const std::vector<std::int64_t>& values) const {
        check();
        return raw_gather(values);
    }
    /// A collective that only checks: throws rank_failure when a rank has called share_failure.
    void check() const { exchange(std::string()); }
    /// Called by a rank that failed, in place of its next collective: every rank learns the
    /// message (the others throw rank_failure from their current collective). Returns, so that
    /// the caller rethrows its own error. Does nothing with a single rank.
    void share_failure(const std::string& message) const {
        try {
            exchange(message.empty() ? std::string("unknown error") : message);
        } catch (const rank_failure&) {  // this rank knows its own error best
        }
    }

protected:
    virtual void raw_sum(std::vector<std::int64_t>& values) const = 0;
    virtual std::vector<double> raw_gather(const std::vector<double>& values) const = 0;
    virtual std::vector<std::int64_t> raw_gather(const std::vector<std::int64_t>& values) const = 0;

private:
    /// One flag per rank summed; only when some rank failed, the messages are gathered too.
    void exchange(const std::string& mine) const {
        if (size() <= 1) return;
        std::vector<std::int64_t> failed{mine.empty() ? 0 : 1};
        raw_sum(failed);
        if (failed[0] == 0) return;
        // every message, as one length per rank, then the characters
        const std::vector<std::int64_t> lengths = raw_gather(std::vector<std::int64_t>{std::int64_t(mine.size())});
        const std::vector<std::int64_t> chars = raw_gather(std::vector<std::int64_t>(mine.begin(), mine.end()));
        std::size_t at = 0, first = lengths.size();
        std::string text;
        for (std::size_t r = 0; r < lengths.size(); ++r) {
            const std::size_t n = static_cast<std::size_t>(lengths[r]);
            if (n > 0 && first == lengths.size()) {
                first = r;
                for (std::size_t i = 0; i < n; ++i) text += static_cast<char>(chars[at + i]);
            }
            at += n;
        }
        std::string what = "rank " + std::to_string(first) + " of " + std::to_string(size()) + " failed: " + text;
        if (failed[0] > 1) what += " (and " + std::to_string(failed[0] - 1) + " other rank(s))";
        throw rank_failure(what);
    }
};

/// The communicator of a single process: rank 0 of 1; every collective returns its input.
class SingleProcess final : public Communicator {
public:
    std::size_t rank() const override { return 0; }
    std::size_t size() const override { return 1; }

protected:
    void raw_sum(std::vector<std::int64_t>&) const override {}
    std::vector<double> raw_gather(const std::vector<double>& values) const override { return values; }
    std::vector<std::int64_t> raw_gather(const std::vector<std::int64_t>& values) const override { return values; }
};

}  // namespace prunedef
