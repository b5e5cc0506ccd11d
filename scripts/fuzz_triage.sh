#!/usr/bin/env bash
# Prints where a reproduced fuzzing failure happened, from its sanitizer/libFuzzer report:
#   bash scripts/fuzz_triage.sh REPORT.log      ->  "hdf5" or "prunedef"
# "hdf5": the faulting code -- the first frame of the first stack that is not part of the
# sanitizer/fuzzer runtime (frames in the fuzz binary without a source location: interceptors
# such as strdup or memcpy, __asan_*, fuzzer::*) nor of libc (with glibc's abort path: a stack
# protector or fortify failure reports from abort()) -- is inside the system's libhdf5
# and, for a bad heap access, the memory was allocated by libhdf5 too. "prunedef" otherwise
# (our code, stb, or a buffer we own). scripts/fuzz.sh fails only on "prunedef";
# tests/fuzz_triage_test.sh checks this rule on the reports in tests/fuzz/triage/.
set -euo pipefail
report=$1
[ -r "$report" ] || { echo "fuzz_triage: cannot read $report" >&2; exit 2; }

# The frames of the stack that starts after line $2 of report $1, runtime and libc frames dropped.
own_frames() {
  awk -v start="$2" 'NR > start && /^ +#[0-9]+ 0x/ { seen = 1; print; next } seen { exit }' "$1" |
    grep -vE '\(/[^ ()]*/fuzz_[a-z_]+\+0x[0-9a-f]+\)|libc\.so|/sysdeps/|csu/|^[^/]* in (__libc_|__GI_)| (nptl|stdlib|debug|libio|signal|assert)/[^ ]*:[0-9]+' || true
}

fault=$(own_frames "$report" 0 | head -1)
alloc_line=$(grep -n -m1 -E '^(allocated|previously allocated) by thread' "$report" | cut -d: -f1 || true)
alloc=""
[ -z "$alloc_line" ] || alloc=$(own_frames "$report" "$alloc_line" | head -1)

if grep -q libhdf5 <<<"$fault" && { [ -z "$alloc" ] || grep -q libhdf5 <<<"$alloc"; }; then
  echo hdf5
else
  echo prunedef
fi
