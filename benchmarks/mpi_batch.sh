#!/usr/bin/env bash
# 'prunedef batch' of a manifest: one process with 2 threads against mpirun -n 2 with 1 thread per
# rank (each rank repairs whole models, taking the next as it finishes), alternated, each run into
# a fresh directory (a run into a used one would skip the complete models); medians. The model
# directories of the two configurations are checked identical every round.
#   bash benchmarks/mpi_batch.sh MANIFEST [ROUNDS] [BUILD]     (defaults: 3 rounds, build/)
# MANIFEST: e.g. the 'batch' test's, build/tests/batch_work/manifests/models.csv (5 CSAW networks
# on the shared samples, the Fashion-MNIST BadNet twice, a row whose model is missing).
set -uo pipefail
cd "$(dirname "$0")/.."
manifest=$1 rounds=${2:-3} build=${3:-build}
[ -f "$manifest" ] || { echo "mpi_batch.sh: no manifest $manifest" >&2; exit 1; }
tool=$build/tools/prunedef/prunedef
"$tool" --version | grep -q '^MPI: yes' || { echo "mpi_batch.sh: $tool was built without MPI" >&2; exit 1; }
work=$build/mpi_batch_bench
mkdir -p "$work"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
unset OMP_NUM_THREADS

seconds() {  # wall time of a command, in seconds (its exit code is the batch's: 1 when a row fails)
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null 2>&1
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
one=() two=()
for r in $(seq "$rounds"); do
  rm -rf "$work/one" "$work/ranks"
  one+=("$(seconds "$tool" batch --manifest "$manifest" --out "$work/one" --threads 2)")
  two+=("$(seconds mpirun --oversubscribe -n 2 "$tool" batch --manifest "$manifest" --out "$work/ranks" --threads 1)")
  for d in "$work"/one/*/; do
    diff -r "$d" "$work/ranks/$(basename "$d")" > /dev/null || { echo "mpi_batch.sh: $(basename "$d") differs" >&2; exit 1; }
  done
  echo "round $r: 1 process x 2 threads ${one[-1]} s, 2 ranks x 1 thread ${two[-1]} s (load: $(cut -d' ' -f1-3 /proc/loadavg))"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
a=$(median "${one[@]}") b=$(median "${two[@]}")
printf '| models | rounds | 1 process x 2 threads (s) | 2 ranks x 1 thread (s) | 2 ranks over 1 process |\n'
printf '|---:|---:|---:|---:|---:|\n'
printf '| %d | %d | %.2f | %.2f | %.2f |\n' "$(($(wc -l < "$manifest") - 1))" "$rounds" "$a" "$b" "$(echo "$a / $b" | bc -l)"
