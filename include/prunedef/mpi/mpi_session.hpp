#pragma once
// MpiSession: MPI_Init_thread on construction (when MPI is not initialized yet), MPI_Finalize on
// destruction (when it initialized MPI). Only the calling thread talks to MPI (prunedef's
// thread pool never does): MPI_THREAD_FUNNELED.
//
// launched_by_mpi(): whether this process was started by an MPI launcher (mpirun, mpiexec,
// srun with PMI/PMIx), going by the environment the launchers set; a program can then use MPI
// only when there is more than itself to talk to, and start as before otherwise.

#include <prunedef/core/error.hpp>

#include <mpi.h>

#include <cstdlib>

namespace prunedef {

inline bool launched_by_mpi() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"})
        if (std::getenv(name)) return true;
    return false;
}

class MpiSession {
public:
    MpiSession(int* argc, char*** argv) {
        int initialized = 0;
        MPI_Initialized(&initialized);
        if (initialized) return;
        int provided = 0;
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            throw error("MPI_Init_thread failed");
        owner_ = true;
    }
    MpiSession(const MpiSession&) = delete;
    MpiSession& operator=(const MpiSession&) = delete;
    ~MpiSession() {
        if (!owner_) return;
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!finalized) MPI_Finalize();
    }

private:
    bool owner_ = false;
};

}  // namespace prunedef
