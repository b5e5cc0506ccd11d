#!/usr/bin/env python3
"""prunedef's DeepID forward pass next to its anchors, in one run: oneDNN, ONNX Runtime and
PyTorch at batch 1, 32 and 256, and the machine's measured fp32 peak.

Run it through benchmarks/anchors.sh (builds the programs, makes the Python environment).
Each round runs every contender once, in an order that rotates from round to round:

  prunedef + oneDNN  build-bench/benchmarks/prunedef_vs_onednn --reps 1 (the two alternate inside
                     the process; their logits must agree within 1e-3 or it stops)
  ONNX Runtime       deepid.onnx (benchmarks/deepid_onnx.py, checked against golden_logits.h5),
                     THREADS intra-op threads, 1 inter-op thread, sequential execution
  PyTorch            benchmarks/torch_deepid.py's network, torch.set_num_threads(THREADS), eval
                     mode, torch.inference_mode(), logits checked against golden_logits.h5
  fp32 peak          build-bench/benchmarks/fma_peak (1 and THREADS threads)

Every contender is a fresh process per round, so no thread pool of one spins while another
runs. Within a process, per batch size: 3 warm-up passes, the repetition sized to about
SECONDS from the fastest of 5 single passes, then one timed repetition of back-to-back forward
passes on the same batch (real faces from clean_samples.h5). Reported: the median over the
rounds of images/s, the median over the rounds of the per-round ratio prunedef / X, and each
contender's fraction of the measured peak:

  fraction = images/s x FLOP per image / (median over rounds of fma_peak's THREADS-thread GFLOP/s)

with the DeepID's FLOP per image counted as 2 per multiply-add (FLOP_FORMULA below).

usage: anchors.py --build DIR [--rounds 7] [--seconds 0.3] [--threads 2] [--shared DIR]
       anchors.py --worker ort|torch ...   (one contender's timing, used by the rounds)
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BATCHES = (1, 32, 256)

# (name, kh, kw, cin, cout, output H, output W) of the convolutions; (name, in, out) of the dense layers.
CONVS = [("conv_1", 4, 4, 3, 20, 52, 44), ("conv_2", 3, 3, 20, 40, 24, 20), ("conv_3", 3, 3, 40, 60, 10, 8),
         ("conv_4", 2, 2, 60, 80, 4, 3)]
DENSES = [("fc_1", 1200, 160), ("fc_2", 960, 160), ("output", 160, 1283)]
FLOP_FORMULA = ("2 x (sum over convolutions of kh kw cin cout Hout Wout + sum over dense layers of in out); "
                "bias, ReLU, pooling and the add not counted")


def flop_per_image():
    return 2 * (sum(kh * kw * ci * co * h * w for _, kh, kw, ci, co, h, w in CONVS) +
                sum(i * o for _, i, o in DENSES))


# ---------------------------------------------------------------------------------------------
# Workers: one contender, one process, prints "batch images_per_second" lines.

def time_batches(forward, make_batch, seconds):
    for batch in BATCHES:
        x = make_batch(batch)
        for _ in range(3):
            forward(x)
        one = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            forward(x)
            one = min(one, time.perf_counter() - t0)
        iterations = max(1, int(seconds / max(one, 1e-9)))
        t0 = time.perf_counter()
        for _ in range(iterations):
            forward(x)
        print("%d %.1f" % (batch, batch * iterations / (time.perf_counter() - t0)), flush=True)


def faces(shared):
    import h5py
    import numpy as np

    with h5py.File(os.path.join(shared, "data", "csaw", "clean_samples.h5"), "r") as f:
        return np.ascontiguousarray(np.asarray(f["data"], dtype=np.float32))  # N, 3, 55, 47 raw pixels


def worker_ort(args):
    import numpy as np

    sys.path.insert(0, HERE)
    import deepid_onnx

    with open(args.model, "rb") as f:
        sess = deepid_onnx.session(f.read(), args.threads)
    imgs = faces(args.shared)
    time_batches(lambda x: sess.run(["logits"], {"images": x}),
                 lambda b: np.ascontiguousarray(imgs[np.arange(b) % len(imgs)]), args.seconds)


def worker_torch(args):
    import h5py
    import numpy as np
    import torch

    sys.path.insert(0, HERE)
    import torch_deepid

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    net = torch_deepid.DeepID(torch_deepid.keras_weights(
        os.path.join(args.shared, "models", "csaw", "lab3_sunglasses_bd_weights.h5")), 1.0).eval()
    x = torch.from_numpy(faces(args.shared))
    with torch.inference_mode():
        with h5py.File(os.path.join(args.shared, "data", "csaw", "golden_logits.h5"), "r") as g:
            ref = np.asarray(g["lab3_sunglasses"]["clean_samples_logits"], dtype=np.float64)
        got = net(x).numpy().astype(np.float64)
        rel = float(np.max(np.max(np.abs(got - ref), axis=1) / np.max(np.abs(ref), axis=1)))
        if not rel <= 1e-3:
            raise SystemExit("anchors.py: PyTorch's logits differ from golden_logits.h5 by %.3g relative" % rel)
        time_batches(net, lambda b: x[torch.arange(b) % len(x)].contiguous(), args.seconds)


# ---------------------------------------------------------------------------------------------
# The driver.

def run(cmd, what):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit("anchors.py: %s failed (exit %d): %s" % (what, p.returncode, " ".join(cmd)))
    return p.stdout


def contender_prunedef_onednn(args, out):
    text = run([os.path.join(args.build, "benchmarks", "prunedef_vs_onednn"), "--threads", str(args.threads),
                "--reps", "1", "--seconds", str(args.seconds)], "prunedef_vs_onednn")
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].isdigit():
            b = int(cells[0])
            out.setdefault(("prunedef", b), []).append(float(cells[1]))
            out.setdefault(("oneDNN", b), []).append(float(cells[2]))
            out.setdefault(("difference", b), []).append(float(cells[4]))


def contender_worker(name, kind, args, out):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--threads", str(args.threads),
           "--seconds", str(args.seconds), "--shared", args.shared, "--model", args.model]
    for line in run(cmd, name).splitlines():
        b, rate = line.split()
        out.setdefault((name, int(b)), []).append(float(rate))


def contender_peak(args, out):
    text = run([os.path.join(args.build, "benchmarks", "fma_peak"), "--threads", str(args.threads), "--reps", "3",
                "--seconds", "0.1", "--csv"], "fma_peak")
    for line in text.splitlines():
        threads, best, _ = line.split(",")
        out.setdefault(("peak", int(threads)), []).append(float(best))


def uptime():
    try:
        with open("/proc/loadavg") as f:
            return "load average " + " ".join(f.read().split()[:3])
    except OSError:
        return "load average unknown"


def driver(args):
    import onnxruntime
    import torch

    for prog in ("prunedef_vs_onednn", "fma_peak"):
        if not os.access(os.path.join(args.build, "benchmarks", prog), os.X_OK):
            raise SystemExit("anchors.py: %s/benchmarks/%s is missing: run benchmarks/anchors.sh" % (args.build, prog))
    args.model = os.path.join(args.build, "deepid.onnx")
    print(run([sys.executable, os.path.join(HERE, "deepid_onnx.py"), "--shared", args.shared, "--out", args.model,
               "--threads", str(args.threads)], "deepid_onnx.py (export and check)").rstrip())
    contenders = [
        ("prunedef + oneDNN", lambda out: contender_prunedef_onednn(args, out)),
        ("ONNX Runtime", lambda out: contender_worker("ONNX Runtime", "ort", args, out)),
        ("PyTorch", lambda out: contender_worker("PyTorch", "torch", args, out)),
        ("fp32 peak", lambda out: contender_peak(args, out)),
    ]
    flop = flop_per_image()
    print("\nDeepID 55x47x3 forward, %s, %d threads, %d rounds (order rotating), about %.2f s per batch size "
          "and contender per round" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), args.threads,
                                       args.rounds, args.seconds))
    print("ONNX Runtime %s, PyTorch %s; OMP_WAIT_POLICY=%s, OMP_NUM_THREADS=%s; at start: %s" % (
        onnxruntime.__version__, torch.__version__, os.environ.get("OMP_WAIT_POLICY", "(unset)"),
        os.environ.get("OMP_NUM_THREADS", "(unset)"), uptime()))
    out = {}
    for r in range(args.rounds):
        order = contenders[r % len(contenders):] + contenders[:r % len(contenders)]
        for _, f in order:
            f(out)
        line = ", ".join("b%d %s %.0f" % (b, n, out[(n, b)][-1]) for b in BATCHES
                         for n in ("prunedef", "oneDNN", "ONNX Runtime", "PyTorch"))
        print("round %d (%s): %s; peak %.0f GFLOP/s" % (r + 1, " -> ".join(n for n, _ in order), line,
                                                       out[("peak", args.threads)][-1]), flush=True)
    med = statistics.median
    peak = med(out[("peak", args.threads)])
    peak1 = med(out[("peak", 1)])
    others = ("oneDNN", "ONNX Runtime", "PyTorch")
    print("\nAt end: %s" % uptime())
    print("Measured fp32 peak (fma_peak, best of 3 per round, median of %d rounds): %.0f GFLOP/s on 1 thread, "
          "%.0f GFLOP/s on %d threads" % (args.rounds, peak1, peak, args.threads))
    print("DeepID forward: %.3f MFLOP per image = %s; 100 %% of the peak = %.0f images/s\n"
          % (flop / 1e6, FLOP_FORMULA, peak * 1e9 / flop))
    print("| batch | prunedef img/s | oneDNN img/s | ONNX Runtime img/s | PyTorch img/s | prunedef / oneDNN "
          "| prunedef / ONNX Runtime | prunedef / PyTorch |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for b in BATCHES:
        ours = out[("prunedef", b)]
        ratios = [med([o / t for o, t in zip(ours, out[(n, b)])]) for n in others]
        print("| %d | %.0f | %s | %s |" % (b, med(ours), " | ".join("%.0f" % med(out[(n, b)]) for n in others),
                                           " | ".join("%.2f" % x for x in ratios)))
    print("\nFraction of the measured %d-thread peak (%.0f GFLOP/s), medians:\n" % (args.threads, peak))
    print("| batch | prunedef | oneDNN | ONNX Runtime | PyTorch |")
    print("|---:|---:|---:|---:|---:|")
    for b in BATCHES:
        print("| %d | %s |" % (b, " | ".join("%.0f %%" % (100 * med(out[(n, b)]) * flop / (peak * 1e9))
                                           for n in ("prunedef",) + others)))
    print("\nprunedef vs oneDNN: largest relative logit difference %.1e (limit 1e-3); ONNX Runtime and PyTorch "
          "checked against golden_logits.h5 above and in every PyTorch round"
          % max(max(out[("difference", b)]) for b in BATCHES))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build-bench"))
    ap.add_argument("--shared", default=os.environ.get("PRUNEDEF_SHARED", os.path.join(HERE, "..", "..", "shared")))
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=0.3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--worker", choices=("ort", "torch"))
    ap.add_argument("--model", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rounds < 1 or args.threads < 1 or not args.seconds > 0:
        raise SystemExit("anchors.py: --rounds and --threads must be >= 1, --seconds > 0")
    if args.worker == "ort":
        return worker_ort(args)
    if args.worker == "torch":
        return worker_torch(args)
    return driver(args)


if __name__ == "__main__":
    sys.exit(main())
