"""(e) `prunedef export` checked with a real ONNX runtime (onnxruntime 1.30, onnx's checker, pinned
by scripts/keras-venv.sh): B's logits from ONNX Runtime against `prunedef predict`'s (1e-4 of the
largest logit, the same argmax) for the five CSAW networks on the shared samples, the Fashion-MNIST
BadNet and graph networks that are not DeepID; and G exported from a GoodNet file of
`prunedef repair` gives, for every image, the class prunedef's G gives."""

import os
import shutil

import numpy as np

from csaw_checks import CSAW_MODELS, sample_sets, weights_file
from prunedef_keras import Failure, compare_logits, prunedef_logits, read_dataset, run_tool

try:
    import onnx
    import onnxruntime as ort
except ImportError as e:  # a missing runtime is a failure of the run, never a skip
    onnx = ort = None
    _IMPORT_ERROR = e


def _runtime():
    if ort is None:
        raise Failure(f"onnx / onnxruntime cannot be imported ({_IMPORT_ERROR}); scripts/keras-venv.sh installs them")


def export(ctx, out_name, *args):
    """Runs `prunedef export ... --out WORK/out_name`, checks the file with onnx.checker and
    returns an ONNX Runtime session on it."""
    _runtime()
    out = ctx.path(out_name)
    if os.path.exists(out):
        os.remove(out)
    run_tool(ctx, "export", *args, "--out", out)
    model = onnx.load(out)
    onnx.checker.check_model(model, full_check=True)
    if model.opset_import[0].version < 13:
        raise Failure(f"{out_name}: opset {model.opset_import[0].version} < 13")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return model, ort.InferenceSession(out, opts, providers=["CPUExecutionProvider"])


def run(session, data_nchw, outputs=None):
    """The session's outputs on the data as stored (NCHW, cast to float32), in batches."""
    x = data_nchw.astype(np.float32)
    parts = [session.run(outputs, {"input": x[i:i + 512]}) for i in range(0, len(x), 512)]
    return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]


def check_b(ctx, what, model_args, scale, data_files):
    """ONNX Runtime's logits of the exported B against prunedef predict on every data file."""
    notes = []
    _, session = export(ctx, what + ".onnx", *model_args, "--scale", repr(scale), "--data", data_files[0])
    for path in data_files:
        data, _ = read_dataset(path)
        (logits,) = run(session, data, ["logits"])
        ours = prunedef_logits(ctx, model_args[1], path, scale, *model_args[2:])
        notes.append(compare_logits(f"{what} on {os.path.basename(path)} (ONNX Runtime as reference)",
                                    ours, logits.astype(np.float64)))
    return notes


def check_csaw(stem):
    def check(ctx):
        scale = next(s for m, s, _ in CSAW_MODELS if m == stem)
        return check_b(ctx, f"csaw_{stem}", ["--model", weights_file(ctx, stem)], scale, sample_sets(ctx, stem))
    return check


def check_fmnist_goodnet(ctx):
    """B and G of the Fashion-MNIST BadNet: B's logits on test.h5 and bd_test.h5; G exported from
    the GoodNet file of `prunedef repair` (pruning to a 4-point drop): its classes equal, for every
    image, G's from prunedef's B and B' (the agreement rule on `prunedef predict`'s logits), and
    `prunedef eval --goodnet` prints the accuracies of ONNX Runtime's classes."""
    fm = ctx.shared_path("fmnist_badnet")
    model = os.path.join(fm, "bd_weights.h5")
    sets = [os.path.join(fm, n) for n in ("test.h5", "bd_test.h5")]
    notes = check_b(ctx, "fmnist_B", ["--model", model], 1.0, sets)
    out = ctx.path("onnx_repair_fmnist")
    shutil.rmtree(out, ignore_errors=True)
    run_tool(ctx, "repair", "--model", model, "--scale", "1", "--valid", os.path.join(fm, "valid.h5"),
             "--poisoned", sets[1], "--out", out, "--drops", "4")
    goodnet = os.path.join(out, "goodnet_X4.h5")
    bprime = os.path.join(out, "repaired_X4.h5")
    graph, session = export(ctx, "fmnist_G.onnx", "--goodnet", goodnet)
    convs = sum(n.op_type == "Conv" for n in graph.graph.node)
    if convs != 6:
        raise Failure(f"G has {convs} Conv nodes; B' = B with conv_3 channels pruned shares conv_1 and conv_2: 6 expected")
    notes.append("G's graph: 6 Conv nodes (conv_1, conv_2 shared; conv_3, conv_4 for B and B')")
    for path in sets:
        data, labels = read_dataset(path)
        cls, logits, bp_logits = run(session, data, ["class", "logits", "bprime_logits"])
        name = os.path.basename(path)
        b = prunedef_logits(ctx, model, path, 1.0)
        bp = prunedef_logits(ctx, bprime, path, 1.0)
        notes.append(compare_logits(f"G's B logits on {name}", b, logits.astype(np.float64)))
        notes.append(compare_logits(f"G's B' logits on {name}", bp, bp_logits.astype(np.float64)))
        classes = b.shape[1]
        want = np.where(b.argmax(axis=1) == bp.argmax(axis=1), b.argmax(axis=1), classes)
        if cls.dtype != np.int64 or cls.shape != want.shape:
            raise Failure(f"G's class output is {cls.dtype} {cls.shape}, expected int64 {want.shape}")
        differ = np.nonzero(cls != want)[0]
        if len(differ):
            i = differ[0]
            raise Failure(f"{name}: ONNX G's class differs from prunedef's G on {len(differ)} images, first {i}: "
                          f"{cls[i]} vs {want[i]}")
        # prunedef's own G (eval --goodnet): the accuracy of ONNX Runtime's classes, as eval.py prints it
        flag = "--clean" if name == "test.h5" else "--poisoned"
        lines = run_tool(ctx, "eval", "--goodnet", goodnet, flag, path).stdout.splitlines()
        acc = float(np.mean(cls == labels.astype(np.int64)) * 100)
        if not any(repr(acc) in line for line in lines):
            raise Failure(f"eval --goodnet {goodnet} {flag} {name}: {lines}; ONNX G's accuracy is {acc!r}")
        notes.append(f"G on {name}: {len(cls)} classes identical to prunedef's G ({int(np.sum(cls == classes))} "
                     f"flagged), eval --goodnet's figure {acc!r}")
    return notes


def check_graph(name):
    """A Keras model that is not DeepID (tests/keras/architecture_checks.py), exported as B."""
    def check(ctx):
        from architecture_checks import dataset, model_file
        _, data_file, scale = dataset(ctx, name)
        return check_b(ctx, f"graph_{name}", ["--model", model_file(ctx, name, "keras2")], scale, [data_file])
    return check


CHECKS = [(f"onnx/csaw {stem}: ONNX Runtime's B logits = prunedef predict", check_csaw(stem)) for stem, _, _ in CSAW_MODELS]
CHECKS.append(("onnx/fmnist_badnet: B logits, and G from repair's GoodNet file = prunedef's G on every image",
               check_fmnist_goodnet))
for _name in ("seq_strided", "fmnist_residual", "inception_concat"):
    CHECKS.append((f"onnx/graph {_name}: ONNX Runtime's B logits = prunedef predict", check_graph(_name)))
