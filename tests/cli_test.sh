#!/usr/bin/env bash
# End-to-end tests of the prunedef tool on the real shared material.
# usage: cli_test.sh PRUNEDEF H5_IMAGE_TO_PNG SHARED_DIR WORK_DIR
# Exits 77 (skipped) when SHARED_DIR is absent.
set -uo pipefail
tool=$1 topng=$2 shared=${PRUNEDEF_SHARED:-$3} work=$4
# --version names the instruction sets the binary was built for (no shared data needed).
version=$("$tool" --version) || { echo "FAIL: --version exit code"; exit 1; }
grep -q "^built for: " <<<"$version" || { echo "FAIL: --version does not say what the binary was built for: $version"; exit 1; }
grep -q "^SIMD: " <<<"$version" || { echo "FAIL: --version does not name the SIMD set: $version"; exit 1; }
if [ ! -d "$shared/models/csaw" ] || [ ! -d "$shared/fmnist_badnet" ]; then
  echo "skipping: $shared (models/csaw, fmnist_badnet) is absent; set PRUNEDEF_SHARED"
  exit 77
fi
rm -rf "$work"; mkdir -p "$work"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_eq() { [ "$1" == "$2" ] || fail "$3: expected [$2], got [$1]"; }

models=$shared/models/csaw data=$shared/data/csaw fm=$shared/fmnist_badnet
s255=0.00392156862745098

# 1. eval reproduces the reference table of ../shared/README.md, in eval.py's format.
check_eval() {  # model scale poisoned expected_clean expected_asr
  local out
  if [ -n "$3" ]; then
    out=$("$tool" eval --model "$models/$1_bd_weights.h5" --scale "$2" --clean "$data/clean_samples.h5" --poisoned "$data/$3.h5")
  else
    out=$("$tool" eval --model "$models/$1_bd_weights.h5" --scale "$2" --clean "$data/clean_samples.h5")
  fi
  expect_eq "$(sed -n 1p <<<"$out")" "Clean Classification accuracy: $4" "eval $1 clean"
  [ -z "$3" ] || expect_eq "$(sed -n 2p <<<"$out")" "Attack Success Rate: $5" "eval $1 ASR"
}
check_eval lab3_sunglasses 1 lab3_sunglasses_samples 99.16666666666667 100.0
check_eval sunglasses $s255 sunglasses_samples 95.0 100.0
check_eval anonymous_1 $s255 anonymous_1_samples 96.66666666666667 92.0
check_eval anonymous_2 $s255 "" 95.0 ""
check_eval multi_trigger_multi_target $s255 eyebrows_samples 92.5 100.0
# 1b. --scale: "1/255" as the README writes it; without --scale (the files do not state it) the
# scale is chosen from the data and said on stderr after the results, never silently 1.
expect_eq "$("$tool" eval --model "$models/sunglasses_bd_weights.h5" --scale 1/255 --clean "$data/clean_samples.h5")" \
  "Clean Classification accuracy: 95.0" "eval --scale 1/255"
out=$("$tool" eval --model "$models/sunglasses_bd_weights.h5" --clean "$data/clean_samples.h5" 2>"$work/scale.err")
expect_eq "$out" "Clean Classification accuracy: 95.0" "eval without --scale (sunglasses: 1/255 chosen)"
grep -q "note: input scale 1/255 chosen from the data" "$work/scale.err" || fail "no note of the chosen scale: $(cat "$work/scale.err")"
grep -q "note: DeepID (CSAW architecture.py), assumed" "$work/scale.err" || fail "no note of the assumed architecture"
out=$("$tool" eval --model "$models/lab3_sunglasses_bd_weights.h5" --clean "$data/clean_samples.h5" 2>"$work/scale.err")
expect_eq "$out" "Clean Classification accuracy: 99.16666666666667" "eval without --scale (lab3: 1 chosen)"
grep -q "note: input scale 1 chosen from the data" "$work/scale.err" || fail "no note of the chosen scale 1"
err=$("$tool" eval --model "$models/lab3_sunglasses_bd_weights.h5" --scale 1/x --clean "$data/clean_samples.h5" 2>&1)
[ $? -eq 2 ] || fail "--scale 1/x: exit code is not 2"
grep -q "'1/x' is not a number or a fraction such as 1/255" <<<"$err" || fail "--scale 1/x: $err"

# 2. predict writes logits whose argmax gives the same accuracy (checked by h5dump shape).
"$tool" predict --model "$models/lab3_sunglasses_bd_weights.h5" --scale 1 --data "$data/clean_samples.h5" \
  --out "$work/logits.h5" || fail "predict exit code"
[ -f "$work/logits.h5" ] || fail "predict wrote no file"
if command -v h5dump >/dev/null; then
  h5dump -H "$work/logits.h5" | grep -q "( 120, 1283 )" || fail "predict: logits shape is not (120, 1283)"
fi

# 3. repair on the fmnist BadNet writes every file, with the reference thresholds 22/26/35.
"$tool" repair --model "$fm/bd_weights.h5" --scale 1 --valid "$fm/valid.h5" --test "$fm/test.h5" \
  --poisoned "$fm/bd_test.h5" --out "$work/repair" > "$work/repair.md" || fail "repair exit code"
for f in sweep.csv report.md report.json curve.svg roc.svg repaired_X2.h5 repaired_X4.h5 repaired_X10.h5 \
         goodnet_X2.h5 goodnet_X4.h5 goodnet_X10.h5; do
  [ -s "$work/repair/$f" ] || fail "repair did not write $f"
done
expect_eq "$(head -1 "$work/repair/sweep.csv")" \
  "k,channel,fraction_pruned,valid_acc,test_acc,asr,g_valid_acc,g_valid_fpr,g_test_acc,g_test_fpr,g_asr,g_detect" \
  "sweep.csv header"
grep -q '^- `bd_test`: ROC AUC 0\.[0-9]\{4\}$' "$work/repair/report.md" || fail "report.md: no ROC AUC for the BadNet"
grep -q '"roc.svg"' "$work/repair/report.json" || fail "report.json does not list roc.svg"
grep -q '<polyline' "$work/repair/roc.svg" || fail "roc.svg has no curve"
expect_eq "$(wc -l < "$work/repair/sweep.csv")" "66" "sweep.csv rows"
grep -q "| 2 pts | 22 of 64 |" "$work/repair/report.md" || fail "report.md: X=2 is not at 22 channels"
grep -q "| 4 pts | 26 of 64 |" "$work/repair/report.md" || fail "report.md: X=4 is not at 26 channels"
grep -q "| 10 pts | 35 of 64 |" "$work/repair/report.md" || fail "report.md: X=10 is not at 35 channels"
cmp -s "$work/repair.md" "$work/repair/report.md" || fail "repair's stdout differs from report.md"
ls -a "$work/repair" | grep -q '\.tmp' && fail "repair left temporary files"

# 3b. With no room for the validation features they are recomputed: the same sweep, and the report says so.
"$tool" repair --model "$fm/bd_weights.h5" --scale 1 --valid "$fm/valid.h5" --test "$fm/test.h5" \
  --poisoned "$fm/bd_test.h5" --feature-cache 0 --quiet --out "$work/repair_streamed" > /dev/null || fail "repair --feature-cache 0 exit code"
cmp -s "$work/repair/sweep.csv" "$work/repair_streamed/sweep.csv" || fail "repair --feature-cache 0 changed sweep.csv"
grep -q '"recomputed_images": 0$' "$work/repair/report.json" || fail "report.json does not say the features were cached"
grep -q '"cached_images": 0,' "$work/repair_streamed/report.json" || fail "report.json does not say the features were recomputed"
grep -q 'the other [0-9]* images were read and run through the trunk a second time' "$work/repair_streamed/report.md" ||
  fail "report.md does not say the features were recomputed"

# 4. The repaired network reloads with the curve's test accuracy; GoodNet evaluation.
out=$("$tool" eval --model "$work/repair/repaired_X4.h5" --clean "$fm/test.h5" --poisoned "$fm/bd_test.h5")
row=$(awk -F, '$1==26' "$work/repair/sweep.csv")
expect_eq "$(printf '%.3f' "$(sed -n 1p <<<"$out" | awk '{print $4}')")" "$(cut -d, -f5 <<<"$row")" "repaired_X4 test accuracy"
out=$("$tool" eval --goodnet "$work/repair/goodnet_X4.h5" --clean "$fm/test.h5" --poisoned "$fm/bd_test.h5")
grep -q "^Backdoor Detection Rate: " <<<"$out" || fail "eval --goodnet prints no detection rate"
gacc=$(sed -n 1p <<<"$out" | awk '{print $4}')
grep -q "$(printf '%.2f' "$gacc")" "$work/repair/report.md" || fail "eval --goodnet clean accuracy $gacc not in report.md"

# 4b. Several poisoned sets in one run: the multi-trigger network's eyebrows and sunglasses
# triggers, each reported separately, each with B's ASR at k = 0 equal to eval's.
"$tool" repair --model "$models/multi_trigger_multi_target_bd_weights.h5" --scale $s255 \
  --valid "$data/clean_samples.h5" --poisoned "eyebrows=$data/eyebrows_samples.h5" \
  --poisoned "sunglasses=$data/multi_sunglasses_samples.h5" --max-fpr 10 --out "$work/multi" > /dev/null \
  || fail "repair with two poisoned sets exit code"
expect_eq "$(head -1 "$work/multi/sweep.csv")" \
  "k,channel,fraction_pruned,valid_acc,test_acc,g_valid_acc,g_valid_fpr,asr_eyebrows,g_asr_eyebrows,g_detect_eyebrows,asr_sunglasses,g_asr_sunglasses,g_detect_sunglasses" \
  "sweep.csv header with two poisoned sets"
column_at_k0() {  # csv column-name
  awk -F, -v name="$2" 'NR==1 { for (i = 1; i <= NF; ++i) if ($i == name) c = i } NR==2 { print $c }' "$1"
}
for set in eyebrows:eyebrows_samples sunglasses:multi_sunglasses_samples; do
  name=${set%%:*} file=${set#*:}
  asr=$("$tool" eval --model "$models/multi_trigger_multi_target_bd_weights.h5" --scale $s255 \
    --clean "$data/clean_samples.h5" --poisoned "$data/$file.h5" | sed -n 2p | awk '{print $4}')
  expect_eq "$(column_at_k0 "$work/multi/sweep.csv" "asr_$name")" "$(printf '%.3f' "$asr")" "$name ASR at k=0 vs eval"
  expect_eq "$(column_at_k0 "$work/multi/sweep.csv" "g_detect_$name")" "0.000" "$name detection at k=0"
  grep -q "^- \`$name\`: ROC AUC 0\.[0-9]\{4\}; with false positives at most 10.00 %: k = " "$work/multi/report.md" \
    || fail "report.md: no ROC line with the max-fpr choice for $name"
done
grep -q "| G detection \`eyebrows\` (%) | G detection \`sunglasses\` (%) |" "$work/multi/report.md" \
  || fail "report.md: no per-set detection columns"
# a file given without a name is named by its stem
"$tool" repair --model "$models/multi_trigger_multi_target_bd_weights.h5" --scale $s255 --drops 4 \
  --valid "$data/clean_samples.h5" --poisoned "$data/eyebrows_samples.h5" --out "$work/stem" > /dev/null \
  || fail "repair with an unnamed poisoned set"
grep -q '"name": "eyebrows_samples"' "$work/stem/report.json" || fail "an unnamed poisoned set is not named by its stem"

# 4c. Warnings about the data: silent on every real case (the five CSAW networks with their own
# samples, the Fashion-MNIST BadNet of section 3), each sign fires on stderr, report.md and report.json.
no_warnings() {  # dir stderr-file what
  grep -q "warning:" "$2" && fail "$3: unexpected warning: $(grep warning: "$2")"
  grep -q '"warnings": \[\]' "$1/report.json" || fail "$3: report.json's warnings is not empty"
  grep -q "^## Warnings" "$1/report.md" && fail "$3: report.md has a Warnings section"
}
"$tool" repair --model "$fm/bd_weights.h5" --scale 1 --valid "$fm/valid.h5" --poisoned "$fm/bd_valid.h5" --drops 4 \
  --quiet --out "$work/w_fm" > /dev/null 2> "$work/w_fm.err" || fail "repair fmnist (warnings) exit code"
no_warnings "$work/w_fm" "$work/w_fm.err" "fmnist with bd_valid"
for case in lab3_sunglasses:1:lab3_sunglasses_samples sunglasses:$s255:sunglasses_samples \
            anonymous_1:$s255:anonymous_1_samples anonymous_2:$s255: \
            multi_trigger_multi_target:$s255:eyebrows_samples multi_trigger_multi_target:$s255:multi_sunglasses_samples; do
  IFS=: read -r net scale set <<<"$case"
  extra=(); [ -z "$set" ] || extra=(--poisoned "$data/$set.h5")
  "$tool" repair --model "$models/${net}_bd_weights.h5" --scale "$scale" --valid "$data/clean_samples.h5" --drops 4 \
    "${extra[@]}" --out "$work/w_$net$set" > /dev/null 2> "$work/w.err" || fail "repair $net (warnings) exit code"
  no_warnings "$work/w_$net$set" "$work/w.err" "$net with ${set:-no poisoned set}"
done
fires() {  # dir stderr-file warning-text what
  grep "^prunedef repair: warning: " "$2" | grep -qF "$3" || fail "$4: no warning [$3] on stderr: $(cat "$2")"
  grep "^- " "$1/report.md" | grep -qF "$3" || fail "$4: warning not in report.md"
  grep -qF "$3" "$1/report.json" || fail "$4: warning not in report.json"
}
multi=$models/multi_trigger_multi_target_bd_weights.h5
# a poisoned set passed as --valid, a clean one as --poisoned: swapped
"$tool" repair --model "$multi" --scale $s255 --valid "$data/eyebrows_samples.h5" --poisoned "clean=$data/clean_samples.h5" \
  --drops 4 --out "$work/w_swap" > /dev/null 2> "$work/w_swap.err" || fail "repair swapped exit code"
fires "$work/w_swap" "$work/w_swap.err" "every image of the validation set has label 5: a poisoned set passed as --valid" "swapped sets"
fires "$work/w_swap" "$work/w_swap.err" "poisoned set 'clean': its most common label" "swapped sets"
# the wrong input scale: implausibly low accuracy
"$tool" repair --model "$fm/bd_weights.h5" --scale 1/255 --valid "$fm/valid.h5" --drops 4 --quiet \
  --out "$work/w_scale" > /dev/null 2> "$work/w_scale.err" || fail "repair wrong scale exit code"
fires "$work/w_scale" "$work/w_scale.err" "implausibly low for 10 classes (chance 10.00 %, warned below 30.00 %)" "wrong scale"
# another trigger's images as the clean set: B's clean accuracy far below its attack success
"$tool" repair --model "$models/sunglasses_bd_weights.h5" --scale $s255 --valid "$data/multi_sunglasses_samples.h5" \
  --poisoned "$data/sunglasses_samples.h5" --drops 4 --out "$work/w_far" > /dev/null 2> "$work/w_far.err" \
  || fail "repair far-below exit code"
fires "$work/w_far" "$work/w_far.err" "is far below its attack success on poisoned set 'sunglasses_samples' (100.00 %)" "far below ASR"

# 4d. Fine-Pruning without --test: the figures after fine-tuning are on a held-out part of the
# validation set, and every report says so; with --test they stay on the test set.
lab3=$models/lab3_sunglasses_bd_weights.h5
"$tool" repair --model "$lab3" --scale 1 --valid "$data/clean_samples.h5" --poisoned "$data/lab3_sunglasses_samples.h5" \
  --drops 4 --fine-tune 1 --batch 32 --out "$work/fp" > "$work/fp.md" 2> /dev/null || fail "repair --fine-tune exit code"
grep -q "Clean figures before and after are on the 24 images held out of the validation set" "$work/fp.md" \
  || fail "stdout does not say the fine-pruning figures are on 24 held-out images"
grep -q "Each B' fine-tuned on the validation set less a held-out fraction 0.2 (96 images)" "$work/fp/report.md" \
  || fail "report.md does not say B' was fine-tuned on 96 images"
grep -q '"clean_set": "holdout"' "$work/fp/report.json" || fail "report.json: clean_set is not holdout"
grep -q '"holdout_images": 24' "$work/fp/report.json" || fail "report.json: holdout_images is not 24"
grep -q '"chosen_epoch": 1' "$work/fp/report.json" || fail "report.json: no chosen_epoch with a held-out part"
grep -q "B' after fine-tuning is the epoch whose B' classified the held-out images best: X=4 pts: epoch 1 of 1." \
  "$work/fp/report.md" || fail "report.md does not name the epoch kept"
"$tool" repair --model "$lab3" --scale 1 --valid "$data/clean_samples.h5" --drops 4 --fine-tune 1 --holdout 0.25 \
  --last-epoch --batch 32 --quiet --out "$work/fp25" > /dev/null || fail "repair --holdout 0.25 --last-epoch exit code"
grep -q '"holdout_images": 30' "$work/fp25/report.json" || fail "--holdout 0.25: holdout_images is not 30"
grep -q '"chosen_epoch": null' "$work/fp25/report.json" || fail "--last-epoch: report.json still names a chosen epoch"
"$tool" repair --model "$lab3" --scale 1 --valid "$data/clean_samples.h5" --test "$data/clean_samples.h5" --drops 4 \
  --fine-tune 1 --batch 32 --quiet --out "$work/fpt" > /dev/null || fail "repair --fine-tune --test exit code"
grep -q '"clean_set": "test"' "$work/fpt/report.json" || fail "with --test: clean_set is not test"
grep -q "Clean figures before and after are on the test set" "$work/fpt/report.md" || fail "with --test: report.md"

# 4e. --k writes B' at given channel counts; --name names B''s files.
"$tool" repair --model "$lab3" --scale 1 --valid "$data/clean_samples.h5" --drops 4 --k 10,20 --k 45 \
  --name 'pruned_{name}_{k}.h5' --quiet --out "$work/named" > /dev/null || fail "repair --k --name exit code"
for f in pruned_k10_10.h5 pruned_k20_20.h5 pruned_k45_45.h5 goodnet_k10.h5 goodnet_k45.h5 goodnet_X4.h5; do
  [ -s "$work/named/$f" ] || fail "--k/--name: $f not written"
done
ls "$work/named" | grep -q '^pruned_X4_[0-9]*\.h5$' || fail "--name: no pruned_X4_<k>.h5"
ls "$work/named" | grep -q '^repaired_' && fail "--name: repaired_* still written"
out=$("$tool" eval --model "$work/named/pruned_k45_45.h5" --scale 1 --clean "$data/clean_samples.h5")
expect_eq "$(printf '%.3f' "$(awk '{print $4}' <<<"$out")")" "$(awk -F, '$1==45 {print $4}' "$work/named/sweep.csv")" \
  "B' at k = 45 vs sweep.csv"
grep -q '"pruned_k45_45.h5"' "$work/named/report.json" || fail "report.json's files do not list pruned_k45_45.h5"

# 4f. Progress when stderr is not a terminal: a line every PRUNEDEF_PROGRESS_SECONDS (default 5);
# none with --quiet.
PRUNEDEF_PROGRESS_SECONDS=0 "$tool" repair --model "$lab3" --scale 1 --valid "$data/clean_samples.h5" --drops 4 \
  --out "$work/progress" > /dev/null 2> "$work/progress.err" || fail "repair (progress) exit code"
grep -q "^prunedef: validation: [0-9]*/120 images" "$work/progress.err" || fail "no progress lines: $(cat "$work/progress.err")"
PRUNEDEF_PROGRESS_SECONDS=0 "$tool" repair --model "$lab3" --scale 1 --valid "$data/clean_samples.h5" --drops 4 \
  --quiet --out "$work/quiet" > /dev/null 2> "$work/quiet.err" || fail "repair --quiet exit code"
grep -q "images" "$work/quiet.err" && fail "--quiet printed progress: $(cat "$work/quiet.err")"

# 4g. --clean-reference: the floor is the reference's rate of predicting the target on the
# poisoned set. With B itself as the reference it is B's ASR (sweep.csv at k = 0); with B' at
# k = 35 (repaired_X10.h5 of section 3) it is the sweep's ASR at k = 35. --order clp (--policy).
"$tool" repair --model "$fm/bd_weights.h5" --scale 1 --valid "$fm/valid.h5" --poisoned "$fm/bd_test.h5" --drops 4 \
  --clean-reference "$work/repair/repaired_X10.h5" --policy clp --quiet --out "$work/floor" > /dev/null \
  2> "$work/floor.err" || fail "repair --clean-reference exit code"
# (compared as counts of the 4470 poisoned images: sweep.csv rounds to 3 decimals)
images_of() { awk -v p="$1" 'BEGIN { printf "%d", p * 4470 / 100 + 0.5 }'; }
floor=$(grep -o '"clean_floor": [0-9.e+-]*' "$work/floor/report.json" | head -1 | awk '{print $2}')
expect_eq "$(images_of "$floor")" "$(images_of "$(awk -F, '$1==35 {print $6}' "$work/repair/sweep.csv")")" \
  "clean floor of B' (k = 35) vs the sweep's ASR at k = 35"
grep -q "^prunedef repair: bd_test: clean floor $(printf '%.2f' "$floor") % (the clean reference's rate of predicting the target); ASR of B " \
  "$work/floor.err" || fail "no clean floor line on stderr: $(cat "$work/floor.err")"
grep -q "(clean floor $(printf '%.2f' "$floor") %)" "$work/floor/report.md" || fail "report.md: no clean floor next to the ASR"
grep -q "^Clean floor of the ASR: $(printf '%.2f' "$floor") % (the share of the poisoned images" "$work/floor/report.md" \
  || fail "report.md: no clean floor under the table"
grep -q '"clean_reference": ".*repaired_X10.h5"' "$work/floor/report.json" || fail "report.json: no clean_reference"
grep -q '"policy": "clp"' "$work/floor/report.json" || fail "--policy clp: report.json's policy is not clp"
"$tool" repair --model "$fm/bd_weights.h5" --scale 1 --valid "$fm/valid.h5" --poisoned "$fm/bd_test.h5" --drops 4 \
  --clean-reference "$fm/bd_weights.h5" --order clp --quiet --out "$work/floor_b" > /dev/null 2>&1 \
  || fail "repair --clean-reference B exit code"
floor=$(grep -o '"clean_floor": [0-9.e+-]*' "$work/floor_b/report.json" | head -1 | awk '{print $2}')
expect_eq "$(images_of "$floor")" "$(images_of "$(awk -F, '$1==0 {print $6}' "$work/repair/sweep.csv")")" \
  "clean floor of B itself vs B's ASR"
cmp -s <(grep -A70 '"order"' "$work/floor/report.json" | head -66) <(grep -A70 '"order"' "$work/floor_b/report.json" | head -66) \
  || fail "--policy clp and --order clp give different orders"
grep -q '"clean_floor": null' "$work/repair/report.json" || fail "without --clean-reference, clean_floor is not null"
# 4g'. --policy anp: the learnt order is the same with 1 and 2 threads, the report names the
# policy, stderr counts the masks below the paper's threshold; --anp-eps alone is refused.
for t in 1 2; do
  "$tool" repair --model "$fm/bd_weights.h5" --scale 1 --valid "$fm/valid.h5" --drops 4 --policy anp \
    --anp-iterations 20 --threads $t --quiet --out "$work/anp$t" > /dev/null 2> "$work/anp$t.err" \
    || fail "repair --policy anp --threads $t exit code: $(cat "$work/anp$t.err")"
done
grep -q '"policy": "anp"' "$work/anp1/report.json" || fail "--policy anp: report.json's policy is not anp"
cmp -s <(grep -A70 '"order"' "$work/anp1/report.json" | head -66) <(grep -A70 '"order"' "$work/anp2/report.json" | head -66) \
  || fail "--policy anp: different orders with 1 and 2 threads"
grep -q "^prunedef repair: ANP: [0-9]* of 64 channels end with a mask below 0.2" "$work/anp1.err" \
  || fail "--policy anp: no mask line on stderr: $(cat "$work/anp1.err")"
"$tool" repair --model "$fm/bd_weights.h5" --scale 1 --valid "$fm/valid.h5" --drops 4 --anp-eps 0.2 \
  --quiet --out "$work/anp_refused" > /dev/null 2> "$work/anp_refused.err" && fail "--anp-eps without --policy anp accepted"
grep -q -- "--anp-eps: only with --policy anp" "$work/anp_refused.err" || fail "--anp-eps alone: $(cat "$work/anp_refused.err")"
# 4h. Fine-tuning with weight decay and augmentation: the reports name them.
"$tool" repair --model "$lab3" --scale 1 --valid "$data/clean_samples.h5" --drops 4 --fine-tune 1 --batch 32 \
  --weight-decay 0.001 --augment-shift 2 --augment-flip --augment-erase 0.5 --quiet --out "$work/fpaug" > /dev/null \
  || fail "repair --weight-decay --augment-shift --augment-flip --augment-erase exit code"
grep -q "decoupled weight decay 0.001, random shifts of up to 2 pixels, random horizontal flips, random erasing of probability 0.5, batches of 32, seed 1)" "$work/fpaug/report.md" \
  || fail "report.md does not name the weight decay and augmentation"
grep -q '"weight_decay": 0.001' "$work/fpaug/report.json" || fail "report.json: weight_decay"
grep -q '"augment_shift": 2' "$work/fpaug/report.json" || fail "report.json: augment_shift"
grep -q '"augment_flip": true' "$work/fpaug/report.json" || fail "report.json: augment_flip"
grep -q '"augment_erase": 0.5' "$work/fpaug/report.json" || fail "report.json: augment_erase"
grep -q '"augment_erase": 0\(\.0\)\?,\?$' "$work/fp/report.json" || fail "report.json: augment_erase is not 0 by default"
"$tool" repair --model "$lab3" --scale 1 --valid "$data/clean_samples.h5" --drops 4 --fine-tune 1 --augment-erase 1.5 \
  --quiet --out "$work/fperase_bad" > /dev/null 2> "$work/fperase_bad.err" && fail "--augment-erase 1.5 accepted"
grep -q -- "--augment-erase" "$work/fperase_bad.err" || fail "--augment-erase 1.5: $(cat "$work/fperase_bad.err")"
grep -q '"weight_decay": 0\(\.0\)\?,\?$' "$work/fp/report.json" || fail "report.json: weight_decay is not 0 by default"
# 4i. FT-SAM and agreement fine-tuning toward B run end to end (doctests check the steps).
"$tool" repair --model "$lab3" --scale 1 --valid "$data/clean_samples.h5" --drops 4 --fine-tune 1 --batch 32 \
  --sam 0.05 --sam-adaptive --distill 0.5,2 --quiet --out "$work/fpsam" > /dev/null || fail "repair --sam --distill exit code"
[ -s "$work/fpsam/report.json" ] || fail "repair --sam --distill wrote no report"
grep -q "adaptive sharpness-aware (ASAM) steps of radius 0.05, agreement with B (distillation weight 0.5, temperature 2), batches of 32, seed 1)" \
  "$work/fpsam/report.md" || fail "report.md does not name SAM, distillation, batch and seed"
grep -q '"sam_rho": 0.05' "$work/fpsam/report.json" || fail "report.json: sam_rho"
grep -q '"sam_adaptive": true' "$work/fpsam/report.json" || fail "report.json: sam_adaptive"
grep -q '"sam_adaptive": false' "$work/fp/report.json" || fail "report.json: sam_adaptive is not false by default"
grep -A2 '"distillation": {' "$work/fpsam/report.json" | grep -q '"temperature": 2' || fail "report.json: distillation"
grep -q '"distillation": null' "$work/fp/report.json" || fail "report.json: distillation is not null by default"

# 5. classify: a clean face gives a class in [0, 1283]; a wrong-size image is refused.
label=$("$topng" "$data/clean_samples.h5" 0 "$work/face.png") || fail "h5_image_to_png"
"$tool" repair --model "$models/lab3_sunglasses_bd_weights.h5" --scale 1 --valid "$data/clean_samples.h5" \
  --drops 4 --out "$work/lab3" > /dev/null || fail "repair lab3"
cls=$("$tool" classify --goodnet "$work/lab3/goodnet_X4.h5" "$work/face.png") || fail "classify exit code"
expect_eq "$cls" "$label" "classify of clean face 0"
"$topng" "$fm/valid.h5" 0 "$work/small.png" > /dev/null
err=$("$tool" classify --goodnet "$work/lab3/goodnet_X4.h5" "$work/small.png" 2>&1 >/dev/null); code=$?
expect_eq "$code" "1" "classify wrong size exit code"
expect_eq "$err" "prunedef classify: error: $work/small.png: image is 28x28 (height x width), the model expects 55x47" "classify wrong size"

# 6. Bad input: one line naming the file, non-zero exit, nothing left behind.
bad() {  # expected-message-substring command...
  local expect=$1; shift
  local err code
  err=$("$@" 2>&1 >/dev/null); code=$?
  [ "$code" -ne 0 ] || fail "no error exit for: $*"
  [ "$(wc -l <<<"$err")" -eq 1 ] || fail "error is not one line for: $* -> $err"
  grep -qF -- "$expect" <<<"$err" || fail "expected [$expect] in [$err]"
}
echo "not hdf5" > "$work/text.h5"
head -c 100000 "$models/lab3_sunglasses_bd_weights.h5" > "$work/truncated.h5"
bad "$work/missing.h5: no such file" "$tool" eval --model "$work/missing.h5" --clean "$data/clean_samples.h5"
bad "$work/text.h5: not an HDF5 file" "$tool" eval --model "$work/text.h5" --clean "$data/clean_samples.h5"
bad "$work/truncated.h5" "$tool" eval --model "$work/truncated.h5" --clean "$data/clean_samples.h5"
bad "/data: images have 1 channel(s), model $models/lab3_sunglasses_bd_weights.h5 (conv_1) expects 3" \
  "$tool" eval --model "$models/lab3_sunglasses_bd_weights.h5" --clean "$fm/valid.h5"
bad "unknown option --modle" "$tool" eval --modle x
bad "missing required option --out" "$tool" predict --model "$models/lab3_sunglasses_bd_weights.h5" --data "$data/clean_samples.h5"
bad "output path is also an input" "$tool" predict --model "$models/lab3_sunglasses_bd_weights.h5" \
  --data "$data/clean_samples.h5" --out "$data/clean_samples.h5"
bad "--poisoned: two sets are named 'eyebrows_samples'" "$tool" repair --model "$fm/bd_weights.h5" --valid "$fm/valid.h5" \
  --poisoned "$data/eyebrows_samples.h5" --poisoned "other/eyebrows_samples.h5" --out "$work/x"
bad "--valid" "$tool" repair --model "$fm/bd_weights.h5" --valid "$fm/valid.h5" --valid "$fm/test.h5" --out "$work/x"
bad "--max-fpr" "$tool" repair --model "$fm/bd_weights.h5" --valid "$fm/valid.h5" --max-fpr 101 --out "$work/x"
bad "--drops: each X must be in (0, 100]" "$tool" repair --model "$fm/bd_weights.h5" --valid "$fm/valid.h5" --drops 0 --out "$work/x"
bad "--name pruned.h5: two outputs would both be named 'pruned.h5'" "$tool" repair --model "$fm/bd_weights.h5" \
  --valid "$fm/valid.h5" --name pruned.h5 --out "$work/x"
bad "a name may not hold '/'" "$tool" repair --model "$fm/bd_weights.h5" --valid "$fm/valid.h5" --name '../p_{name}.h5' --out "$work/x"
bad "so the name must end in .h5" "$tool" repair --model "$fm/bd_weights.h5" --valid "$fm/valid.h5" --name 'p_{name}.keras' --out "$work/x"
bad "unknown placeholder at '{X}.h5'" "$tool" repair --model "$fm/bd_weights.h5" --valid "$fm/valid.h5" --name 'p_{X}.h5' --out "$work/x"
bad "--k 65: the pruned layer has 64 channels" "$tool" repair --model "$fm/bd_weights.h5" --valid "$fm/valid.h5" --k 3,65 --out "$work/x"
bad "--k: 3 is given twice" "$tool" repair --model "$fm/bd_weights.h5" --valid "$fm/valid.h5" --k 3 --k 3 --out "$work/x"
bad "cannot hold out 0.01 of a validation set of 14 images" "$tool" repair --model "$lab3" --scale 1 \
  --valid "$data/lab3_sunglasses_samples.h5" --fine-tune 1 --holdout 0.01 --out "$work/x"
bad "--clean-reference requires --poisoned" "$tool" repair --model "$fm/bd_weights.h5" --valid "$fm/valid.h5" \
  --clean-reference "$fm/bd_weights.h5" --out "$work/x"
bad "--weight-decay requires --fine-tune" "$tool" repair --model "$fm/bd_weights.h5" --valid "$fm/valid.h5" \
  --weight-decay 0.01 --out "$work/x"
bad "--sam requires --fine-tune" "$tool" repair --model "$fm/bd_weights.h5" --valid "$fm/valid.h5" \
  --sam 0.05 --out "$work/x"
bad "--sam-adaptive requires --sam" "$tool" repair --model "$fm/bd_weights.h5" --valid "$fm/valid.h5" \
  --fine-tune 1 --sam-adaptive --out "$work/x"
bad "adaptive SAM needs a radius > 0" "$tool" repair --model "$fm/bd_weights.h5" --valid "$fm/valid.h5" \
  --fine-tune 1 --sam 0 --sam-adaptive --out "$work/x"
bad "--distill 1.5,2: expected WEIGHT[,T]" "$tool" repair --model "$fm/bd_weights.h5" --valid "$fm/valid.h5" \
  --fine-tune 1 --distill 1.5,2 --out "$work/x"
bad "--distill 0.5,x: expected WEIGHT[,T]" "$tool" repair --model "$fm/bd_weights.h5" --valid "$fm/valid.h5" \
  --fine-tune 1 --distill 0.5,x --out "$work/x"
bad "expects 3" "$tool" repair --model "$fm/bd_weights.h5" --valid "$fm/valid.h5" --poisoned "$fm/bd_test.h5" \
  --clean-reference "$lab3" --out "$work/x"
[ -e "$work/x" ] && fail "a failed repair created $work/x"
bad "/data: images have 3 channel(s), the model expects 1" "$tool" repair --model "$fm/bd_weights.h5" \
  --valid "$fm/valid.h5" --test "$data/clean_samples.h5" --out "$work/late"
[ -e "$work/late" ] && fail "a repair that failed on its test set created $work/late"
"$tool" predict --model "$work/truncated.h5" --data "$data/clean_samples.h5" --out "$work/never.h5" 2>/dev/null
[ -e "$work/never.h5" ] && fail "a failed predict left its output file"
ls -a "$work" | grep -q '\.tmp' && fail "temporary files left behind"

"$tool" --help | grep -q "usage: prunedef <command>" || fail "--help"
# (the help is read whole first: grep -q exits at its first match, and a tool still writing then
# gets a SIGPIPE, which pipefail reports as a failure: a race that repair's longer help lost)
for c in eval predict repair classify make-badnet; do
  help=$("$tool" $c --help) || fail "$c --help exit code"
  grep -q "usage: prunedef $c" <<<"$help" || fail "$c --help"
done
# make-badnet: the pruning-aware attack's options need --pruning-aware (checked before any data is read)
for opt in "--defend-drop 6" "--prune-drop 4" "--decoy-bias -100" "--attacker-clean 5000"; do
  err=$("$tool" make-badnet --dataset fashion-mnist $opt --out "$work/never" 2>&1 >/dev/null)
  [ $? -eq 2 ] || fail "make-badnet $opt without --pruning-aware: exit code is not 2"
  grep -qF -- "${opt%% *} requires --pruning-aware" <<<"$err" || fail "make-badnet $opt without --pruning-aware: $err"
done
bad "--attacker-clean 2.5: expected a fraction below 1 or a whole count of images" "$tool" make-badnet \
  --dataset fashion-mnist --pruning-aware --attacker-clean 2.5 --out "$work/never"
[ -e "$work/never" ] && fail "a refused make-badnet created $work/never"

if [ "$failures" -ne 0 ]; then echo "$failures CLI check(s) failed"; exit 1; fi
echo "all CLI checks passed"
