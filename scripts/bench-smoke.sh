#!/usr/bin/env bash
# Keeps the benchmarks building and honest in CI: installs Google Benchmark and oneDNN (Debian),
# builds benchmarks/ in build-bench/ (Release, -march=native on the machine that runs them), runs
# each Google Benchmark once briefly, and runs the oneDNN comparison briefly, which fails unless
# prunedef's and oneDNN's logits agree within 1e-3 on the shared faces. Then the anchors: makes
# the Python environment of scripts/bench-venv.sh (ONNX Runtime, PyTorch), exports the DeepID to
# ONNX and fails unless ONNX Runtime's logits agree with golden_logits.h5 and with prunedef's
# within 1e-4, and runs one short round of benchmarks/anchors.py (PyTorch checked against
# golden_logits.h5 there). Timings from this run are not results: see benchmarks/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
bash scripts/setup-debian.sh libbenchmark-dev libdnnl-dev ocl-icd-opencl-dev
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DPRUNEDEF_BUILD_BENCHMARKS=ON -DPRUNEDEF_BUILD_TESTS=OFF \
      -DPRUNEDEF_INSTALL=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target prunedef_bench prunedef_vs_onednn make_csaw_sized fma_peak
export OMP_NUM_THREADS=2
build-bench/benchmarks/prunedef_bench --benchmark_min_time=0.01 --benchmark_repetitions=1 >/dev/null
build-bench/benchmarks/prunedef_vs_onednn --reps 1 --seconds 0.05
echo "bench-smoke: benchmarks build and run; prunedef and oneDNN agree ($((SECONDS - start)) s so far)"

shared=$(sed -n 's/^PRUNEDEF_SHARED_DIR:PATH=//p' build-bench/CMakeCache.txt)
shared=${PRUNEDEF_SHARED:-$shared}
if [ ! -f "$shared/models/csaw/lab3_sunglasses_bd_weights.h5" ] || [ ! -f "$shared/data/csaw/golden_logits.h5" ]; then
  echo "bench-smoke: SKIPPED the ONNX Runtime and PyTorch anchors: the shared model or golden_logits.h5 is absent ($shared)"
  exit 0
fi
anchors=$SECONDS
bash scripts/bench-venv.sh
venv=${PRUNEDEF_BENCH_VENV:-$(pwd)/build/bench-venv}
build-bench/benchmarks/prunedef_vs_onednn --logits build-bench/prunedef_clean_logits.f32
"$venv/bin/python" benchmarks/deepid_onnx.py --shared "$shared" --out build-bench/deepid.onnx \
    --prunedef build-bench/prunedef_clean_logits.f32
"$venv/bin/python" benchmarks/anchors.py --build build-bench --shared "$shared" --rounds 1 --seconds 0.02 >/dev/null
echo "bench-smoke: ONNX Runtime agrees with golden_logits.h5 and prunedef; anchors.py runs" \
     "(anchors: $((SECONDS - anchors)) s, whole smoke: $((SECONDS - start)) s)"
