#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined) in build-fuzz/
# and runs each for SECONDS (default 60) from a freshly generated seed corpus.
#   bash scripts/fuzz.sh [SECONDS]
# Targets: fuzz_keras_weights (a DeepID weights file), fuzz_dataset (a challenge-layout data
# set), fuzz_image (an image for a 55x47x3 model). Corpora grow in build-fuzz/corpus/<target>/;
# a crash is saved as build-fuzz/artifacts/<target>/crash-* and makes the script fail.
# Reproduce one with: build-fuzz/tests/fuzz/fuzz_<target> build-fuzz/artifacts/<target>/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
bash scripts/setup-debian.sh
packages=(clang libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -ne 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DPRUNEDEF_BUILD_FUZZERS=ON -DPRUNEDEF_BUILD_TESTS=OFF -DPRUNEDEF_BUILD_TOOLS=OFF -DPRUNEDEF_INSTALL=OFF \
  -DPRUNEDEF_USE_OPENMP=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_keras_weights fuzz_dataset fuzz_image fuzz_make_seeds

seeds=build-fuzz/seeds
rm -rf "$seeds"
build-fuzz/tests/fuzz/fuzz_make_seeds "$seeds"

# HDF5 itself frees some of its internal state only at exit and may leak on error paths
# inside the library; tests/lsan.supp lists only those (and libgomp's).
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1
export HDF5_USE_FILE_LOCKING=FALSE

failed=()
for target in keras_weights dataset image; do
  case $target in
    image) max_len=16384 ;;
    *) max_len=65536 ;;
  esac
  corpus=build-fuzz/corpus/$target artifacts=build-fuzz/artifacts/$target
  mkdir -p "$corpus" "$artifacts"
  echo "fuzz_$target: ${seconds}s"
  if ! build-fuzz/tests/fuzz/fuzz_$target "$corpus" "$seeds/$target" -max_total_time="$seconds" \
       -max_len=$max_len -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$artifacts/" -print_final_stats=1 \
       > "build-fuzz/fuzz_$target.log" 2>&1; then
    failed+=("$target")
    tail -n 60 "build-fuzz/fuzz_$target.log"
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "build-fuzz/fuzz_$target.log" | tr '\n' ' '; echo
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: failures in ${failed[*]} (inputs in build-fuzz/artifacts/)"
  exit 1
fi
echo "fuzz: no failures in ${seconds}s per target"
