#!/usr/bin/env bash
# Sets up, builds, and runs the pruning defense on the built-in default: the Fashion-MNIST BadNet
# of ../shared/fmnist_badnet. Writes out/fmnist/ (sweep.csv, report.md, report.json, curve.svg,
# repaired_X*.h5, goodnet_X*.h5) and prints the report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
bash scripts/build.sh
fm=${PRUNEDEF_SHARED:-../shared}/fmnist_badnet
if [ ! -f "$fm/bd_weights.h5" ]; then
  echo "demo: $fm/bd_weights.h5 not found; put the shared material beside this checkout or set PRUNEDEF_SHARED" >&2
  exit 1
fi
./build/examples/prunedef repair --model "$fm/bd_weights.h5" --scale 1 \
  --valid "$fm/valid.h5" --test "$fm/test.h5" --poisoned "$fm/bd_test.h5" --out out/fmnist
