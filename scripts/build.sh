#!/usr/bin/env bash
# Configures and builds prunedef (tools and tests) in build/ (Release).
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${PRUNEDEF_SHARED:-$(pwd)/../shared}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPRUNEDEF_SHARED_DIR="$shared" >/dev/null
cmake --build build -j"$(nproc)"
