#!/usr/bin/env bash
# Builds and runs one consumer program per prunedef target (tests/consumers/), each linking only
# that target, against an installed prunedef (find_package, tests/cmake_import) and a vendored
# one (add_subdirectory, tests/cmake_add_subdirectory). Then again with HDF5, zlib and
# nlohmann/json hidden from CMake: prunedef::core and prunedef::image must still be usable.
# Usage: tests/packaging.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
work=$2
rm -rf "$work"
mkdir -p "$work"
all="core;io;image;report;prunedef;native;onnx;mpi"
hide=(-DCMAKE_DISABLE_FIND_PACKAGE_HDF5=ON -DCMAKE_DISABLE_FIND_PACKAGE_ZLIB=ON
      -DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON)

fail() { echo "packaging: $*" >&2; exit 1; }
# build DIR CONSUMERS CMAKE_ARGS...: configures, builds and runs the consumers.
build() {
  local dir=$1 consumers=$2; shift 2
  cmake -S "$dir_src" -B "$dir" -DPRUNEDEF_CONSUMERS="$consumers" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "$@" \
    > "$dir.log" 2>&1 || { cat "$dir.log"; fail "configure of $dir failed"; }
  cmake --build "$dir" -j"$(nproc)" >> "$dir.log" 2>&1 || { cat "$dir.log"; fail "build of $dir failed"; }
  local part
  for part in ${consumers//;/ }; do "$dir/consumer_$part" || fail "$dir/consumer_$part failed"; done
}
# The core and image consumers neither compile nor link with HDF5 or zlib.
check_no_hdf5() {
  local dir=$1 part
  for part in core image; do
    grep -F "consumer_$part.dir" "$dir/compile_commands.json" | grep -qi hdf5 &&
      fail "$dir: consumer_$part compiles with HDF5's include path"
    grep -qiE 'hdf5|libz\.|-lz( |$)' "$dir/CMakeFiles/consumer_$part.dir/link.txt" &&
      fail "$dir: consumer_$part links HDF5 or zlib"
  done
  return 0
}

# (mpi: the consumer runs as an MPI singleton, which Open MPI refuses to root without these)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# 1. find_package after cmake --install
cmake -S "$src" -B "$work/build" -DPRUNEDEF_BUILD_TESTS=OFF -DPRUNEDEF_BUILD_TOOLS=OFF \
      -DCMAKE_INSTALL_PREFIX="$work/prefix" >/dev/null
cmake --install "$work/build" >/dev/null
for part in core io image report prunedef native onnx mpi; do
  [ -f "$work/prefix/share/cmake/prunedef/prunedef_${part}Targets.cmake" ] || fail "prunedef::$part is not installed"
done
dir_src=$src/tests/cmake_import
build "$work/import" "$all" -DCMAKE_PREFIX_PATH="$work/prefix"
check_no_hdf5 "$work/import"
build "$work/import_named" "$all" -DCMAKE_PREFIX_PATH="$work/prefix" -DPRUNEDEF_COMPONENTS="$all"
# core and image alone: the package config must not look for HDF5, zlib or nlohmann/json.
build "$work/import_core" "core;image;native" -DCMAKE_PREFIX_PATH="$work/prefix" -DPRUNEDEF_COMPONENTS="core;image;native" "${hide[@]}"
# a component that needs a hidden dependency is refused at configure time
if cmake -S "$dir_src" -B "$work/import_refused" -DCMAKE_PREFIX_PATH="$work/prefix" -DPRUNEDEF_COMPONENTS=io \
     -DPRUNEDEF_CONSUMERS=io "${hide[@]}" > "$work/import_refused.log" 2>&1; then
  fail "find_package(prunedef COMPONENTS io) succeeded without HDF5"
fi

# 2. add_subdirectory
dir_src=$src/tests/cmake_add_subdirectory
build "$work/subdir" "$all" -DPRUNEDEF_SOURCE_DIR="$src"
check_no_hdf5 "$work/subdir"
# a vendored prunedef must not build its own tests or tools
if [ -e "$work/subdir/prunedef/tests" ] || [ -e "$work/subdir/prunedef/examples" ] || [ -e "$work/subdir/prunedef/tools" ]; then
  fail "add_subdirectory built prunedef's tests or tools"
fi
build "$work/subdir_core" "core;image" -DPRUNEDEF_SOURCE_DIR="$src" "${hide[@]}"
grep -q "prunedef::io, ::report and ::prunedef are not defined" "$work/subdir_core.log" ||
  fail "a vendored prunedef without HDF5 does not say which targets it left out"
echo "packaging ok"
