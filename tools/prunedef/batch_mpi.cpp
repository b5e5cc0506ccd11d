// BatchRanks over MPI (compiled only when the tool is built with MPI, PRUNEDEF_MPI): the models
// are handed out by a counter on rank 0 that every rank, rank 0 included, advances one-sidedly
// (MpiSharedCounter), so a rank that finishes a short model takes the next one at once and no
// rank is a mere dispatcher. Texts (the checked manifest, the outcomes) travel as bytes:
// MPI_Bcast from rank 0, MPI_Gatherv to rank 0. Failures go through MpiCommunicator's protocol.

#include "batch_ranks.hpp"

#include <prunedef/mpi/mpi_communicator.hpp>
#include <prunedef/mpi/mpi_session.hpp>
#include <prunedef/mpi/mpi_shared_counter.hpp>

#include <climits>
#include <optional>

namespace prunedef_tool {

namespace {

using prunedef::argument_error;

int mpi_count(std::size_t n) {
    if (n > static_cast<std::size_t>(INT_MAX))
        throw argument_error("prunedef batch: " + std::to_string(n) + " bytes in one MPI message (MPI counts are int)");
    return static_cast<int>(n);
}

class MpiBatchRanks final : public BatchRanks {
public:
    // session_ before comm_ and counter_: MPI is finalised after the window is freed.
    MpiBatchRanks() : session_(nullptr, nullptr) {}
    std::size_t rank() const override { return comm_.rank(); }
    std::size_t size() const override { return comm_.size(); }

    std::string broadcast(const std::string& text) override {
        comm_.check();
        long long length = static_cast<long long>(text.size());
        MPI_Bcast(&length, 1, MPI_LONG_LONG, 0, comm_.handle());
        std::string out = rank() == 0 ? text : std::string(static_cast<std::size_t>(length), '\0');
        if (length > 0) MPI_Bcast(&out[0], mpi_count(out.size()), MPI_CHAR, 0, comm_.handle());
        return out;
    }
    void start(std::size_t models) override {
        comm_.check();
        counter_.emplace(comm_.handle());
        models_ = models;
    }
    std::optional<std::size_t> take() override {
        if (!counter_) throw argument_error("MpiBatchRanks::take before start");
        const auto i = static_cast<std::size_t>(counter_->take());
        if (i >= models_) return std::nullopt;
        return i;
    }
    std::vector<std::string> gather(const std::string& text) override {
        comm_.check();
        const int mine = mpi_count(text.size());
        const bool root = rank() == 0;
        std::vector<int> counts(root ? size() : 0), offsets(root ? size() : 0);
        MPI_Gather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm_.handle());
        std::size_t total = 0;
        for (std::size_t r = 0; r < counts.size(); ++r) {
            offsets[r] = mpi_count(total);
            total += static_cast<std::size_t>(counts[r]);
        }
        std::string all(total, '\0');
        MPI_Gatherv(text.data(), mine, MPI_CHAR, root ? &all[0] : nullptr, counts.data(), offsets.data(), MPI_CHAR, 0,
                    comm_.handle());
        std::vector<std::string> texts;
        for (std::size_t r = 0; r < counts.size(); ++r)
            texts.push_back(all.substr(static_cast<std::size_t>(offsets[r]), static_cast<std::size_t>(counts[r])));
        return texts;
    }
    void share_failure(const std::string& message) override { comm_.share_failure(message); }

private:
    prunedef::MpiSession session_;
    prunedef::MpiCommunicator comm_;
    std::optional<prunedef::MpiSharedCounter> counter_;
    std::size_t models_ = 0;
};

}  // namespace

std::unique_ptr<BatchRanks> mpi_batch_ranks() {
    if (!prunedef::launched_by_mpi()) return nullptr;
    auto ranks = std::make_unique<MpiBatchRanks>();
    if (ranks->size() <= 1) return nullptr;  // one rank: the batch runs as without mpirun (MPI is finalised here)
    return ranks;
}

}  // namespace prunedef_tool
