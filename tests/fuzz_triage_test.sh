#!/usr/bin/env bash
# Checks scripts/fuzz_triage.sh on sanitizer reports whose verdict is in their file name
# (tests/fuzz/triage/<hdf5|prunedef>_*.log): a crash inside libhdf5 reached through an ASan
# interceptor is HDF5's; a fault in our code, or in libhdf5 writing past a buffer we allocated, is ours.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
failures=0 checked=0
for log in "$root"/tests/fuzz/triage/*.log; do
  expected=$(basename "$log"); expected=${expected%%_*}
  got=$(bash "$root/scripts/fuzz_triage.sh" "$log")
  checked=$((checked + 1))
  if [ "$got" != "$expected" ]; then
    echo "FAIL: $(basename "$log"): classified as $got, expected $expected"
    failures=$((failures + 1))
  fi
done
[ "$checked" -ge 6 ] || { echo "FAIL: only $checked triage reports found"; exit 1; }
[ "$failures" -eq 0 ] || exit 1
echo "fuzz triage: $checked reports classified as expected"
