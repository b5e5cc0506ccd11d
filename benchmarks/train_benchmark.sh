#!/usr/bin/env bash
# Training throughput, prunedef against PyTorch 2.13 (CPU), interleaved in one run: each side
# trains one epoch of the Fashion-MNIST BadNet (60,000 images, batch 64, Adam lr 0.003, as
# `prunedef make-badnet` does) REPS times (default 3), alternating which goes first; the table
# gives the medians of images/s and the median of the per-round ratios.
# prunedef: the default (native) Release build in build-bench/; PyTorch: the environment of
# scripts/bench-venv.sh (torch 2.13.0, build/bench-venv or $PRUNEDEF_BENCH_VENV).
# With BASELINE=/path/to/an/older/prunedef, each round also trains with that binary (between the
# two), for an A/B of a change in the same minutes: the table gains its row and the median of the
# per-round ratios prunedef / baseline.
# Needs: dataset-fashion-mnist (Debian). usage: [BASELINE=B] benchmarks/train_benchmark.sh [REPS [THREADS]]
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-3} threads=${2:-2}
build=build-bench
bash scripts/bench-venv.sh >/dev/null
python=${PRUNEDEF_BENCH_VENV:-$(pwd)/build/bench-venv}/bin/python
cmake -S . -B $build -DCMAKE_BUILD_TYPE=Release -DPRUNEDEF_BUILD_BENCHMARKS=ON -DPRUNEDEF_BUILD_TESTS=OFF \
      -DPRUNEDEF_INSTALL=OFF >/dev/null
cmake --build $build -j"$(nproc)" --target prunedef_tool >/dev/null
export OMP_NUM_THREADS=$threads
baseline=${BASELINE:-}
[ -z "$baseline" ] || [ -x "$baseline" ] || { echo "train_benchmark.sh: BASELINE $baseline is not an executable" >&2; exit 1; }
epoch_of() {
  "$1" make-badnet --dataset fashion-mnist --epochs 1 --out $build/train_out 2>&1 >/dev/null |
    sed -n 's/.*, \([0-9]*\) images\/s/\1/p'
}
ours() { epoch_of $build/tools/prunedef/prunedef; }
theirs() { "$python" benchmarks/torch_train.py --epochs 1 --threads "$threads" | sed -n 's/epoch 1: \([0-9]*\) images.*/\1/p'; }
o=() t=() q=() bl=() bq=()
for r in $(seq "$reps"); do
  c=
  if [ $((r % 2)) = 1 ]; then
    a=$(ours); [ -z "$baseline" ] || c=$(epoch_of "$baseline"); b=$(theirs)
  else
    b=$(theirs); [ -z "$baseline" ] || c=$(epoch_of "$baseline"); a=$(ours)
  fi
  [ -n "$a" ] && [ -n "$b" ] || { echo "train_benchmark.sh: a trainer printed no images/s" >&2; exit 1; }
  [ -z "$baseline" ] || [ -n "$c" ] || { echo "train_benchmark.sh: the baseline printed no images/s" >&2; exit 1; }
  o+=("$a") t+=("$b") q+=("$(echo "$a / $b" | bc -l)")
  [ -z "$baseline" ] || { bl+=("$c"); bq+=("$(echo "$a / $c" | bc -l)"); }
  echo "rep $r: prunedef $a images/s, PyTorch $b images/s${c:+, baseline $c images/s} ($(cut -d' ' -f1-3 /proc/loadavg) load)"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo
echo "| trainer ($threads threads) | images/s (median of $reps epochs) |"
echo "|---|---:|"
echo "| prunedef | $(median "${o[@]}") |"
echo "| PyTorch $("$python" -c 'import torch; print(torch.__version__)') | $(median "${t[@]}") |"
printf '| ratio prunedef / PyTorch (median of the per-round ratios) | %.2f |\n' "$(median "${q[@]}")"
if [ -n "$baseline" ]; then
  echo "| baseline ($baseline) | $(median "${bl[@]}") |"
  printf '| ratio prunedef / baseline (median of the per-round ratios) | %.2f |\n' "$(median "${bq[@]}")"
fi
