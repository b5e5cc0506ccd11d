#!/usr/bin/env bash
# Runs the malformed-input corpus of make_bad_inputs through the prunedef tool. For every case:
# a non-zero exit, exactly one line on stderr naming the file and the problem, no crash or
# sanitizer report, and no file left in the output directory (repair may leave its output
# directory itself, empty). Needs nothing from ../shared.
# usage: bad_input_test.sh PRUNEDEF MAKE_BAD_INPUTS WORK_DIR
set -uo pipefail
tool=$1 make_bad=$2 work=$3
rm -rf "$work"; mkdir -p "$work"
"$make_bad" "$work/corpus" > "$work/cases.tsv" || { echo "FAIL: make_bad_inputs"; exit 1; }
good=$work/corpus/good out=$work/out
failures=0 cases=0 runs=0 passed=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# The valid files work: otherwise every case below would fail for the wrong reason.
"$tool" eval --model "$good/model.h5" --clean "$good/data.h5" > /dev/null || fail "eval of the good model and data"
"$tool" classify --goodnet "$good/goodnet.h5" "$good/face.png" > /dev/null || fail "classify of the good image"

# expect FILE EXPECTED COMMAND...: the command fails with one stderr line naming FILE and EXPECTED.
expect() {
  local file=$1 expected=$2; shift 2
  local err code before=$failures
  rm -rf "$out"; mkdir -p "$out"
  runs=$((runs + 1))
  # a hang (a FIFO opened, a bomb decoded) fails the case instead of the whole test
  err=$(timeout 120 "$@" 2>&1 >/dev/null); code=$?
  local what="[$(basename -- "$file")] $*"
  if [ "$code" -eq 0 ]; then fail "exit 0 for $what"; return; fi
  if [ "$code" -ge 128 ] || grep -qE 'Sanitizer|runtime error|terminate called|Segmentation|Aborted' <<<"$err"; then
    fail "crash (exit $code) for $what: $err"; return
  fi
  if [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] || [ -z "$err" ]; then fail "stderr is not one line for $what: $err"; fi
  grep -qF -- "$file" <<<"$err" || fail "the message does not name $file: $err"
  grep -qF -- "$expected" <<<"$err" || fail "expected [$expected] for $what, got: $err"
  # repair may have created its (empty) output directory; no file may be left anywhere below.
  local left; left=$(find "$out" -mindepth 1 ! -type d)
  if [ -n "$left" ]; then fail "left files behind for $what: $(tr '\n' ' ' <<<"$left")"; fi
  [ "$failures" -ne "$before" ] || passed=$((passed + 1))
}

while IFS=$'\t' read -r kind file expected; do
  cases=$((cases + 1))
  case $kind in
    model)
      expect "$file" "$expected" "$tool" predict --model "$file" --data "$good/data.h5" --out "$out/logits.h5"
      expect "$file" "$expected" "$tool" repair --model "$file" --valid "$good/data.h5" --out "$out/repair" ;;
    data)
      expect "$file" "$expected" "$tool" predict --model "$good/model.h5" --data "$file" --out "$out/logits.h5"
      expect "$file" "$expected" "$tool" repair --model "$good/model.h5" --valid "$file" --out "$out/repair"
      expect "$file" "$expected" "$tool" eval --model "$good/model.h5" --clean "$file" ;;
    labels)  # only commands that know the model's classes check the range
      expect "$file" "$expected" "$tool" eval --model "$good/model.h5" --clean "$file"
      expect "$file" "$expected" "$tool" repair --model "$good/model.h5" --valid "$file" --out "$out/repair" ;;
    poisoned)
      expect "$file" "$expected" "$tool" eval --model "$good/model.h5" --clean "$good/data.h5" --poisoned "$file"
      expect "$file" "$expected" "$tool" repair --model "$good/model.h5" --valid "$good/data.h5" \
        --test "$good/data.h5" --poisoned "$file" --out "$out/repair" ;;
    model_eval)  # eval only: predict writes logits as computed (see its own checks)
      expect "$file" "$expected" "$tool" eval --model "$file" --clean "$good/data.h5" ;;
    goodnet_data)
      expect "$file" "$expected" "$tool" eval --goodnet "$good/goodnet.h5" --clean "$file" ;;
    image)
      expect "$file" "$expected" "$tool" classify --goodnet "$good/goodnet.h5" "$file" ;;
    goodnet)
      expect "$file" "$expected" "$tool" eval --goodnet "$file" --clean "$good/data.h5"
      expect "$file" "$expected" "$tool" classify --goodnet "$file" "$good/face.png" ;;
    *) fail "unknown case kind $kind" ;;
  esac
done < "$work/cases.tsv"

# An output path equal to an input is refused, and the input is left as it was.
cp "$good/data.h5" "$work/keep.h5"
cases=$((cases + 1))
expect "$good/data.h5" "output path is also an input" \
  "$tool" predict --model "$good/model.h5" --data "$good/data.h5" --out "$good/data.h5"
cmp -s "$work/keep.h5" "$good/data.h5" || fail "predict changed its input"
cases=$((cases + 1))
expect "$work/corpus/good/../good/model.h5" "output path is also an input" \
  "$tool" predict --model "$good/model.h5" --data "$good/data.h5" --out "$work/corpus/good/../good/model.h5"

# Options checked against the machine and the data before anything is allocated.
cases=$((cases + 1))
expect "--batch" "MiB allowed here; give a smaller --batch" \
  "$tool" eval --model "$good/model.h5" --clean "$work/corpus/data_huge_images.h5" --batch 65536
cases=$((cases + 1))
expect "--threads" "hardware threads of this machine" \
  "$tool" eval --model "$good/model.h5" --clean "$good/data.h5" --threads 60000
cases=$((cases + 1))
expect "--threads" "2147483647" \
  "$tool" eval --model "$good/model.h5" --clean "$good/data.h5" --threads 2147483647
cases=$((cases + 1))
expect "--out" "empty path" "$tool" predict --model "$good/model.h5" --data "$good/data.h5" --out ""
cases=$((cases + 1))
expect "--out" "empty path" "$tool" repair --model "$good/model.h5" --valid "$good/data.h5" --out ""
# a batch larger than the data set is the whole data set, not an allocation of 65536 images
"$tool" eval --model "$good/model.h5" --clean "$good/data.h5" --batch 65536 > /dev/null \
  || fail "eval with --batch 65536 on 4 images"

# Standard output that cannot be written is an error; a failing eval prints nothing on stdout.
# stdout_fails HOW ERR CODE: the command exited non-zero with the message on stderr.
stdout_fails() {
  runs=$((runs + 1)); cases=$((cases + 1))
  if [ "$3" -eq 0 ] || [ "$3" -ge 128 ] || ! grep -qF "standard output: write failed" <<<"$2"; then
    fail "eval with $1 stdout: exit $3, stderr: $2"
  else passed=$((passed + 1)); fi
}
if [ -w /dev/full ]; then
  err=$("$tool" eval --model "$good/model.h5" --clean "$good/data.h5" 2>&1 >/dev/full); stdout_fails full "$err" $?
fi
err=$("$tool" eval --model "$good/model.h5" --clean "$good/data.h5" 2>&1 >&-); stdout_fails closed "$err" $?
runs=$((runs + 1)); cases=$((cases + 1))
text=$("$tool" eval --model "$good/model.h5" --clean "$good/data.h5" \
  --poisoned "$work/corpus/bad/poisoned_label_out_of_range.h5" 2>/dev/null)
if [ -n "$text" ]; then fail "a failing eval printed: $text"; else passed=$((passed + 1)); fi
if [ "$cases" -lt 30 ]; then fail "only $cases cases"; fi
echo "$cases bad-input cases, $runs runs"
echo "bad_inputs: $passed passed, $((runs - passed)) failed"
[ "$failures" -eq 0 ]
