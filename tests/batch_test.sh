#!/usr/bin/env bash
# 'prunedef batch' on the shared material: six models (the five CSAW networks on the shared
# samples, the Fashion-MNIST BadNet twice with other options) and a row whose model is missing.
# Each model's sweep.csv and B' files must be byte-identical to 'prunedef repair' run alone; the
# failing row is reported while the others complete; a second run skips every complete model and
# writes the same summary; malformed manifests are refused with FILE:LINE:COLUMN.
# WORK_DIR is the reference of the CTest mpi_batch (mpi_batch_test.sh): its manifests/models.csv,
# the model directories of out/ and summary1.csv/md (the first run's summary).
# usage: batch_test.sh PRUNEDEF SHARED_DIR WORK_DIR      Exits 77 (skipped) when SHARED_DIR is absent.
set -uo pipefail
tool=$1 shared=${PRUNEDEF_SHARED:-$2} work=$3
if [ ! -d "$shared/models/csaw" ] || [ ! -d "$shared/data/csaw" ] || [ ! -d "$shared/fmnist_badnet" ]; then
  echo "skipping: $shared (models/csaw, data/csaw, fmnist_badnet) is absent; set PRUNEDEF_SHARED"
  exit 77
fi
rm -rf "$work"; mkdir -p "$work/manifests"
work=$(cd "$work" && pwd)
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# The manifest names its files relative to its own directory (links to the shared folders).
ln -s "$shared/models/csaw" "$work/manifests/models"
ln -s "$shared/data/csaw" "$work/manifests/csaw"
ln -s "$shared/fmnist_badnet" "$work/manifests/fm"
m=$work/manifests
cat > "$m/models.csv" <<'EOF'
name,model,scale,valid,test,poisoned,options
lab3,models/lab3_sunglasses_bd_weights.h5,1,csaw/clean_samples.h5,,csaw/lab3_sunglasses_samples.h5,--drops 2
sunglasses,models/sunglasses_bd_weights.h5,1/255,csaw/clean_samples.h5,,csaw/sunglasses_samples.h5,--drops 2
anonymous_1,models/anonymous_1_bd_weights.h5,1/255,csaw/clean_samples.h5,,csaw/anonymous_1_samples.h5,
anonymous_2,models/anonymous_2_bd_weights.h5,1/255,csaw/clean_samples.h5,,,"--drops 4 --k 40"
missing,models/no_such_bd_weights.h5,1,csaw/clean_samples.h5,,,
multi,models/multi_trigger_multi_target_bd_weights.h5,1/255,csaw/clean_samples.h5,,eyebrows=csaw/eyebrows_samples.h5;csaw/multi_sunglasses_samples.h5,--drops 4
fmnist,fm/bd_weights.h5,1,fm/valid.h5,fm/test.h5,fm/bd_test.h5,--drops 4
fmnist_l1,fm/bd_weights.h5,1,fm/valid.h5,,fm/bd_valid.h5,"--order l1 --drops 2,10 --name 'pruned_{x}.h5'"
EOF

# 1. The batch: the missing model fails (exit 1), the others complete.
"$tool" batch --manifest "$m/models.csv" --out "$work/out" --threads 2 > "$work/batch1.out" 2> "$work/batch1.err"
code=$?
[ $code -eq 1 ] || fail "batch with a failing row: exit code $code, expected 1"
grep -q "missing: failed: .*no_such_bd_weights.h5" "$work/batch1.err" || fail "the failing row is not reported on stderr: $(cat "$work/batch1.err")"
grep -q "7 of 8 models complete, 1 failed" "$work/batch1.out" || fail "batch stdout: $(cat "$work/batch1.out")"
[ ! -e "$work/out/missing" ] || fail "a failed model left its directory"
ls -a "$work/out" | grep -q partial && fail "a .partial directory was left: $(ls -a "$work/out")"
[ -f "$work/out/summary.csv" ] && [ -f "$work/out/summary.md" ] || fail "no summary written"
grep -q '^missing,failed,.*no_such_bd_weights' "$work/out/summary.csv" || fail "summary.csv does not report the failure"
for name in lab3 sunglasses anonymous_1 anonymous_2 multi fmnist fmnist_l1; do
  grep -q "^$name,ok," "$work/out/summary.csv" || fail "summary.csv has no ok row for $name"
done
# one row per X and poisoned set: multi has two sets at one X, fmnist_l1 one set at two X
[ "$(grep -c '^multi,ok,' "$work/out/summary.csv")" -eq 2 ] || fail "multi: expected 2 summary rows (two poisoned sets)"
grep -q '^multi,ok,[^,]*,4,no,[0-9]*,valid,eyebrows,' "$work/out/summary.csv" || fail "multi: the set named eyebrows"
grep -q '^multi,ok,[^,]*,4,no,[0-9]*,valid,multi_sunglasses_samples,' "$work/out/summary.csv" || fail "multi: the set named by its stem"
[ "$(grep -c '^fmnist_l1,ok,' "$work/out/summary.csv")" -eq 2 ] || fail "fmnist_l1: expected 2 summary rows (X = 2, 10)"
grep -q '^fmnist,ok,[^,]*,4,no,[0-9]*,test,bd_test,' "$work/out/summary.csv" || fail "fmnist: clean accuracy on the test set"
grep -q '| lab3 | ok |' "$work/out/summary.md" || fail "summary.md has no row for lab3"
grep -q 'no_such_bd_weights' "$work/out/summary.md" || fail "summary.md does not report the failure"

# 2. Each model exactly as 'prunedef repair' alone (same arguments, paths as the batch resolves them).
alone() {  # name args...
  local name=$1; shift
  "$tool" repair "$@" --threads 2 --quiet --out "$work/alone/$name" > /dev/null 2>&1 || fail "repair alone $name: exit code"
  local f n=0
  for f in "$work/alone/$name"/*; do
    n=$((n + 1))
    cmp -s "$f" "$work/out/$name/$(basename "$f")" || fail "$name: $(basename "$f") differs from repair alone"
  done
  [ "$n" -gt 5 ] || fail "$name: repair alone wrote only $n files"
  [ "$(ls "$work/alone/$name" | sort)" == "$(ls "$work/out/$name" | sort)" ] || fail "$name: other files than repair alone"
  # the reports name the input files as given: only report.md/json may hold them, sweep.csv and B' are compared above
}
mdl=$m/models data=$m/csaw fm=$m/fm
alone lab3 --model "$mdl/lab3_sunglasses_bd_weights.h5" --scale 1 --valid "$data/clean_samples.h5" \
  --poisoned "$data/lab3_sunglasses_samples.h5" --drops 2
alone sunglasses --model "$mdl/sunglasses_bd_weights.h5" --scale 1/255 --valid "$data/clean_samples.h5" \
  --poisoned "$data/sunglasses_samples.h5" --drops 2
alone anonymous_1 --model "$mdl/anonymous_1_bd_weights.h5" --scale 1/255 --valid "$data/clean_samples.h5" \
  --poisoned "$data/anonymous_1_samples.h5"
alone anonymous_2 --model "$mdl/anonymous_2_bd_weights.h5" --scale 1/255 --valid "$data/clean_samples.h5" --drops 4 --k 40
alone multi --model "$mdl/multi_trigger_multi_target_bd_weights.h5" --scale 1/255 --valid "$data/clean_samples.h5" \
  --poisoned "eyebrows=$data/eyebrows_samples.h5" --poisoned "$data/multi_sunglasses_samples.h5" --drops 4
alone fmnist --model "$fm/bd_weights.h5" --scale 1 --valid "$fm/valid.h5" --test "$fm/test.h5" --poisoned "$fm/bd_test.h5" --drops 4
alone fmnist_l1 --model "$fm/bd_weights.h5" --scale 1 --valid "$fm/valid.h5" --poisoned "$fm/bd_valid.h5" \
  --order l1 --drops 2,10 --name 'pruned_{x}.h5'
[ -f "$work/out/fmnist_l1/pruned_10.h5" ] || fail "fmnist_l1: the options column's --name was not applied"
[ -f "$work/out/anonymous_2/repaired_k40.h5" ] || fail "anonymous_2: the options column's --k was not applied"

# 3. A second run skips every complete model (the missing one fails again) and writes the same
# summary: same figures and times, the status now skipped-complete.
cp "$work/out/summary.csv" "$work/summary1.csv"; cp "$work/out/summary.md" "$work/summary1.md"
stamp=$(stat -c %Y.%N "$work/out/fmnist/sweep.csv")
"$tool" batch --manifest "$m/models.csv" --out "$work/out" > "$work/batch2.out" 2> "$work/batch2.err"
code=$?
[ $code -eq 1 ] || fail "second batch: exit code $code, expected 1"
[ "$(grep -c ': skipped-complete' "$work/batch2.err")" -eq 7 ] || fail "second batch did not skip 7 models: $(cat "$work/batch2.err")"
[ "$(stat -c %Y.%N "$work/out/fmnist/sweep.csv")" == "$stamp" ] || fail "second batch rewrote a complete model"
diff <(sed 's/,ok,/,skipped-complete,/' "$work/summary1.csv") "$work/out/summary.csv" > "$work/summary.diff" ||
  fail "second summary.csv differs beyond the status: $(cat "$work/summary.diff")"
diff <(sed 's/| ok |/| skipped-complete |/' "$work/summary1.md") "$work/out/summary.md" > "$work/summary.diff" ||
  fail "second summary.md differs beyond the status: $(cat "$work/summary.diff")"
# a third run: identical to the second, byte for byte
cp "$work/out/summary.csv" "$work/summary2.csv"
"$tool" batch --manifest "$m/models.csv" --out "$work/out" --quiet > /dev/null 2>&1
cmp -s "$work/summary2.csv" "$work/out/summary.csv" || fail "third summary.csv differs from the second"

# 4. An interrupted run: a leftover .partial directory is removed and the model redone; a changed
# row is not silently skipped.
rm -rf "$work/out/lab3" && mkdir -p "$work/out/.lab3.partial" && touch "$work/out/.lab3.partial/sweep.csv"
"$tool" batch --manifest "$m/models.csv" --out "$work/out" --quiet > /dev/null 2> "$work/batch4.err"
[ -f "$work/out/lab3/report.json" ] && [ ! -e "$work/out/.lab3.partial" ] || fail "an interrupted model was not redone"
cmp -s "$work/alone/lab3/sweep.csv" "$work/out/lab3/sweep.csv" || fail "lab3 redone: sweep.csv differs"
sed 's/^lab3,\(.*\),--drops 2$/lab3,\1,--drops 4/' "$m/models.csv" > "$m/changed.csv"
grep -q '^lab3,.*--drops 4$' "$m/changed.csv" || fail "test setup: changed.csv"
"$tool" batch --manifest "$m/changed.csv" --out "$work/out" --quiet > /dev/null 2> "$work/batch5.err"
grep -q "lab3: failed: .*other settings" "$work/batch5.err" || fail "a changed row was not refused: $(cat "$work/batch5.err")"
grep -q '^lab3,failed,' "$work/out/summary.csv" || fail "a changed row is not failed in the summary"

# 4b. SIGTERM while a model is being repaired: no DIR/<name> is left (at most the hidden partial
# directory; a leftover one with files in it is tested in 4), and the next run completes it.
printf 'name,model,scale,valid,poisoned,options\nslow,fm/bd_weights.h5,1,fm/valid.h5,fm/bd_valid.h5,--drops 4 --fine-tune 2\n' \
  > "$m/slow.csv"
"$tool" batch --manifest "$m/slow.csv" --out "$work/slow" --quiet > /dev/null 2>&1 &
pid=$!
sleep 0.5  # in the sweep or fine-tuning: the partial directory is made only to write the outputs
kill -TERM $pid; wait $pid; code=$?
[ $code -eq 143 ] || fail "SIGTERM test: exit code $code, expected 143 (the batch ended before the signal?)"
[ ! -e "$work/slow/slow" ] || fail "SIGTERM test: a killed batch left $work/slow/slow"
[ -z "$(find "$work/slow" -name '.*.tmp*')" ] || fail "SIGTERM test: temporary files left: $(find "$work/slow" -name '.*.tmp*')"
"$tool" batch --manifest "$m/slow.csv" --out "$work/slow" --quiet > /dev/null 2>&1 || fail "SIGTERM test: the next run failed"
[ -f "$work/slow/slow/report.json" ] && [ ! -e "$work/slow/.slow.partial" ] || fail "SIGTERM test: the next run did not complete the model"

# 5. Malformed manifests: refused before any work, with FILE:LINE:COLUMN.
bad() {  # expected-message manifest-text
  printf '%b' "$2" > "$m/bad.csv"
  rm -rf "$work/bad_out"
  local err
  err=$("$tool" batch --manifest "$m/bad.csv" --out "$work/bad_out" 2>&1 >/dev/null)
  local c=$?
  [ $c -eq 2 ] || fail "bad manifest [$2]: exit code $c, expected 2"
  grep -qF -- "$1" <<<"$err" || fail "bad manifest [$2]: expected [$1], got [$err]"
  [ ! -e "$work/bad_out" ] || fail "bad manifest [$2]: the output directory was created"
}
row=",models/lab3_sunglasses_bd_weights.h5,1,csaw/clean_samples.h5"
bad "$m/bad.csv:3:11: a quote inside an unquoted field" "name,model,scale,valid\na$row\nb,models/x\"y.h5,1,v.h5\n"
bad "$m/bad.csv:2:8: the row has 3 fields, the header 4" "name,model,scale,valid\na,m.h5,1\n"
bad "$m/bad.csv:3:1: name 'a' is given twice" "name,model,scale,valid\na$row\na$row\n"
bad "$m/bad.csv:2:1: name 'x/y'" "name,model,scale,valid\nx/y$row\n"
bad "$m/bad.csv:1:12: unknown column 'scal'" "name,model,scal,valid\na$row\n"
bad "$m/bad.csv:2:64: model 'a': " "name,model,scale,valid,options\na$row,--drops 2 --no-such-option\n"
bad "$m/bad.csv:2:64: options: --out is set by" "name,model,scale,valid,options\na$row,--out x\n"
bad "$m/bad.csv:2:64: a quoted field is not closed" "name,model,scale,valid,options\na$row,\"--drops 2\n"
bad "$m/bad.csv:2:1: an empty line" "name,model,scale,valid\n\na$row\n"
bad "$m/bad.csv:2:42: the 'valid' column is empty" "name,model,scale,valid\na,models/lab3_sunglasses_bd_weights.h5,1,\n"

if [ $failures -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "batch: all checks passed"
