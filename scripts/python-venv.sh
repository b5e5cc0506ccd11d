#!/usr/bin/env bash
# Makes (or reuses) the virtual environment the Python module's tests run in and pip-installs
# the checkout into it:
#   bash scripts/python-venv.sh [VENV [BUILD_DIR]]   # default build/python-venv, build/python-build
# The venv gets numpy, h5py, pytest, matplotlib and the build requirements (scikit-build-core,
# pybind11), so that the module is built without build isolation in BUILD_DIR, which is kept:
# a second run rebuilds only what changed. The interpreter is $PRUNEDEF_PYTHON (default python3;
# Debian needs python3-venv). Prints the venv's python on the last line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-$root/build/python-venv}
build=${2:-$root/build/python-build}
python=${PRUNEDEF_PYTHON:-python3}
packages=(numpy h5py pytest matplotlib "scikit-build-core>=0.10" "pybind11>=2.10")

mkdir -p "$venv"
exec 9>"$venv/.prunedef-lock"
flock 9  # one installer at a time
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" || { echo "python-venv.sh: '$python -m venv' failed (on Debian: apt-get install python3-venv)" >&2; exit 1; }
fi
if ! "$venv/bin/python" -c "import numpy, h5py, pytest, matplotlib, scikit_build_core, pybind11" 2>/dev/null; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${packages[@]}"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps \
  -C build-dir="$build" "$root"
echo "$venv/bin/python"
