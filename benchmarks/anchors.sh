#!/usr/bin/env bash
# prunedef's DeepID forward pass next to oneDNN, ONNX Runtime and PyTorch and the measured fp32
# peak, in one run, interleaved, medians (benchmarks/anchors.py says how). One command:
#   bash benchmarks/anchors.sh [ROUNDS [SECONDS]]      # default 7 rounds of about 0.3 s per batch
# Builds build-bench/ (Release, the default native build, as README's commands produce it),
# makes or reuses the Python environment of scripts/bench-venv.sh (build/bench-venv, or
# $PRUNEDEF_BENCH_VENV), exports the ONNX model to build-bench/deepid.onnx and checks it.
# Needs: libdnnl-dev, libbenchmark-dev (Debian), the shared data ($PRUNEDEF_SHARED or ../shared).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-7} seconds=${2:-0.3}
shared=${PRUNEDEF_SHARED:-$(cd .. && pwd)/shared}
for f in models/csaw/lab3_sunglasses_bd_weights.h5 data/csaw/clean_samples.h5 data/csaw/golden_logits.h5; do
  [ -f "$shared/$f" ] || { echo "anchors.sh: $shared/$f is missing (set PRUNEDEF_SHARED)" >&2; exit 1; }
done
bash scripts/bench-venv.sh >/dev/null
venv=${PRUNEDEF_BENCH_VENV:-$(pwd)/build/bench-venv}
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DPRUNEDEF_BUILD_BENCHMARKS=ON -DPRUNEDEF_BUILD_TESTS=OFF \
      -DPRUNEDEF_INSTALL=OFF -DPRUNEDEF_SHARED_DIR="$shared" >/dev/null
cmake --build build-bench -j"$(nproc)" --target prunedef_vs_onednn fma_peak >/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
"$venv/bin/python" benchmarks/anchors.py --build build-bench --shared "$shared" --rounds "$rounds" --seconds "$seconds"
