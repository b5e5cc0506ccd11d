#!/usr/bin/env python3
"""eval.py prints np.mean(pred == label) * 100 with print(): Python's repr of (n / N) * 100 in
float64. Checks prunedef's percent_of + python_repr against that for every n of several N, and
python_repr against repr() on doubles far from percentages (tiny, huge, negative, scientific).

usage: eval_format_test.py PRINT_PERCENTAGES_BINARY
"""
import random
import struct
import subprocess
import sys

binary = sys.argv[1]
wholes = [1, 3, 7, 100, 120, 1283, 11547, 12830, 1000003]
out = subprocess.run([binary] + [str(n) for n in wholes], check=True, capture_output=True, text=True).stdout.split("\n")
expected = [repr(n / N * 100) for N in wholes for n in range(N + 1)]
bad = [(i, got, want) for i, (got, want) in enumerate(zip(out, expected)) if got != want]
assert len(out) == len(expected) + 1, f"expected {len(expected)} lines, got {len(out) - 1}"
old_order = sum(1 for N in wholes for n in range(N + 1) if repr(100 * n / N) != repr(n / N * 100))
if bad:
    print(f"{len(bad)} of {len(expected)} percentages differ from eval.py, e.g.:", bad[:5])
    sys.exit(1)
print(f"{len(expected)} percentages equal eval.py's (100*n/N would differ in {old_order})")

rng = random.Random(1)
values = [0.0, -0.0, 1.0, 7.000000000000001, 0.0001, 0.00012, 1e-05, 5e-324, 1e16, 9999999999999998.0,
          1.2345678901234568e+17, 1e22, 1e100, -2.5, 123456.789, 1.7976931348623157e308, 0.1, 1 / 3]
values += [struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0] for _ in range(20000)]
values = [v for v in values if v == v and abs(v) != float("inf")]
text = "".join(repr(v) + "\n" for v in values)
got = subprocess.run([binary, "--values"], input=text, check=True, capture_output=True, text=True).stdout.split("\n")
bad = [(v, g) for v, g in zip(values, got) if g != repr(v)]
if bad:
    print(f"{len(bad)} of {len(values)} doubles differ from repr(), e.g.:", bad[:5])
    sys.exit(1)
print(f"{len(values)} doubles print as repr() does")
