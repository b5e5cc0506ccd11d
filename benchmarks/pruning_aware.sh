#!/usr/bin/env bash
# Does the pruning-aware BadNet survive pruning alone, and does Fine-Pruning still remove it?
# For each seed: `prunedef make-badnet --dataset fashion-mnist --pruning-aware --seed S` (default
# epochs and attack options, plus EXTRA make-badnet options if given), then `prunedef repair
# --fine-tune 10` on its validation set (defaults otherwise: X = 2, 4, 10); prints one markdown
# row per seed from make-badnet's output and repair's report.json: B's clean test accuracy and
# ASR, and at each X the channels pruned, B''s ASR after pruning alone, and after fine-tuning
# B''s clean test accuracy and G's ASR. G's ASR: the poisoned images G classifies as the target.
# usage: benchmarks/pruning_aware.sh PRUNEDEF WORK_DIR [SEEDS (default "1 2 3 4 5") [EXTRA...]]
# REPAIR_OPTIONS (environment): more repair options, e.g. REPAIR_OPTIONS="--policy anp"; a
# BadNet already made in WORK_DIR with the same seed and options is reused (REUSE=1).
# Needs: dataset-fashion-mnist (Debian), python3.
set -euo pipefail
tool=$1 work=$2 seeds=${3:-1 2 3 4 5}
shift $(($# < 3 ? $# : 3))
mkdir -p "$work"
echo "| seed | decoys | B clean / ASR (%) | X=2: k; B' / G ASR pruned -> G ASR fine-tuned (B' clean fine-tuned) | X=4: the same | X=10: the same | s |"
echo "|---|---:|---|---|---|---|---:|"
for s in $seeds; do
  d=$work/pa$s
  start=$(date +%s)
  if [ "${REUSE:-0}" != 1 ] || [ ! -s "$d/bd_weights.h5" ]; then
    rm -rf "$d"
    "$tool" make-badnet --dataset fashion-mnist --pruning-aware --seed "$s" "$@" --out "$d" >"$d.out" 2>"$d.err"
  fi
  rm -rf "$d.repair"
  # shellcheck disable=SC2086  # REPAIR_OPTIONS is a list of options
  "$tool" repair --model "$d/bd_weights.h5" --scale 1 --valid "$d/valid.h5" --test "$d/test.h5" \
    --poisoned "$d/bd_test.h5" --fine-tune 10 ${REPAIR_OPTIONS:-} --quiet --out "$d.repair" >"$d.repair.out" 2>"$d.repair.err"
  seconds=$(($(date +%s) - start))
  python3 - "$d" "$s" "$seconds" <<'EOF'
import json, re, sys
d, seed, seconds = sys.argv[1], sys.argv[2], sys.argv[3]
out = open(d + ".out").read()
clean = float(re.search(r"Clean test accuracy: (\S+)", out).group(1))
asr = float(re.search(r"Attack Success Rate: (\S+)", out).group(1))
decoys = re.search(r"(\d+) decoy channels", open(d + ".err").read()).group(1)
r = json.load(open(d + ".repair/report.json"))
cells = []
for t in r["thresholds"]:
    f = t["fine_tuned"]
    g, gf = t["goodnet_poisoned"], f["goodnet_poisoned"]
    cells.append("%d; %.2f / %.2f -> %.2f (%.2f)" % (t["k"], t["repaired_attack_success"], 100.0 * g["matched"] / g["images"],
                                                    100.0 * gf["matched"] / gf["images"], f["test_accuracy"]))
print("| %s | %s | %.2f / %.2f | %s | %s |" % (seed, decoys, clean, asr, " | ".join(cells), seconds))
EOF
done
