#pragma once
// MpiCommunicator: core/communicator.hpp over an MPI communicator (MPI_COMM_WORLD by default).
// Needs mpi.h and MPI_Init (mpi_session.hpp): link prunedef::mpi. Sums are MPI_Allreduce of
// int64 (exact); gathers are MPI_Allgatherv, in rank order.

#include <prunedef/core/communicator.hpp>
#include <prunedef/core/error.hpp>

#include <mpi.h>

#include <climits>
#include <string>
#include <vector>

namespace prunedef {

class MpiCommunicator final : public Communicator {
public:
    explicit MpiCommunicator(MPI_Comm comm = MPI_COMM_WORLD) : comm_(comm) {
        int rank = 0, size = 0;
        MPI_Comm_rank(comm_, &rank);
        MPI_Comm_size(comm_, &size);
        rank_ = static_cast<std::size_t>(rank);
        size_ = static_cast<std::size_t>(size);
    }
    std::size_t rank() const override { return rank_; }
    std::size_t size() const override { return size_; }
    MPI_Comm handle() const { return comm_; }

protected:
    void raw_sum(std::vector<std::int64_t>& values) const override {
        if (values.empty()) return;
        MPI_Allreduce(MPI_IN_PLACE, values.data(), count_of(values.size()), MPI_INT64_T, MPI_SUM, comm_);
    }
    std::vector<double> raw_gather(const std::vector<double>& values) const override {
        return gather_as(values, MPI_DOUBLE);
    }
    std::vector<std::int64_t> raw_gather(const std::vector<std::int64_t>& values) const override {
        return gather_as(values, MPI_INT64_T);
    }

private:
    static int count_of(std::size_t n) {
        if (n > static_cast<std::size_t>(INT_MAX))
            throw argument_error("MpiCommunicator: " + std::to_string(n) + " values in one collective (MPI counts are int)");
        return static_cast<int>(n);
    }
    template <class T>
    std::vector<T> gather_as(const std::vector<T>& values, MPI_Datatype type) const {
        // The sizes first (every rank's count), then the values at their offsets.
        const int mine = count_of(values.size());
        std::vector<int> counts(size_), offsets(size_);
        MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, comm_);
        std::size_t total = 0;
        for (std::size_t r = 0; r < size_; ++r) {
            offsets[r] = count_of(total);
            total += static_cast<std::size_t>(counts[r]);
        }
        (void)count_of(total);
        std::vector<T> all(total);
        MPI_Allgatherv(values.data(), mine, type, all.data(), counts.data(), offsets.data(), type, comm_);
        return all;
    }

    MPI_Comm comm_;
    std::size_t rank_ = 0, size_ = 1;
};

}  // namespace prunedef
