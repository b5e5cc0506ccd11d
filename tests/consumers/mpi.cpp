// A consumer of prunedef::mpi: MPI initialized as a singleton (no mpirun), a communicator of one
// rank; its collectives return their input, its shared counter counts 0, 1, ...
#include <prunedef/mpi/mpi_communicator.hpp>
#include <prunedef/mpi/mpi_session.hpp>
#include <prunedef/mpi/mpi_shared_counter.hpp>

#include <iostream>

int main(int argc, char** argv) {
    prunedef::MpiSession session(&argc, &argv);
    const prunedef::MpiCommunicator comm;
    std::vector<std::int64_t> v{1, 2, 3};
    comm.sum(v);
    const std::vector<double> all = comm.gather(std::vector<double>{0.5});
    prunedef::MpiSharedCounter counter;  // freed before the session ends
    const bool counts = counter.take() == 0 && counter.take() == 1;
    std::cout << "mpi consumer ok: rank " << comm.rank() << " of " << comm.size() << "\n";
    return comm.size() == 1 && v[2] == 3 && all.size() == 1 && all[0] == 0.5 && counts ? 0 : 1;
}
