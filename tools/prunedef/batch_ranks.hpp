#pragma once
// How 'prunedef batch' shares its models among processes. batch.cpp runs the models through
// this interface; batch_mpi.cpp (compiled only with MPI) implements it over MPI, where each
// model is repaired whole by one rank and a rank that finishes takes the next model not yet
// taken. Without MPI (or with one rank) batch.cpp runs the models itself, in manifest order.
//
// Every collective below first learns whether a rank failed: a rank that failed calls
// share_failure() in place of its next collective, and every other rank's next collective
// throws prunedef::rank_failure with that message. Ranks call the collectives in the same order.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace prunedef_tool {

class BatchRanks {
public:
    virtual ~BatchRanks() = default;
    virtual std::size_t rank() const = 0;
    virtual std::size_t size() const = 0;
    /// Collective: rank 0's text on every rank (the others' argument is ignored).
    virtual std::string broadcast(const std::string& text) = 0;
    /// Collective: from now on take() hands out 0 .. models - 1.
    virtual void start(std::size_t models) = 0;
    /// The next model no rank has taken yet (each one to exactly one rank); nullopt when all are
    /// taken. Not collective: a rank asks whenever it is free.
    virtual std::optional<std::size_t> take() = 0;
    /// Collective: every rank's text, in rank order, on rank 0 (empty on the others).
    virtual std::vector<std::string> gather(const std::string& text) = 0;
    /// Called by a rank that failed, in place of its next collective; returns (the caller rethrows).
    virtual void share_failure(const std::string& message) = 0;
};

/// The MPI ranks when this process was started by an MPI launcher with more than one rank;
/// nullptr otherwise (also in a build without MPI). Initialises MPI for the object's lifetime.
std::unique_ptr<BatchRanks> mpi_batch_ranks();

}  // namespace prunedef_tool
