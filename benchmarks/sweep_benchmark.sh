#!/usr/bin/env bash
# The sweep on a CSAW-sized case, timed against forward passes over the same images.
#
#   forward  : prunedef eval over the validation, test and poisoned sets (one forward pass each)
#   sweep    : prunedef repair with all three sets (activation pass, ranking, the one-pass sweep
#              of all 60 channels, thresholds, GoodNets, reports and weight files)
#   naive    : re-evaluating the network after every pruned channel = 61 forward passes over the
#              three sets (k = 0..60); each costs what the unpruned forward costs, so it is
#              computed as 61 x forward rather than run for an hour
#
# usage: benchmarks/sweep_benchmark.sh [REPS] [VALID_COPIES] (defaults 3 and 1). Builds
# build-bench/ (as contention.sh does: the default native Release build), generates the data once in
# build-bench/csaw_sized/ (VALID_COPIES 1) or csaw_sized_x<N>/: the validation set is N
# times the challenge's 11,547 images (10: 115,470, the memory-budget case of repair, whose
# features exceed the default --feature-cache and are recomputed; report.json says which).
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-3}
copies=${2:-1}
shared=${PRUNEDEF_SHARED:-$(pwd)/../shared}
build=build-bench
cmake -S . -B $build -DCMAKE_BUILD_TYPE=Release -DPRUNEDEF_BUILD_TESTS=OFF \
      -DPRUNEDEF_BUILD_BENCHMARKS=ON -DPRUNEDEF_INSTALL=OFF -DPRUNEDEF_SHARED_DIR="$shared" >/dev/null
cmake --build $build -j"$(nproc)" --target prunedef_tool make_csaw_sized >/dev/null
data=$build/csaw_sized
[ "$copies" = 1 ] || data=$build/csaw_sized_x$copies
[ -f $data/poisoned.h5 ] || $build/benchmarks/make_csaw_sized $data "$shared" "$copies"
tool=$build/tools/prunedef/prunedef
model=$shared/models/csaw/lab3_sunglasses_bd_weights.h5
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

measure() {  # prints "seconds max_rss_kb" of a command
  /usr/bin/time -f "%e %M" -o $build/time.txt "$@" >/dev/null
  cat $build/time.txt
}
fwd=() swp=() mem=()
for r in $(seq "$reps"); do
  read -r t1 m1 < <(measure $tool eval --model $model --scale 1 --clean $data/valid.h5 --poisoned $data/poisoned.h5)
  read -r t2 m2 < <(measure $tool eval --model $model --scale 1 --clean $data/test.h5)
  rm -rf $build/sweep_out
  read -r t3 m3 < <(measure $tool repair --model $model --scale 1 --valid $data/valid.h5 --test $data/test.h5 \
                               --poisoned $data/poisoned.h5 --out $build/sweep_out)
  fwd+=("$(echo "$t1 + $t2" | bc -l)") swp+=("$t3") mem+=("$m3")
  echo "rep $r: forward ${fwd[-1]} s, sweep $t3 s, sweep peak RSS $((m3 / 1024)) MB"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
f=$(median "${fwd[@]}") s=$(median "${swp[@]}") m=$(median "${mem[@]}")
# how the validation features reached the sweep (report.json's valid_features)
features=$(python3 -c 'import json, sys; v = json.load(open(sys.argv[1]))["valid_features"]
c, r, mb = v["cached_images"], v["recomputed_images"], v["bytes"] / 1e6
print(f"{c} cached, {r} recomputed (all: {mb:.0f} MB)")' $build/sweep_out/report.json)
echo
echo "| images (valid + test + poisoned) | forward (s) | sweep (s) | sweep / forward | naive 61 x forward (s) | naive / sweep | sweep peak RSS (MB) | validation features |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
printf '| %d + 12830 + 12830 | %.2f | %.2f | %.2f | %.1f | %.0f | %d | %s |\n' $((11547 * copies)) "$f" "$s" "$(echo "$s / $f" | bc -l)" \
  "$(echo "61 * $f" | bc -l)" "$(echo "61 * $f / $s" | bc -l)" "$((m / 1024))" "$features"
