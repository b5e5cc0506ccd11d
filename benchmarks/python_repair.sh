#!/usr/bin/env bash
# The Python module's repair against the tool's, on the shared Fashion-MNIST BadNet (validation,
# test and poisoned sets, every output file written), alternated in one run; medians.
#   bash benchmarks/python_repair.sh [ROUNDS]      (default 5)
# Uses the build of README's commands (build/, scripts/build.sh) and the venv of
# scripts/python-venv.sh (build/python-venv, the module pip-installed from this checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
shared=${PRUNEDEF_SHARED:-$(pwd)/../shared}
fm=$shared/fmnist_badnet
[ -f "$fm/bd_weights.h5" ] || { echo "python_repair.sh: $fm/bd_weights.h5 is absent" >&2; exit 1; }
[ -x build/tools/prunedef/prunedef ] || bash scripts/build.sh
python=$(bash scripts/python-venv.sh | tail -1)
tool=build/tools/prunedef/prunedef
work=build/python_repair_bench
rm -rf "$work"; mkdir -p "$work"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

seconds() {  # wall time of a command, in seconds
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
tool_times=() py_times=()
for r in $(seq "$rounds"); do
  rm -rf "$work/tool" "$work/py"
  tool_times+=("$(seconds "$tool" repair --model "$fm/bd_weights.h5" --scale 1 --valid "$fm/valid.h5" --test "$fm/test.h5" \
                    --poisoned "$fm/bd_test.h5" --quiet --out "$work/tool")")
  py_times+=("$(seconds "$python" -c '
import sys, prunedef
fm, out = sys.argv[1], sys.argv[2]
r = prunedef.repair(fm + "/bd_weights.h5", scale=1, valid=fm + "/valid.h5", test=fm + "/test.h5",
                    poisoned=fm + "/bd_test.h5")
r.write(out)' "$fm" "$work/py")")
  cmp -s "$work/tool/sweep.csv" "$work/py/sweep.csv" || { echo "python_repair.sh: the sweeps differ" >&2; exit 1; }
  echo "round $r: tool ${tool_times[-1]} s, Python ${py_times[-1]} s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
t=$(median "${tool_times[@]}") p=$(median "${py_times[@]}")
printf '| rounds | tool repair (s) | Python repair + write (s) | Python / tool |\n|---:|---:|---:|---:|\n'
printf '| %d | %.2f | %.2f | %.2f |\n' "$rounds" "$t" "$p" "$(echo "$p / $t" | bc -l)"
