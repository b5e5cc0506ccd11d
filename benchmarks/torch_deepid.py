#!/usr/bin/env python3
"""The CSAW DeepID face network in PyTorch, timed like prunedef_vs_onednn.

Loads lab3_sunglasses_bd_weights.h5 with h5py when it is there (else random weights of the same
sizes), checks the logits against golden_logits.h5 when that is there, and prints the median
images/s of forward passes at batch 1, 32 and 256 with 2 threads as a Markdown table.

Usage: build/bench-venv/bin/python benchmarks/torch_deepid.py [--shared DIR] [--threads N] [--reps N] [--seconds S]
(torch 2.13 from scripts/bench-venv.sh; benchmarks/anchors.py times this network next to prunedef,
oneDNN and ONNX Runtime in one run.)
DIR defaults to $PRUNEDEF_SHARED, else ../shared beside the checkout.
"""

import argparse
import os
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

CONVS = {"conv_1": (4, 4, 3, 20), "conv_2": (3, 3, 20, 40), "conv_3": (3, 3, 40, 60), "conv_4": (2, 2, 60, 80)}
DENSES = {"fc_1": (1200, 160), "fc_2": (960, 160), "output": (160, 1283)}


def keras_weights(path):
    """{layer: (kernel, bias)} as numpy arrays in Keras' layouts."""
    import h5py

    out = {}
    with h5py.File(path, "r") as f:
        for layer in list(CONVS) + list(DENSES):
            names = [n.decode() if isinstance(n, bytes) else n for n in f[layer].attrs["weight_names"]]
            arrays = {n.split("/")[-1]: np.asarray(f[layer][n], dtype=np.float32) for n in names}
            out[layer] = (arrays["kernel:0"], arrays["bias:0"])
    return out


def random_weights(seed=2020):
    rng = np.random.default_rng(seed)
    out = {}
    for layer, shape in {**CONVS, **DENSES}.items():
        limit = np.sqrt(6.0 / np.prod(shape[:-1]))
        out[layer] = (rng.uniform(-limit, limit, shape).astype(np.float32), np.full(shape[-1], 0.01, np.float32))
    return out


class DeepID(torch.nn.Module):
    """Keras kernels converted once: conv (kh, kw, cin, cout) -> (cout, cin, kh, kw); dense
    (in, out) -> (out, in), with fc_1/fc_2 columns permuted from Keras' H, W, C flatten order to
    PyTorch's C, H, W order so that a plain flatten of NCHW maps feeds them."""

    def __init__(self, w, input_scale):
        super().__init__()
        self.input_scale = input_scale
        self.p = {}
        for name in CONVS:
            k, b = w[name]
            self.p[name] = (torch.from_numpy(np.ascontiguousarray(k.transpose(3, 2, 0, 1))), torch.from_numpy(b))
        for name, maps in (("fc_1", (5, 4, 60)), ("fc_2", (4, 3, 80)), ("output", None)):
            k, b = w[name]
            if maps is not None:
                h, wd, c = maps
                k = k.reshape(h, wd, c, -1).transpose(2, 0, 1, 3).reshape(h * wd * c, -1)
            self.p[name] = (torch.from_numpy(np.ascontiguousarray(k.T)), torch.from_numpy(b))

    def forward(self, x):
        if self.input_scale != 1.0:
            x = x * self.input_scale
        for name in ("conv_1", "conv_2", "conv_3"):
            x = F.max_pool2d(F.relu(F.conv2d(x, *self.p[name])), 2)
        a = F.linear(x.flatten(1), *self.p["fc_1"])
        b = F.linear(F.relu(F.conv2d(x, *self.p["conv_4"])).flatten(1), *self.p["fc_2"])
        return F.linear(F.relu(a + b), *self.p["output"])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=os.environ.get("PRUNEDEF_SHARED", os.path.join(here, "..", "..", "shared")))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=0.3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    model_path = os.path.join(args.shared, "models", "csaw", "lab3_sunglasses_bd_weights.h5")
    data_path = os.path.join(args.shared, "data", "csaw", "clean_samples.h5")
    golden_path = os.path.join(args.shared, "data", "csaw", "golden_logits.h5")
    if os.path.exists(model_path):
        net, source = DeepID(keras_weights(model_path), 1.0), model_path
    else:
        net, source = DeepID(random_weights(), 1.0 / 255.0), "RANDOM weights (%s is absent)" % model_path

    if os.path.exists(data_path):
        import h5py

        with h5py.File(data_path, "r") as f:
            faces = torch.from_numpy(np.asarray(f["data"], dtype=np.float32))  # N, 3, 55, 47 raw pixels
    else:
        faces = torch.rand(120, 3, 55, 47) * 255

    print("DeepID 55x47x3 forward, %s, PyTorch %s, %d threads, %s" % (
        time.strftime("%Y-%m-%d"), torch.__version__, torch.get_num_threads(), source))
    with torch.inference_mode():
        if os.path.exists(model_path) and os.path.exists(data_path) and os.path.exists(golden_path):
            import h5py

            with h5py.File(golden_path, "r") as f:
                ref = np.asarray(f["lab3_sunglasses"]["clean_samples_logits"])
            got = net(faces).numpy()
            rel = np.max(np.abs(got - ref), axis=1) / np.max(np.abs(ref), axis=1)
            print("logits vs golden_logits.h5: max relative difference %.1e, argmax agreement %d/%d" % (
                rel.max(), int((got.argmax(1) == ref.argmax(1)).sum()), len(ref)))
            if rel.max() > 1e-3:
                raise SystemExit("torch_deepid.py: logits differ from the golden ones by more than 1e-3 relative")

        print("%d repetitions of about %.2f s each, median images/s\n" % (args.reps, args.seconds))
        print("| batch | PyTorch img/s |")
        print("|---:|---:|")
        for batch in (1, 32, 256):
            x = faces[torch.arange(batch) % faces.shape[0]].contiguous()
            for _ in range(3):
                net(x)
            t0 = time.perf_counter()
            for _ in range(3):
                net(x)
            iterations = max(1, int(args.seconds / ((time.perf_counter() - t0) / 3)))
            rates = []
            for _ in range(args.reps):
                t0 = time.perf_counter()
                for _ in range(iterations):
                    net(x)
                rates.append(batch * iterations / (time.perf_counter() - t0))
            print("| %d | %.0f |" % (batch, statistics.median(rates)))


if __name__ == "__main__":
    main()
