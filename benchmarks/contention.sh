#!/usr/bin/env bash
# Graceful under contention? Another process keeps one core busy (a shell busy loop pinned with
# taskset to the last core), and prunedef runs with 2 threads (OMP_NUM_THREADS=2) and with 1,
# interleaved (the order alternates), REPS times each (default 3), medians:
#   eval   prunedef eval of the CSAW-sized validation set (11,547 faces, make_csaw_sized)
#   train  one epoch of prunedef make-badnet (Fashion-MNIST, 60,000 images, batch 64, Adam):
#          seconds = 60,000 / the images/s it prints
# The same is measured first without the busy loop as the reference (the load average printed
# with every repetition says how quiet the machine was). The busy loop is stopped when the
# script exits, however it exits (after an interrupt: once the running command has ended).
# Measurement only: it changes nothing.
# prunedef: the default (native) Release build in build-bench/. Needs the shared samples and
# dataset-fashion-mnist (train is skipped with a note when /usr/share/datasets/fashion-mnist is absent).
# usage: benchmarks/contention.sh [REPS [TASKS]]   (TASKS: "eval train" (default), "eval" or "train")
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-3} tasks=${2:-eval train}
shared=${PRUNEDEF_SHARED:-$(cd .. && pwd)/shared}
build=build-bench
cmake -S . -B $build -DCMAKE_BUILD_TYPE=Release -DPRUNEDEF_BUILD_BENCHMARKS=ON -DPRUNEDEF_BUILD_TESTS=OFF \
      -DPRUNEDEF_INSTALL=OFF -DPRUNEDEF_SHARED_DIR="$shared" >/dev/null
cmake --build $build -j"$(nproc)" --target prunedef_tool make_csaw_sized >/dev/null
data=$build/csaw_sized
[ -f $data/valid.h5 ] || $build/benchmarks/make_csaw_sized $data "$shared" >/dev/null
tool=$build/tools/prunedef/prunedef
model=$shared/models/csaw/lab3_sunglasses_bd_weights.h5
train=no do_eval=no
case " $tasks " in *" train "*) train=yes ;; esac
case " $tasks " in *" eval "*) do_eval=yes ;; esac
if [ $train = yes ] && [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "contention.sh: /usr/share/datasets/fashion-mnist is absent: training not measured (apt-get install dataset-fashion-mnist)"
  train=no
fi

busy=
stop_busy() { if [ -n "$busy" ]; then kill "$busy" 2>/dev/null || true; wait "$busy" 2>/dev/null || true; busy=; fi; }
trap stop_busy EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
eval_seconds() {  # threads
  local t0; t0=$(now)
  OMP_NUM_THREADS=$1 $tool eval --model "$model" --scale 1 --clean $data/valid.h5 >/dev/null 2>$build/contention_eval.err ||
    { cat $build/contention_eval.err >&2; exit 1; }
  echo "$(now) - $t0" | bc -l
}
train_seconds() {  # threads
  local ips
  ips=$(OMP_NUM_THREADS=$1 $tool make-badnet --dataset fashion-mnist --epochs 1 --out $build/contention_train 2>&1 >/dev/null |
          sed -n 's/.*, \([0-9]*\) images\/s/\1/p')
  [ -n "$ips" ] || { echo "contention.sh: make-badnet printed no images/s" >&2; exit 1; }
  echo "60000 / $ips" | bc -l
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

declare -A results
measure() {  # label
  local e2=() e1=() t2=() t1=() r a b
  for r in $(seq "$reps"); do
    if [ $do_eval = yes ]; then
      if [ $((r % 2)) = 1 ]; then a=$(eval_seconds 2); b=$(eval_seconds 1); else b=$(eval_seconds 1); a=$(eval_seconds 2); fi
      e2+=("$a") e1+=("$b")
    fi
    if [ $train = yes ]; then
      if [ $((r % 2)) = 1 ]; then a=$(train_seconds 2); b=$(train_seconds 1); else b=$(train_seconds 1); a=$(train_seconds 2); fi
      t2+=("$a") t1+=("$b")
    fi
    printf '%s rep %d:' "$1" "$r"
    [ $do_eval = no ] || printf ' eval %.2f s (2 threads) / %.2f s (1 thread)' "${e2[-1]}" "${e1[-1]}"
    [ $train = no ] || printf ' train epoch %.2f s (2 threads) / %.2f s (1 thread)' "${t2[-1]}" "${t1[-1]}"
    printf ' (load %s)\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
  done
  [ $do_eval = no ] || results[$1 eval]="$(median "${e2[@]}") $(median "${e1[@]}")"
  [ $train = no ] || results[$1 train]="$(median "${t2[@]}") $(median "${t1[@]}")"
}

echo "machine: $(nproc) cores; $reps interleaved repetitions per case; OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-(unset)}"
measure none
taskset -c $(($(nproc) - 1)) sh -c 'while :; do :; done' &
busy=$!
sleep 1
measure busy
stop_busy

echo
echo "| busy loop | task | 2 threads (s) | 1 thread (s) | 2 threads / 1 thread (time) |"
echo "|---|---|---:|---:|---:|"
for m in none busy; do
  for task in eval train; do
    [ -n "${results[$m $task]:-}" ] || continue
    read -r two one <<<"${results[$m $task]}"
    what=$([ $task = eval ] && echo "eval, 11,547 CSAW-sized faces" || echo "make-badnet, 1 epoch")
    printf '| %s | %s | %.2f | %.2f | %.2f |\n' \
      "$([ $m = none ] && echo "no busy loop" || echo "one core busy (taskset busy loop)")" "$what" "$two" "$one" "$(echo "$two / $one" | bc -l)"
  done
done
