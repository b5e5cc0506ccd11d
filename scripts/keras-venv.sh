#!/usr/bin/env bash
# Creates the Python virtual environment with the real Keras stack that tests/keras checks
# prunedef against, or reuses it when the pinned versions are already there:
#   bash scripts/keras-venv.sh            # build/keras-venv, or $PRUNEDEF_KERAS_VENV
# One venv holds both Keras: tf_keras (Keras 2 API, full-model .h5) and keras (Keras 3, .keras).
# The interpreter is $PRUNEDEF_PYTHON (default python3; Debian needs python3-venv).
# Prints the versions installed; exits non-zero when the stack cannot be installed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${PRUNEDEF_KERAS_VENV:-$root/build/keras-venv}
python=${PRUNEDEF_PYTHON:-python3}
pins=("tensorflow-cpu==2.21.*" "tf-keras==2.21.*" "keras==3.15.*" "h5py" "numpy" "onnxruntime==1.30.*" "onnx")

# Prints the versions and succeeds when every pin is satisfied (no TensorFlow import: fast).
check() {
  "$venv/bin/python" - "${pins[@]}" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
ok = True
for pin in sys.argv[1:]:
    name, _, wanted = pin.partition("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        have = None
    good = have is not None and (not wanted or have.startswith(wanted.rstrip("*")))
    ok &= good
    print(f"{name} {have or 'missing'}{'' if good else ' (wanted ' + (wanted or 'any') + ')'}")
sys.exit(0 if ok else 1)
PY
}

mkdir -p "$venv"
exec 9>"$venv/.prunedef-lock"
flock 9  # one installer at a time (two build directories may run their tests together)
if [ -x "$venv/bin/python" ] && check >/dev/null 2>&1; then
  check
  echo "venv: $venv (reused)"
  exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" || { echo "keras-venv.sh: '$python -m venv' failed (on Debian: apt-get install python3-venv)" >&2; exit 1; }
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}"
check
echo "venv: $venv (installed)"
