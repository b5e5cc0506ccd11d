#!/usr/bin/env bash
# Builds the whole test suite with AddressSanitizer and UndefinedBehaviorSanitizer (gcc, -O1;
# -g1: line tables for the reports, no variable info, about 15 % less compile time than -g)
# in build-asan/ and runs the CTest tests that exercise prunedef's code (unit, golden, CLI,
# faults, bad inputs, eval format); packaging (consumer projects built with their own flags), the
# Python module (built by pip) and the real-framework checks (keras, torch_onnx) run only in the
# main build (see the ctest line).
# The flags are given to this build directory only; CMakeLists.txt sets none.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
shared=${PRUNEDEF_SHARED:-$(pwd)/../shared}
flags="-fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=all -O1 -g1"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined,float-cast-overflow" -DPRUNEDEF_SHARED_DIR="$shared" >/dev/null
cmake --build build-asan -j"$(nproc)"
# tests/lsan.supp silences only HDF5's library-internal state (and libgomp's thread pool, a line
# kept from when prunedef ran on OpenMP); every other leak fails the run.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
# the Keras checks (CTest keras) reuse the venv of the main build instead of installing another
export PRUNEDEF_KERAS_VENV=${PRUNEDEF_KERAS_VENV:-$(pwd)/build/keras-venv}
cd build-asan
# the Python module (CTest python*) is built by pip without these flags: its tests run in build/.
# keras and torch_onnx (real Keras and PyTorch models through the tool) run in build/ too: here
# they would repeat minutes of framework work for code the unit tests already run sanitized.
# mpi (mpirun -n 1/2/4) and mpi_batch (batch under mpirun) run in build/: LeakSanitizer reports Open MPI's own allocations at
# MPI_Finalize (a program that only initialises MPI and runs two collectives: 13 kB), which no suppression of
# ours should hide; the communicator, the failure protocol and repair on 1/2/4 ranks run
# sanitized in the unit tests (test_communicator.cpp, ranks as threads).
# two tests at a time (they took 360 s one at a time on CI; each writes to its own directories)
ctest --output-on-failure -j2 -E '^(packaging|python.*|keras|torch_onnx|mpi|mpi_batch)$'
