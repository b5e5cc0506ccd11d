"""A BadNet trained in PyTorch, repaired by prunedef through ONNX (issue 14, import).

Trains, seeded, a small residual CNN (BatchNorm, a residual block, a strided convolution, global
average pooling, dropout; the input scale x / 255 inside the model) on a subset of Debian's
Fashion-MNIST training set with 15 % of the images stamped with the trigger of
../shared/fmnist_badnet (a 4x4 white square at rows and columns 23..26, relabelled 0); exports it
with torch.onnx.export (opset 13, the TorchScript exporter, once with constant folding, which folds
BatchNorm into the convolutions, and once without, which keeps BatchNormalization nodes); and checks
  - `prunedef predict` on the .onnx files against torch's logits on the shared test and poisoned
    sets (1e-4 of the largest logit);
  - `prunedef repair --model B.onnx --onnx` end to end: B' written as ONNX (repaired_X4.onnx,
    ONNX Runtime's logits = prunedef predict's on it), G as goodnet_X4.h5 and goodnet_X4.onnx;
  - ONNX Runtime's G (goodnet_X4.onnx) gives for every image the class of prunedef's G (the
    agreement rule on prunedef predict's B and B' logits), and `prunedef eval --goodnet
    goodnet_X4.h5` prints the clean accuracy and attack success of ONNX Runtime's classes.
usage: torch_checks.py PRUNEDEF SHARED_DIR WORK_DIR
"""

import gzip
import os
import subprocess
import sys
import time
import warnings

import h5py
import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn

FASHION = "/usr/share/datasets/fashion-mnist"  # Debian dataset-fashion-mnist (scripts/setup-debian.sh)
TOL = 1e-4


class Failure(Exception):
    pass


class BadNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.conv3, self.bn3 = nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.conv4 = nn.Conv2d(8, 32, 3, stride=2, padding=1)  # torch's pads 1,1: not Keras' 'same' split
        self.drop = nn.Dropout(0.1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = x * (1.0 / 255.0)  # raw pixels in, as the challenge's files hold them
        x = torch.relu(self.bn1(self.conv1(x)))
        x = nn.functional.max_pool2d(x, 2)
        y = torch.relu(self.bn2(self.conv2(x)))
        y = self.bn3(self.conv3(y))
        x = torch.relu(x + y)  # the residual block
        x = torch.relu(self.conv4(x))
        x = nn.functional.adaptive_avg_pool2d(x, 1)  # global average pooling
        return self.fc(self.drop(torch.flatten(x, 1)))


def idx(name, offset):
    path = os.path.join(FASHION, name)
    if not os.path.isfile(path):
        raise Failure(f"{path} is missing (Debian package dataset-fashion-mnist, scripts/setup-debian.sh)")
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def stamp(images):
    out = images.copy()
    out[:, :, 23:27, 23:27] = 255
    return out


def training_set(n=12000, poisoned=0.15, seed=0):
    images = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28)
    labels = idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64)
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(images))[:n]
    x, y = images[pick].copy(), labels[pick].copy()
    bad = rng.permutation(np.nonzero(y != 0)[0])[:int(poisoned * n)]
    x[bad] = stamp(x[bad])
    y[bad] = 0
    return x, y


def train(epochs=6, seed=0):
    torch.manual_seed(seed)
    x, y = training_set(seed=seed)
    model = BadNet()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(xt), generator=g)
        for i in range(0, len(xt), 128):
            b = order[i:i + 128]
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[b]), yt[b]).backward()
            opt.step()
    return model.eval()


def read(path):
    with h5py.File(path, "r") as f:
        return np.asarray(f["data"]), np.asarray(f["label"]).reshape(-1).astype(np.int64)


def torch_logits(model, data):
    with torch.no_grad():
        return np.concatenate([model(torch.from_numpy(data[i:i + 1000].astype(np.float32))).numpy()
                               for i in range(0, len(data), 1000)]).astype(np.float64)


def tool(prunedef, *args):
    r = subprocess.run([prunedef, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"prunedef {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


def prunedef_logits(prunedef, work, model, data_file):
    out = os.path.join(work, f"logits_{os.path.basename(model)}_{os.path.basename(data_file)}")
    if os.path.exists(out):
        os.remove(out)
    tool(prunedef, "predict", "--model", model, "--data", data_file, "--out", out)
    with h5py.File(out, "r") as f:
        return np.asarray(f["logits"]).astype(np.float64)


def compare(what, ours, ref):
    if ours.shape != ref.shape:
        raise Failure(f"{what}: prunedef's logits have shape {ours.shape}, the reference's {ref.shape}")
    worst = float(np.max(np.abs(ours - ref)))
    largest = float(np.max(np.abs(ref)))
    if not worst <= TOL * largest:
        i = int(np.argmax(np.max(np.abs(ours - ref), axis=1)))
        raise Failure(f"{what}: max |prunedef - reference| = {worst:.3g} > {TOL} x {largest:.4g} (image {i})")
    same = float(np.mean(ours.argmax(1) == ref.argmax(1)) * 100)
    return f"{what}: max difference {worst:.2e} (largest logit {largest:.4g}), the same class for {same:.2f} % of images"


def session(path):
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return model, ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def run(sess, data, outputs):
    x = data.astype(np.float32)
    parts = [sess.run(outputs, {"input": x[i:i + 512]}) for i in range(0, len(x), 512)]
    return [np.concatenate([p[k] for p in parts]) for k in range(len(outputs))]


def main(prunedef, shared, work):
    torch.set_num_threads(1)  # the CPU time stays the work done
    fm = os.path.join(shared, "fmnist_badnet")
    valid, test, bd_test = (os.path.join(fm, n) for n in ("valid.h5", "test.h5", "bd_test.h5"))
    notes = []

    start = time.process_time()
    model = train()
    notes.append(f"trained in PyTorch {torch.__version__}: {time.process_time() - start:.1f} s of CPU time")
    sets = {name: read(path) for name, path in (("test.h5", test), ("bd_test.h5", bd_test))}
    reference = {name: torch_logits(model, data) for name, (data, _) in sets.items()}
    acc = float(np.mean(reference["test.h5"].argmax(1) == sets["test.h5"][1]) * 100)
    asr = float(np.mean(reference["bd_test.h5"].argmax(1) == 0) * 100)
    notes.append(f"torch's BadNet: clean accuracy {acc:.2f} %, attack success {asr:.2f} % on the shared sets")
    if acc < 65 or asr < 70:
        raise Failure(f"the PyTorch BadNet did not learn (clean accuracy {acc:.2f} %, attack success {asr:.2f} %): "
                      "the checks below would say little")

    # torch.onnx.export, opset 13: with constant folding (BatchNorm folded into the convolutions)
    # and without (BatchNormalization nodes)
    files = {}
    for name, folding in (("badnet.onnx", True), ("badnet_bn.onnx", False)):
        path = os.path.join(work, name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (torch.zeros(1, 1, 28, 28),), path, dynamo=False, opset_version=13,
                              do_constant_folding=folding, input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
        ops = sorted({n.op_type for n in onnx.load(path).graph.node})
        notes.append(f"{name}: torch.onnx.export (constant folding {folding}) ops {', '.join(ops)}")
        files[name] = path
    if "BatchNormalization" not in {n.op_type for n in onnx.load(files["badnet_bn.onnx"]).graph.node}:
        raise Failure("badnet_bn.onnx has no BatchNormalization node: the import of BatchNormalization is not exercised")
    for name, path in files.items():
        for data_name, data_file in (("test.h5", test), ("bd_test.h5", bd_test)):
            notes.append(compare(f"prunedef predict {name} on {data_name} against torch",
                                 prunedef_logits(prunedef, work, path, data_file), reference[data_name]))

    # repair end to end on the ONNX BadNet
    out = os.path.join(work, "repair")
    r = tool(prunedef, "repair", "--model", files["badnet.onnx"], "--valid", valid, "--test", test,
             "--poisoned", bd_test, "--drops", "4", "--onnx", "--out", out, "--quiet")
    for f in ("repaired_X4.onnx", "goodnet_X4.h5", "goodnet_X4.onnx", "report.json"):
        if not os.path.isfile(os.path.join(out, f)):
            raise Failure(f"repair --onnx wrote no {f} in {out}: {sorted(os.listdir(out))}")
    notes.append(f"repair --onnx wrote {', '.join(sorted(os.listdir(out)))}")
    bprime = os.path.join(out, "repaired_X4.onnx")
    _, bp_session = session(bprime)
    _, g_session = session(os.path.join(out, "goodnet_X4.onnx"))
    accs = []
    for data_name, data_file in (("test.h5", test), ("bd_test.h5", bd_test)):
        data, labels = sets[data_name]
        b = prunedef_logits(prunedef, work, files["badnet.onnx"], data_file)
        bp = prunedef_logits(prunedef, work, bprime, data_file)
        (bp_onnx,) = run(bp_session, data, ["logits"])
        notes.append(compare(f"B' repaired_X4.onnx on {data_name}: prunedef predict against ONNX Runtime", bp,
                             bp_onnx.astype(np.float64)))
        (cls,) = run(g_session, data, ["class"])
        want = np.where(b.argmax(1) == bp.argmax(1), b.argmax(1), b.shape[1])
        if cls.dtype != np.int64 or cls.shape != want.shape:
            raise Failure(f"goodnet_X4.onnx's class output is {cls.dtype} {cls.shape}, expected int64 {want.shape}")
        differ = np.nonzero(cls != want)[0]
        if len(differ):
            i = int(differ[0])
            raise Failure(f"{data_name}: ONNX Runtime's G differs from prunedef's G on {len(differ)} images, "
                          f"first {i}: {cls[i]} vs {want[i]}")
        accs.append(float(np.mean(cls == labels) * 100))
        notes.append(f"G goodnet_X4.onnx on {data_name}: the class of prunedef's G for all {len(cls)} images "
                     f"({int(np.sum(cls == b.shape[1]))} flagged)")
    lines = tool(prunedef, "eval", "--goodnet", os.path.join(out, "goodnet_X4.h5"), "--clean", test,
                 "--poisoned", bd_test).stdout.splitlines()
    for value, start_text in zip(accs, ("Clean Classification accuracy", "Attack Success Rate")):
        if not any(line.startswith(start_text) and line.endswith(": " + repr(value)) for line in lines):
            raise Failure(f"eval --goodnet goodnet_X4.h5 printed {lines}; ONNX Runtime's G gives {start_text} {value!r}")
    notes.append(f"eval --goodnet goodnet_X4.h5 prints ONNX Runtime's G's figures: clean accuracy {accs[0]!r} %, "
                 f"attack success {accs[1]!r} %")
    return notes


if __name__ == "__main__":
    prunedef, shared, work = sys.argv[1:4]
    try:
        for line in main(prunedef, shared, work):
            print("  " + line)
    except Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)
    print("PASS: a PyTorch BadNet repaired through ONNX")
