#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined) in build-fuzz/
# and runs each for SECONDS (default 60) from a freshly generated seed corpus.
#   bash scripts/fuzz.sh [SECONDS]
# Targets: fuzz_keras_weights (a DeepID weights file), fuzz_dataset (a challenge-layout data
# set), fuzz_image (an image for a 55x47x3 model). Corpora grow in build-fuzz/corpus/<target>/.
# Every failure (crash, sanitizer report, out-of-memory, timeout) is saved in
# build-fuzz/artifacts/<target>/, reproduced (its report in FILE.log) and classified by
# scripts/fuzz_triage.sh: one inside the system's libhdf5 is reported, any other makes the script
# fail (see README, Reliability).
# Replay one with: build-fuzz/tests/fuzz/fuzz_<target> build-fuzz/artifacts/<target>/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
bash scripts/setup-debian.sh clang libclang-rt-14-dev

cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DPRUNEDEF_BUILD_FUZZERS=ON -DPRUNEDEF_BUILD_TESTS=OFF -DPRUNEDEF_BUILD_TOOLS=OFF -DPRUNEDEF_INSTALL=OFF \
  -DPRUNEDEF_THREADS=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_keras_weights fuzz_dataset fuzz_image fuzz_make_seeds

seeds=build-fuzz/seeds
rm -rf "$seeds"
build-fuzz/tests/fuzz/fuzz_make_seeds "$seeds"

# HDF5 itself frees some of its internal state only at exit and may leak on error paths
# inside the library; tests/lsan.supp lists only those (and libgomp's, no longer loaded).
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# allocator_may_return_null: an impossible malloc returns NULL as it does without ASan (which
# would otherwise abort on sizes over 1 TiB); what the caller does with NULL is then tested.
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export HDF5_USE_FILE_LOCKING=FALSE
# The targets write each input to a per-process file under $TMPDIR; a crashed child leaves its
# file behind, so they get a directory of their own.
export TMPDIR=$(pwd)/build-fuzz/tmp
rm -rf "$TMPDIR"; mkdir -p "$TMPDIR"

failed=() hdf5_issues=0
for target in keras_weights dataset image; do
  case $target in
    image) max_len=16384 ;;
    *) max_len=65536 ;;
  esac
  bin=build-fuzz/tests/fuzz/fuzz_$target corpus=build-fuzz/corpus/$target artifacts=build-fuzz/artifacts/$target
  rm -rf "$artifacts"; mkdir -p "$corpus" "$artifacts"
  echo "fuzz_$target: ${seconds}s"
  # -fork=1 -ignore_*: a failure is saved and fuzzing goes on; each one is triaged below.
  # Inputs that once failed in prunedef's code (tests/fuzz/regressions/<target>/) are replayed too.
  inputs=("$seeds/$target")
  [ -d "tests/fuzz/regressions/$target" ] && inputs+=("tests/fuzz/regressions/$target")
  "$bin" "$corpus" "${inputs[@]}" -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
    -max_total_time="$seconds" -max_len=$max_len -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$artifacts/" > "build-fuzz/fuzz_$target.log" 2>&1 || true
  grep -E '^#[0-9]+: cov: ' "build-fuzz/fuzz_$target.log" | tail -1 || true
  for a in "$artifacts"/*; do
    [ -e "$a" ] || continue
    "$bin" -runs=1 -rss_limit_mb=2048 -timeout=10 "$a" > "$a.log" 2>&1 && continue  # did not reproduce
    if grep -q 'out-of-memory' "$a.log" && ! grep -qE '^ +#[0-9]+ 0x' "$a.log"; then
      # An out-of-memory without a stack: libFuzzer's RSS watchdog fired first (ASan's shadow of one
      # huge allocation alone can pass the limit). Again without the watchdog, so that the single
      # allocation over 2 GiB is reported with its stack.
      timeout 120 "$bin" -runs=1 -rss_limit_mb=0 -malloc_limit_mb=2048 -timeout=10 "$a" >> "$a.log" 2>&1 || true
    fi
    if [ "$(bash scripts/fuzz_triage.sh "$a.log")" = hdf5 ]; then
      hdf5_issues=$((hdf5_issues + 1))
      echo "  inside libhdf5 (not prunedef's code): $a"
      grep -m1 -E 'ERROR|SUMMARY|runtime error' "$a.log" | sed 's/^/    /'
    else
      failed+=("$a")
      echo "  FAILURE: $a"
      grep -E 'ERROR|SUMMARY|runtime error|^ +#[0-9]+ 0x' "$a.log" | head -20 | cut -c1-240
    fi
  done
done
[ "$hdf5_issues" -eq 0 ] || echo "fuzz: $hdf5_issues failure(s) inside the system's HDF5 library (see README, Reliability)"
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: ${#failed[@]} failure(s) in prunedef; reproduce with build-fuzz/tests/fuzz/fuzz_<target> FILE"
  exit 1
fi
rm -rf "$TMPDIR"
echo "fuzz: no failures in prunedef's code in ${seconds}s per target"
