#!/usr/bin/env bash
# The data-parallel repair: mpirun -n 2 with 1 thread per rank against one process with 2
# threads (and with 1), alternated in one run; medians. The validation set is the shared
# Fashion-MNIST BadNet's valid.h5 repeated COPIES times (default 8: 40,000 images; test and
# poisoned sets as shared), written once with h5py.
#   bash benchmarks/mpi_repair.sh [ROUNDS] [COPIES]      (defaults 5 and 8)
# Uses the build of README's commands (build/, with PRUNEDEF_MPI on) and Python with h5py
# ($PYTHON, default the bench venv of scripts/bench-venv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
copies=${2:-8}
shared=${PRUNEDEF_SHARED:-$(pwd)/../shared}
fm=$shared/fmnist_badnet
[ -f "$fm/bd_weights.h5" ] || { echo "mpi_repair.sh: $fm/bd_weights.h5 is absent" >&2; exit 1; }
tool=build/tools/prunedef/prunedef
"$tool" --version | grep -q '^MPI: yes' || { echo "mpi_repair.sh: $tool was built without MPI" >&2; exit 1; }
if [ -z "${PYTHON:-}" ]; then
  bash scripts/bench-venv.sh >/dev/null
  PYTHON=${PRUNEDEF_BENCH_VENV:-$(pwd)/build/bench-venv}/bin/python
fi
python=$PYTHON
work=build/mpi_repair_bench
mkdir -p "$work"
valid=$work/valid_x$copies.h5
[ -f "$valid" ] || "$python" -c '
import sys, h5py, numpy as np
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
    g["data"] = np.concatenate([f["data"][...]] * n)
    g["label"] = np.concatenate([f["label"][...]] * n)' "$fm/valid.h5" "$valid" "$copies"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
unset OMP_NUM_THREADS
args=(repair --model "$fm/bd_weights.h5" --scale 1 --valid "$valid" --test "$fm/test.h5" --poisoned "$fm/bd_test.h5" --quiet)

seconds() {  # wall time of a command, in seconds
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
one=() two=() ranks=()
for r in $(seq "$rounds"); do
  rm -rf "$work/one" "$work/two" "$work/ranks"
  one+=("$(seconds "$tool" "${args[@]}" --threads 1 --out "$work/one")")
  two+=("$(seconds "$tool" "${args[@]}" --threads 2 --out "$work/two")")
  ranks+=("$(seconds mpirun --oversubscribe -n 2 "$tool" "${args[@]}" --threads 1 --out "$work/ranks")")
  for d in two ranks; do
    cmp -s "$work/one/sweep.csv" "$work/$d/sweep.csv" || { echo "mpi_repair.sh: the sweeps differ ($d)" >&2; exit 1; }
  done
  echo "round $r: 1 process x 1 thread ${one[-1]} s, 1 process x 2 threads ${two[-1]} s, 2 ranks x 1 thread ${ranks[-1]} s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
a=$(median "${one[@]}") b=$(median "${two[@]}") c=$(median "${ranks[@]}")
printf '| valid images | rounds | 1 x 1 thread (s) | 1 x 2 threads (s) | 2 ranks x 1 thread (s) | 2 ranks over 1 x 1 | 2 ranks over 1 x 2 threads |\n'
printf '|---:|---:|---:|---:|---:|---:|---:|\n'
printf '| %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f |\n' "$((5000 * copies))" "$rounds" "$a" "$b" "$c" \
  "$(echo "$a / $c" | bc -l)" "$(echo "$b / $c" | bc -l)"
