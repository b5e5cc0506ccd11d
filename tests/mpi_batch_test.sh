#!/usr/bin/env bash
# 'prunedef batch' under MPI (issue 17): the 8-row manifest of the 'batch' test (six CSAW and
# Fashion-MNIST models, a second Fashion-MNIST row, a row whose model is missing) on 2 and 3 ranks
# (--oversubscribe: one machine), models handed to ranks as they finish. Against that test's
# single-process batch (BATCH_WORK, a CTest fixture): every model directory byte-identical, the
# summary equal apart from the time column (and summary.md's line that states the ranks), the
# failing row reported and the exit code 1; every rank repairs models (rank 0 too); a second run
# skips every model; a rank that fails outside a model ends every rank non-zero with its message.
# usage: mpi_batch_test.sh PRUNEDEF MPIEXEC BATCH_WORK WORK_DIR
# Skipped (77) when BATCH_WORK has no completed batch (the 'batch' test skipped: no shared data).
set -uo pipefail
tool=$1 mpiexec=$2 ref=$3 work=$4
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
"$tool" --version | grep -q '^MPI: yes' || { echo "FAIL: $tool was not built with MPI:"; "$tool" --version; exit 1; }
command -v "$mpiexec" > /dev/null || { echo "FAIL: no MPI launcher '$mpiexec'"; exit 1; }
# The batch test's first run: its model directories are unchanged by its later steps (lab3 is
# redone identically), summary1.csv/md are copies of its first summary.
manifest=$ref/manifests/models.csv
if [ ! -f "$manifest" ] || [ ! -f "$ref/summary1.csv" ] || [ ! -f "$ref/out/fmnist/report.json" ]; then
  echo "skipping: $ref holds no batch (the 'batch' test was skipped or not run)"
  exit 77
fi
rm -rf "$work"; mkdir -p "$work"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
models="lab3 sunglasses anonymous_1 anonymous_2 multi fmnist fmnist_l1"
# the summaries without the time column (the third) and without the line stating the ranks
no_time_csv() { sed -E 's/^([^,]*,[^,]*,)[^,]*,/\1,/' "$1"; }
no_time_md() { sed -E -e '/^Run on [0-9]+ MPI ranks/{N;d;}' -e 's/^(\| [^|]* \| [^|]* \| )[^|]*\|/\1|/' "$1"; }

for n in 2 3; do
  out=$work/ranks$n
  "$mpiexec" --oversubscribe -n $n "$tool" batch --manifest "$manifest" --out "$out" --threads 1 > "$out.out" 2> "$out.err"
  code=$?
  [ $code -eq 1 ] || fail "-n $n: exit code $code, expected 1 (a row fails): $(tail -5 "$out.err")"
  grep -q "7 of 8 models complete, 1 failed" "$out.out" || fail "-n $n: stdout: $(cat "$out.out")"
  [ "$(grep -c 'models complete' "$out.out")" -eq 1 ] || fail "-n $n: more than rank 0 printed the result: $(cat "$out.out")"
  grep -q "^prunedef batch: 8 models on $n ranks" "$out.err" || fail "-n $n: the progress output does not state the ranks"
  grep -q "^prunedef batch: rank [0-9]: \[5/8\] missing: failed: .*no_such_bd_weights.h5" "$out.err" ||
    fail "-n $n: the failing row is not reported on stderr: $(cat "$out.err")"
  for ((r = 0; r < n; r++)); do
    grep -q "^prunedef batch: rank $r: \[[0-9]/8\] " "$out.err" || fail "-n $n: rank $r repaired no model: $(cat "$out.err")"
  done
  for name in $models; do
    diff -r "$ref/out/$name" "$out/$name" > "$work/dir.diff" 2>&1 ||
      fail "-n $n: $name differs from the single-process batch: $(head -5 "$work/dir.diff")"
  done
  [ ! -e "$out/missing" ] || fail "-n $n: the failed model left its directory"
  ls -a "$out" | grep -q partial && fail "-n $n: a .partial directory was left: $(ls -a "$out")"
  diff <(no_time_csv "$ref/summary1.csv") <(no_time_csv "$out/summary.csv") > "$work/summary.diff" ||
    fail "-n $n: summary.csv differs beyond the times: $(cat "$work/summary.diff")"
  diff <(no_time_md "$ref/summary1.md") <(no_time_md "$out/summary.md") > "$work/summary.diff" ||
    fail "-n $n: summary.md differs beyond the times and the ranks: $(cat "$work/summary.diff")"
  grep -q "^Run on $n MPI ranks" "$out/summary.md" || fail "-n $n: summary.md does not state the ranks"
  grep -q '^missing,failed,.*no_such_bd_weights' "$out/summary.csv" || fail "-n $n: summary.csv does not report the failure"
done

# A second run on 3 ranks: every complete model skipped (each by the rank that takes it), the
# summary the same with the times read back, the status skipped-complete.
cp "$work/ranks3/summary.csv" "$work/first3.csv"
"$mpiexec" --oversubscribe -n 3 "$tool" batch --manifest "$manifest" --out "$work/ranks3" --threads 1 \
  > "$work/again.out" 2> "$work/again.err"
code=$?
[ $code -eq 1 ] || fail "second run: exit code $code, expected 1"
[ "$(grep -c ': skipped-complete$' "$work/again.err")" -eq 7 ] || fail "second run did not skip 7 models: $(cat "$work/again.err")"
diff <(sed 's/,ok,/,skipped-complete,/' "$work/first3.csv") "$work/ranks3/summary.csv" > "$work/summary.diff" ||
  fail "second run: summary.csv differs beyond the status: $(cat "$work/summary.diff")"

# A rank that fails outside a model (MPMD: rank 1 asks for more threads than its machine allows,
# refused when it checks its options): every rank ends non-zero, the message is given (mpirun may
# end rank 0 before it prints its own copy: required once, mpirun's tags removed), no model is run.
"$mpiexec" --oversubscribe --tag-output -n 1 "$tool" batch --manifest "$manifest" --out "$work/fails" --threads 1 : \
  -n 1 "$tool" batch --manifest "$manifest" --out "$work/fails" --threads 65536 > "$work/fails.log" 2>&1
code=$?
[ $code -ne 0 ] || fail "rank failure: mpirun exit code 0"
sed 's/\[1,[0-9]*\]<std[a-z]*>://g' "$work/fails.log" | grep -q -- "--threads 65536: more than 4 x" ||
  fail "rank failure: no rank gives the message: $(cat "$work/fails.log")"
grep -q "exited on signal\|Segmentation\|Abort" "$work/fails.log" && fail "rank failure: a rank crashed: $(cat "$work/fails.log")"
[ -z "$(ls "$work/fails" 2> /dev/null)" ] || fail "rank failure: models were run: $(ls "$work/fails")"

if [ $failures -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "mpi_batch: all checks passed"
