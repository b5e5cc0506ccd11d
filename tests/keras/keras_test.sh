#!/usr/bin/env bash
# prunedef against real Keras (tf_keras 2.21 for full-model .h5, Keras 3.15 for .keras): logits,
# refusals, repair's B' files opened by Keras, and the challenge's own eval.py / lab3_eval.py.
# usage: keras_test.sh PRUNEDEF SHARED_DIR [WORK_DIR] [NAME_SUBSTRING ...]
# The venv comes from scripts/keras-venv.sh (build/keras-venv, or $PRUNEDEF_KERAS_VENV); when the
# Keras stack cannot be installed or imported the test FAILS (it is never skipped for that).
# Exits 77 (skipped) when the checks that need SHARED_DIR could not run and nothing failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tool=$1 shared=${PRUNEDEF_SHARED:-$2} work=${3:-$(mktemp -d)}
shift $(( $# < 3 ? $# : 3 ))
venv=${PRUNEDEF_KERAS_VENV:-$root/build/keras-venv}
if ! PRUNEDEF_KERAS_VENV=$venv bash "$root/scripts/keras-venv.sh"; then
  echo "FAIL: could not set up the Keras venv $venv (scripts/keras-venv.sh); TensorFlow is required, not optional"
  exit 1
fi
rm -rf "$work"; mkdir -p "$work"
export TF_CPP_MIN_LOG_LEVEL=3 KERAS_BACKEND=tensorflow OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
start=$SECONDS
"$venv/bin/python" "$here/run_checks.py" "$tool" "$shared" "$work" "$@"
code=$?
echo "keras_test.sh: $((SECONDS - start)) s"
exit $code
