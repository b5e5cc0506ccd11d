#!/usr/bin/env bash
# Sets up a Debian machine, builds prunedef and runs every test (unit, golden, CLI, packaging).
# The shared models and data are read from ../shared (or $PRUNEDEF_SHARED); tests that need
# them say so and skip when they are absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
bash scripts/build.sh
cd build
ctest --output-on-failure -j1
