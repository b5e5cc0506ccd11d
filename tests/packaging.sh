#!/usr/bin/env bash
# Builds the two consumer projects: one against an installed prunedef (find_package), one that
# vendors it with add_subdirectory. Usage: tests/packaging.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
work=$2
rm -rf "$work"
mkdir -p "$work"
cmake -S "$src" -B "$work/build" -DPRUNEDEF_BUILD_TESTS=OFF -DPRUNEDEF_BUILD_TOOLS=OFF \
      -DCMAKE_INSTALL_PREFIX="$work/prefix" >/dev/null
cmake --install "$work/build" >/dev/null
cmake -S "$src/tests/cmake_import" -B "$work/import" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/import" >/dev/null
"$work/import/consumer"
cmake -S "$src/tests/cmake_add_subdirectory" -B "$work/subdir" -DPRUNEDEF_SOURCE_DIR="$src" >/dev/null
cmake --build "$work/subdir" >/dev/null
"$work/subdir/consumer"
# a vendored prunedef must not build its own tests or tools
if [ -e "$work/subdir/prunedef/tests" ] || [ -e "$work/subdir/prunedef/examples" ]; then
  echo "add_subdirectory built prunedef's tests or tools" >&2
  exit 1
fi
echo "packaging ok"
