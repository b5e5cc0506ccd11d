#!/usr/bin/env bash
# The data-parallel repair under MPI (issue 17): mpirun -n 1, 2 and 4 (--oversubscribe: one
# machine, several processes) on the shared Fashion-MNIST BadNet. sweep.csv, the B' and GoodNet
# files are byte-identical across rank counts and to the tool without mpirun (one process, no
# MPI); report.json states the ranks. A rank that fails (rank 1 given a missing validation file,
# or one of another size) ends every rank non-zero with the message, and no output is left.
# usage: mpi_test.sh PRUNEDEF MPIEXEC SHARED_DIR WORK_DIR
# Skipped (77) only when SHARED_DIR/fmnist_badnet is absent; a tool without MPI or a missing
# mpirun fails.
set -uo pipefail
tool=$1 mpiexec=$2 shared=${PRUNEDEF_SHARED:-$3} work=$4
fm=$shared/fmnist_badnet
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
"$tool" --version | grep -q '^MPI: yes' || { echo "FAIL: $tool was not built with MPI:"; "$tool" --version; exit 1; }
command -v "$mpiexec" > /dev/null || { echo "FAIL: no MPI launcher '$mpiexec'"; exit 1; }
if [ ! -f "$fm/bd_weights.h5" ] || [ ! -f "$fm/valid.h5" ]; then
  echo "skipping: $fm is absent; set PRUNEDEF_SHARED"
  exit 77
fi
rm -rf "$work"; mkdir -p "$work"
# Open MPI refuses root unless told (containers, CI)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# one thread per rank: the processes share this machine's cores
mpirun=("$mpiexec" --oversubscribe)
args=(repair --model "$fm/bd_weights.h5" --scale 1 --test "$fm/test.h5" --poisoned "$fm/bd_test.h5" --k 5,40
      --threads 1 --feature-cache 2)
outputs="sweep.csv repaired_X2.h5 repaired_X4.h5 repaired_X10.h5 repaired_k5.h5 repaired_k40.h5
         goodnet_X2.h5 goodnet_X4.h5 goodnet_X10.h5 goodnet_k5.h5 goodnet_k40.h5"

# 1. one process, without mpirun: the reference
"$tool" "${args[@]}" --valid "$fm/valid.h5" --out "$work/plain" > "$work/plain.md" 2> "$work/plain.err" ||
  { cat "$work/plain.err"; fail "repair without mpirun"; }
grep -q '"ranks": 1' "$work/plain/report.json" || fail "report.json without mpirun does not say 1 rank"
for f in $outputs; do [ -s "$work/plain/$f" ] || fail "repair without mpirun did not write $f"; done

# 2. 1, 2 and 4 ranks: the same bytes
for n in 1 2 4; do
  out=$work/ranks$n
  "${mpirun[@]}" -n $n "$tool" "${args[@]}" --valid "$fm/valid.h5" --out "$out" > "$out.md" 2> "$out.err" ||
    { cat "$out.err"; fail "mpirun -n $n repair exit code"; continue; }
  for f in $outputs; do
    cmp -s "$work/plain/$f" "$out/$f" || fail "mpirun -n $n: $f differs from the run without mpirun"
  done
  grep -q "\"ranks\": $n" "$out/report.json" || fail "mpirun -n $n: report.json does not say $n ranks"
  if [ $n -gt 1 ]; then
    grep -q "^- Ranks: $n processes" "$out/report.md" || fail "mpirun -n $n: report.md does not state the ranks"
    grep -q "$n ranks" "$out.err" || fail "mpirun -n $n: the progress output does not state the ranks"
  fi
  # one report on stdout (rank 0 only)
  [ "$(grep -c '^# ' "$out.md")" = "$(grep -c '^# ' "$work/plain.md")" ] || fail "mpirun -n $n: stdout has more than rank 0's report"
done

# 3. a rank that fails: every rank exits non-zero with the message, nothing is written.
#    (MPMD: rank 1 is given another validation file than rank 0)
expect_failure() {  # NAME MESSAGE VALID_OF_RANK_1
  local name=$1 message=$2 other=$3 out=$work/$1
  "${mpirun[@]}" --tag-output -n 1 "$tool" "${args[@]}" --valid "$fm/valid.h5" --out "$out" : \
                 -n 1 "$tool" "${args[@]}" --valid "$other" --out "$out" > "$work/$name.log" 2>&1
  local rc=$?
  [ $rc -ne 0 ] || fail "$name: mpirun exit code 0"
  # mpirun tags every write of a rank ([1,R]<stderr>:), even inside a line, and once one rank has
  # exited with the error it may end the others before they print theirs: the message is
  # required once, with the tags removed.
  sed 's/\[1,[0-9]*\]<stderr>://g' "$work/$name.log" | grep -qF -- "$message" ||
    fail "$name: no rank gives the message '$message'"
  grep -q "exited on signal\|Segmentation\|Abort" "$work/$name.log" && fail "$name: a rank crashed"
  [ ! -e "$out" ] || fail "$name: $out was left behind: $(ls -A "$out")"
  cat "$work/$name.log" | head -20
}
expect_failure missing_file "$work/missing.h5" "$work/missing.h5"
expect_failure other_size "rank 1's data set 1 has 4530 images, rank 0's 5000" "$fm/bd_valid.h5"

[ $failures -eq 0 ] && echo "mpi: all checks passed"
exit $((failures > 0))
