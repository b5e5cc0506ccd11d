#!/usr/bin/env bash
# Creates the Python virtual environment with the anchors the benchmarks compare prunedef with
# (ONNX Runtime and PyTorch, CPU), or reuses it when the pinned versions are already there:
#   bash scripts/bench-venv.sh            # build/bench-venv, or $PRUNEDEF_BENCH_VENV
# The interpreter is $PRUNEDEF_PYTHON (default python3; Debian needs python3-venv). torch is
# pinned to one exact version so that pip takes the CPU wheel (a bare `torch` from PyPI is the
# multi-GB CUDA build on Linux); where PyPI's default wheel is the CUDA one, set
# PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu.
# Prints the versions installed; exits non-zero when the stack cannot be installed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${PRUNEDEF_BENCH_VENV:-$root/build/bench-venv}
python=${PRUNEDEF_PYTHON:-python3}
pins=("onnxruntime==1.30.*" "onnx" "numpy" "h5py" "torch==2.13.0")

# Prints the versions and succeeds when every pin is satisfied (no torch import: fast).
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
    # "2.13.0+cpu" satisfies "2.13.0"; "1.30.*" is a prefix.
    good = have is not None and (not wanted or have.split("+")[0].startswith(wanted.rstrip("*")))
    ok &= good
    print(f"{name} {have or 'missing'}{'' if good else ' (wanted ' + (wanted or 'any') + ')'}")
sys.exit(0 if ok else 1)
PY
}

mkdir -p "$venv"
exec 9>"$venv/.prunedef-lock"
flock 9  # one installer at a time
if [ -x "$venv/bin/python" ] && check >/dev/null 2>&1; then
  check
  echo "venv: $venv (reused)"
  exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" || { echo "bench-venv.sh: '$python -m venv' failed (on Debian: apt-get install python3-venv)" >&2; exit 1; }
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}"
check
echo "venv: $venv (installed)"
