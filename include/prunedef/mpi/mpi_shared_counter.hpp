#pragma once
// MpiSharedCounter: a counter held by rank 0 that every rank of a communicator advances with
// MPI's one-sided MPI_Fetch_and_op (no rank has to answer: rank 0 works like the others). Handing
// out work items: take() returns 0, 1, 2, ... across all ranks, each value to exactly one rank, in
// the order the ranks ask; a rank that finishes an item early takes the next one.
//
// Construction and destruction are collective (MPI_Win_allocate / MPI_Win_free): every rank of
// the communicator creates and destroys its counter in the same order as its other collectives.
// On one machine Open MPI keeps the window in shared memory (osc/sm); between machines an
// interconnect with remote atomics (osc/ucx, osc/rdma) does the addition without rank 0, while
// a plain TCP network may make a rank wait until rank 0 next calls MPI.

#include <prunedef/core/error.hpp>

#include <mpi.h>

#include <cstdint>
#include <string>

namespace prunedef {

class MpiSharedCounter {
public:
    explicit MpiSharedCounter(MPI_Comm comm = MPI_COMM_WORLD) {
        int rank = 0;
        MPI_Comm_rank(comm, &rank);
        const MPI_Aint bytes = rank == 0 ? MPI_Aint(sizeof(std::int64_t)) : 0;
        std::int64_t* base = nullptr;
        if (MPI_Win_allocate(bytes, static_cast<int>(sizeof(std::int64_t)), MPI_INFO_NULL, comm, &base, &window_) != MPI_SUCCESS)
            throw error("MPI_Win_allocate failed (the shared counter)");
        if (rank == 0) {
            MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, window_);
            *base = 0;
            MPI_Win_unlock(0, window_);
        }
        MPI_Barrier(comm);  // no rank takes a value before rank 0 has set the counter
    }
    MpiSharedCounter(const MpiSharedCounter&) = delete;
    MpiSharedCounter& operator=(const MpiSharedCounter&) = delete;
    ~MpiSharedCounter() { MPI_Win_free(&window_); }

    /// The counter's value before this call's increment (atomic across ranks).
    std::int64_t take() {
        const std::int64_t one = 1;
        std::int64_t before = 0;
        MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, window_);
        const int rc = MPI_Fetch_and_op(&one, &before, MPI_INT64_T, 0, 0, MPI_SUM, window_);
        MPI_Win_unlock(0, window_);
        if (rc != MPI_SUCCESS) throw error("MPI_Fetch_and_op failed (the shared counter)");
        return before;
    }

private:
    MPI_Win window_ = MPI_WIN_NULL;
};

}  // namespace prunedef
