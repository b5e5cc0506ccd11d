#!/usr/bin/env bash
# Fault tests of the prunedef tool (issue 12, data loss and crashes): a full disk, output paths
# that are devices or symbolic links, outputs naming inputs, signals during a repair, and an
# output directory used before.
# usage: fault_test.sh PRUNEDEF SHARED_DIR WORK_DIR
# Needs SHARED_DIR/fmnist_badnet; the disk-full part needs root (mount -t tmpfs). A part that
# cannot run is reported, and the script then exits 77 (skipped) unless something failed.
set -uo pipefail
tool=$1 shared=${PRUNEDEF_SHARED:-$2} work=$3
fm=$shared/fmnist_badnet
if [ ! -f "$fm/bd_weights.h5" ] || [ ! -f "$fm/valid.h5" ]; then
  echo "skipping: $fm is absent; set PRUNEDEF_SHARED"
  exit 77
fi
full=$work/full
mountpoint -q "$full" 2>/dev/null && umount "$full"
rm -rf "$work"; mkdir -p "$work"
failures=0 skipped=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
skip() { echo "SKIP: $*"; skipped=$((skipped + 1)); }
no_temporaries() { ! ls -a "$1" | grep -q '\.tmp[0-9]*_[0-9]*$' || fail "$2: temporary files left in $1: $(ls -a "$1" | grep '\.tmp')"; }
# run NAME CMD...: runs CMD, stderr in $work/NAME.err, exit code in $rc
run() { local name=$1; shift; "$@" > "$work/$name.out" 2> "$work/$name.err"; rc=$?; }
model=$fm/bd_weights.h5 valid=$fm/valid.h5

# 1. A full disk: predict and repair exit non-zero (not by a signal), name the file, and leave
#    neither the output nor a temporary file.
mkdir -p "$full"
if mount -t tmpfs -o size=64k tmpfs "$full" 2>/dev/null; then
  trap 'umount "$full" 2>/dev/null' EXIT
  run predict_full "$tool" predict --model "$model" --data "$valid" --out "$full/logits.h5"
  { [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ]; } || fail "predict into a full disk: exit code $rc (expected 1..127)"
  grep -q "logits.h5" "$work/predict_full.err" || fail "predict into a full disk does not name the file: $(cat "$work/predict_full.err")"
  [ -e "$full/logits.h5" ] && fail "predict into a full disk left $full/logits.h5"
  no_temporaries "$full" "predict into a full disk"
  # Nearly full: the data fit, HDF5's metadata written at close do not.
  dd if=/dev/zero of="$full/filler" bs=1k count=62 2>/dev/null
  run predict_nearly "$tool" predict --model "$model" --data "$fm/valid.h5" --out "$full/nearly.h5"
  { [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ]; } || fail "predict into a nearly full disk: exit code $rc"
  [ -e "$full/nearly.h5" ] && fail "predict into a nearly full disk left $full/nearly.h5"
  no_temporaries "$full" "predict into a nearly full disk"
  rm -f "$full/filler"
  for fill in 0 8 32; do
    rm -rf "$full"/*; [ "$fill" -gt 0 ] && dd if=/dev/zero of="$full/filler" bs=1k count=$fill 2>/dev/null
    run repair_full "$tool" repair --model "$model" --valid "$valid" --drops 4 --out "$full/r"
    { [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ]; } || fail "repair into a full disk ($fill KiB used): exit code $rc (expected 1..127)"
    grep -q "$full/r/" "$work/repair_full.err" || fail "repair into a full disk does not name the file: $(cat "$work/repair_full.err")"
    [ -e "$full/r/repaired_X4.h5" ] && fail "repair into a full disk ($fill KiB used) left repaired_X4.h5"
    [ -e "$full/r/report.json" ] && fail "repair into a full disk ($fill KiB used) left report.json"
    [ -d "$full/r" ] && no_temporaries "$full/r" "repair into a full disk"
  done
  umount "$full"; trap - EXIT
else
  skip "disk full: cannot mount a tmpfs (needs root)"
fi

# 2. Output paths that are not regular files are refused and left alone.
# A character device like /dev/null (made here with mknod, as /dev/null itself may not be one).
if mknod "$work/null" c 1 3 2>/dev/null; then
  run devnull "$tool" predict --model "$model" --data "$valid" --out "$work/null"
  [ "$rc" -eq 1 ] || fail "predict --out a character device: exit code $rc"
  grep -q "null: is not a regular file" "$work/devnull.err" || fail "predict --out a character device: $(cat "$work/devnull.err")"
  [ -c "$work/null" ] || fail "the character device was replaced by a file"
else
  skip "character device: cannot mknod (needs root)"
fi
ln -s /proc/self/fd/1 "$work/link.h5"
run link "$tool" predict --model "$model" --data "$valid" --out "$work/link.h5"
[ "$rc" -eq 1 ] || fail "predict --out a symbolic link: exit code $rc"
grep -q "link.h5: is a symbolic link" "$work/link.err" || fail "predict --out a symbolic link: $(cat "$work/link.err")"
[ -L "$work/link.h5" ] || fail "the symbolic link was replaced"
mkfifo "$work/fifo.h5"
run fifo timeout 60 "$tool" predict --model "$model" --data "$valid" --out "$work/fifo.h5"
[ "$rc" -eq 1 ] || fail "predict --out a FIFO: exit code $rc"
[ -p "$work/fifo.h5" ] || fail "the FIFO was replaced"
mkdir -p "$work/linkdir"; ln -s /dev/null "$work/linkdir/report.md"
run linkdir "$tool" repair --model "$model" --valid "$valid" --drops 4 --replace --out "$work/linkdir"
[ "$rc" -eq 1 ] || fail "repair into a directory whose report.md is a symbolic link: exit code $rc"
[ -L "$work/linkdir/report.md" ] || fail "repair replaced the symbolic link report.md"

# 3. Outputs that are inputs: the fine-tuning outputs are checked like the others.
mkdir -p "$work/self"; cp "$model" "$work/self/finepruned_X4.h5"
run self "$tool" repair --model "$work/self/finepruned_X4.h5" --valid "$valid" --drops 4 --fine-tune 1 --replace --out "$work/self"
[ "$rc" -eq 1 ] || fail "repair writing over its input model finepruned_X4.h5: exit code $rc"
grep -q "also an input" "$work/self.err" || fail "repair over finepruned_X4.h5: $(cat "$work/self.err")"
cmp -s "$model" "$work/self/finepruned_X4.h5" || fail "repair overwrote its input finepruned_X4.h5"
cp "$model" "$work/self/goodnet_finepruned_X4.h5"; rm "$work/self/finepruned_X4.h5"
run self2 "$tool" repair --model "$work/self/goodnet_finepruned_X4.h5" --valid "$valid" --drops 4 --fine-tune 1 --replace --out "$work/self"
[ "$rc" -eq 1 ] || fail "repair writing over its input goodnet_finepruned_X4.h5: exit code $rc"
cmp -s "$model" "$work/self/goodnet_finepruned_X4.h5" || fail "repair overwrote its input goodnet_finepruned_X4.h5"
# --replace never removes an input that has the name of an earlier run's file.
cp "$model" "$work/self/repaired_X2.h5"; rm "$work/self/goodnet_finepruned_X4.h5"
run self3 "$tool" repair --model "$work/self/repaired_X2.h5" --valid "$valid" --drops 4 --replace --out "$work/self"
[ "$rc" -eq 1 ] || fail "repair --replace with an input named like an earlier output: exit code $rc"
cmp -s "$model" "$work/self/repaired_X2.h5" || fail "repair --replace removed its input repaired_X2.h5"

# 4. Signals: SIGTERM or SIGINT while repair writes removes its temporary files; a later run
#    removes the temporary files of a killed run; after SIGKILL every final file is complete.
for sig in TERM INT KILL; do
  caught=0
  for attempt in 1 2 3 4 5 6 7 8; do
    d=$work/sig_$sig; rm -rf "$d"
    # (a background job starts with SIGINT ignored, which the tool keeps: restore the default)
    env --default-signal=INT "$tool" repair --model "$model" --valid "$valid" --drops 1,2,3,4,5,6,7,8,9,10 \
      --out "$d" > /dev/null 2>&1 &
    pid=$!
    while kill -0 $pid 2>/dev/null; do
      # (repair may end between the listing and the kill: then this attempt does not count)
      if ls -a "$d" 2>/dev/null | grep -q '\.tmp[0-9]*_[0-9]*$'; then kill -$sig $pid 2>/dev/null && caught=1; break; fi
    done
    wait $pid; rc=$?
    [ "$caught" -eq 1 ] && break
  done
  if [ "$caught" -eq 0 ]; then skip "SIG$sig: never caught repair while writing"; continue; fi
  if [ "$sig" = KILL ]; then
    for f in "$d"/repaired_X*.h5; do
      [ -e "$f" ] || continue
      "$tool" eval --model "$f" --clean "$valid" > /dev/null 2>&1 || fail "after SIGKILL, $f is not a complete model"
    done
    ls -a "$d" | grep -q '\.tmp' || echo "note: SIGKILL arrived between two files"
    run stale "$tool" repair --model "$model" --valid "$valid" --drops 4 --replace --out "$d"
    [ "$rc" -eq 0 ] || fail "repair into the directory of a killed run: exit code $rc: $(cat "$work/stale.err")"
    no_temporaries "$d" "repair into the directory of a killed run"
  else
    [ "$rc" -ge 128 ] || fail "repair killed by SIG$sig: exit code $rc"
    no_temporaries "$d" "repair killed by SIG$sig"
  fi
done
d=$work/stale2; mkdir -p "$d"; dead=4000000
while kill -0 $dead 2>/dev/null; do dead=$((dead + 1)); done
touch "$d/.repaired_X4.h5.tmp${dead}_0"
run stale2 "$tool" repair --model "$model" --valid "$valid" --drops 4 --out "$d"
[ "$rc" -eq 0 ] || fail "repair into a directory holding a stale temporary file: exit code $rc: $(cat "$work/stale2.err")"
no_temporaries "$d" "repair into a directory holding a stale temporary file"
grep -q "removed .*tmp${dead}_0" "$work/stale2.err" || fail "the removal of a stale temporary file is not reported"

# 5. A used output directory: refused without --replace; with it, only the new run's files
#    remain and report.json lists every one; a concurrent run is refused.
d=$work/used
run used1 "$tool" repair --model "$model" --valid "$valid" --drops 2,4 --out "$d"
[ "$rc" -eq 0 ] || fail "first repair: exit code $rc"
run used2 "$tool" repair --model "$model" --valid "$valid" --drops 10 --out "$d"
[ "$rc" -eq 1 ] || fail "repair into a used directory without --replace: exit code $rc"
grep -q "not empty" "$work/used2.err" || fail "repair into a used directory: $(cat "$work/used2.err")"
[ -e "$d/repaired_X10.h5" ] && fail "a refused repair wrote repaired_X10.h5"
run used3 "$tool" repair --model "$model" --valid "$valid" --drops 10 --replace --out "$d"
[ "$rc" -eq 0 ] || fail "repair --replace: exit code $rc: $(cat "$work/used3.err")"
[ -e "$d/repaired_X2.h5" ] && fail "repair --replace left the earlier run's repaired_X2.h5"
listed=$(python3 -c 'import json,sys; print("\n".join(sorted(json.load(open(sys.argv[1]))["files"])))' "$d/report.json")
present=$(ls "$d" | sort)
[ "$listed" == "$present" ] || fail "report.json lists [$listed], the directory holds [$present]"
if command -v flock > /dev/null; then
  flock "$d/.prunedef.lock" sleep 30 &
  holder=$!; sleep 0.5
  run locked "$tool" repair --model "$model" --valid "$valid" --drops 10 --replace --out "$d"
  [ "$rc" -eq 1 ] || fail "repair into a locked directory: exit code $rc"
  grep -q "another prunedef run" "$work/locked.err" || fail "repair into a locked directory: $(cat "$work/locked.err")"
  kill $holder; wait $holder 2>/dev/null
fi

if [ "$failures" -gt 0 ]; then echo "$failures failure(s)"; exit 1; fi
if [ "$skipped" -gt 0 ]; then echo "skipped: $skipped part(s) could not run"; exit 77; fi
echo "all fault tests passed"
