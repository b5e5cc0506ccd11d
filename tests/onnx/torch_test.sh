#!/usr/bin/env bash
# A PyTorch BadNet repaired through ONNX (tests/onnx/torch_checks.py), in the venv of
# scripts/bench-venv.sh (torch 2.13 CPU, onnxruntime, onnx; build/bench-venv or $PRUNEDEF_BENCH_VENV).
# usage: torch_test.sh PRUNEDEF SHARED_DIR [WORK_DIR]
# FAILS when the venv cannot be made (torch is required, not optional); exits 77 (skipped) only
# when SHARED_DIR/fmnist_badnet is absent.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tool=$1 shared=${PRUNEDEF_SHARED:-$2} work=${3:-$(mktemp -d)}
if [ ! -f "$shared/fmnist_badnet/valid.h5" ]; then
  echo "SKIP: $shared/fmnist_badnet is absent (the shared data); nothing checked"
  exit 77
fi
venv=${PRUNEDEF_BENCH_VENV:-$root/build/bench-venv}
if ! PRUNEDEF_BENCH_VENV=$venv bash "$root/scripts/bench-venv.sh"; then
  echo "FAIL: could not set up the venv $venv (scripts/bench-venv.sh); PyTorch and ONNX Runtime are required"
  exit 1
fi
rm -rf "$work"; mkdir -p "$work"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
start=$SECONDS
"$venv/bin/python" "$here/torch_checks.py" "$tool" "$shared" "$work"
code=$?
echo "torch_test.sh: $((SECONDS - start)) s"
exit $code
