#!/usr/bin/env bash
# Sets up a Debian machine, builds prunedef, and runs the defense end to end on a built-in
# default: it trains a BadNet on Fashion-MNIST (Debian's dataset-fashion-mnist; a 4x4 white
# square in the corner turns any image into class 0), then repairs it with pruning and
# Fine-Pruning and prints the report. Everything lands in out/demo/.
#
#   bash scripts/demo.sh          the BadNet made here (needs nothing else)
#   bash scripts/demo.sh shared   the Fashion-MNIST BadNet of ../shared/fmnist_badnet instead
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
bash scripts/build.sh
tool=./build/tools/prunedef/prunedef
if [ "${1:-}" = "shared" ]; then
  bd=${PRUNEDEF_SHARED:-../shared}/fmnist_badnet
  [ -f "$bd/bd_weights.h5" ] || { echo "demo: $bd/bd_weights.h5 not found (set PRUNEDEF_SHARED)" >&2; exit 1; }
  out=out/demo-shared
else
  out=out/demo
  bd=$out/badnet
  echo "== training a BadNet on Fashion-MNIST (prunedef make-badnet)"
  $tool make-badnet --dataset fashion-mnist --seed 1 --out "$bd"
fi
echo "== repairing it: pruning conv_3, then Fine-Pruning (prunedef repair --fine-tune)"
$tool repair --model "$bd/bd_weights.h5" --scale 1 --valid "$bd/valid.h5" --test "$bd/test.h5" \
  --poisoned "$bd/bd_test.h5" --fine-tune 10 --replace --out "$out/repair"
echo "== written: $out/repair (report.md, report.json, sweep.csv, curve.svg, repaired/GoodNet weights)"
