#!/usr/bin/env bash
# Training throughput, prunedef against PyTorch, interleaved in one run: each side trains one
# epoch of the Fashion-MNIST BadNet (60,000 images, batch 64, Adam) REPS times (default 3);
# the table gives the medians of images/s.
# Needs: dataset-fashion-mnist, python3-torch (Debian). usage: benchmarks/train_benchmark.sh [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-3}
build=build-bench-tools
cmake -S . -B $build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="-march=native" -DPRUNEDEF_BUILD_TESTS=OFF >/dev/null
cmake --build $build -j"$(nproc)" --target prunedef_tool >/dev/null
export OMP_NUM_THREADS=2
ours=() torch=()
for r in $(seq "$reps"); do
  ours+=("$($build/tools/prunedef/prunedef make-badnet --dataset fashion-mnist --epochs 1 --out $build/train_out 2>&1 >/dev/null |
            sed -n 's/.*, \([0-9]*\) images\/s/\1/p')")
  torch+=("$(/usr/bin/python3 benchmarks/torch_train.py --epochs 1 --threads 2 | sed -n 's/epoch 1: \([0-9]*\) images.*/\1/p')")
  echo "rep $r: prunedef ${ours[-1]} images/s, PyTorch ${torch[-1]} images/s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
o=$(median "${ours[@]}") t=$(median "${torch[@]}")
echo
echo "| trainer | images/s (median of $reps epochs) |"
echo "|---|---:|"
echo "| prunedef | $o |"
echo "| PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') | $t |"
printf '| ratio prunedef / PyTorch | %.2f |\n' "$(echo "$o / $t" | bc -l)"
