#!/usr/bin/env bash
# Keeps the benchmarks building and honest in CI: installs Google Benchmark and oneDNN (Debian),
# builds benchmarks/ in build-bench/ (Release, -march=native on the machine that runs them), runs
# each Google Benchmark once briefly, and runs the oneDNN comparison briefly, which fails unless
# prunedef's and oneDNN's logits agree within 1e-3 on the shared faces. Timings from this run
# are not results: see benchmarks/README.md for how those are measured.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh libbenchmark-dev libdnnl-dev ocl-icd-opencl-dev
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DPRUNEDEF_BUILD_BENCHMARKS=ON -DPRUNEDEF_BUILD_TESTS=OFF \
      -DPRUNEDEF_BUILD_TOOLS=OFF -DPRUNEDEF_INSTALL=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target prunedef_bench prunedef_vs_onednn make_csaw_sized
export OMP_NUM_THREADS=2
build-bench/benchmarks/prunedef_bench --benchmark_min_time=0.01 --benchmark_repetitions=1 >/dev/null
build-bench/benchmarks/prunedef_vs_onednn --reps 1 --seconds 0.05
echo "bench-smoke: benchmarks build and run; prunedef and oneDNN agree"
