"""(e) `prunedef export` and `prunedef repair --onnx` checked with a real ONNX runtime (onnxruntime 1.30, onnx's checker, pinned
by scripts/keras-venv.sh): B's logits from ONNX Runtime against `prunedef predict`'s (1e-4 of the
largest logit, the same argmax) for the five CSAW networks on the shared samples, the Fashion-MNIST
BadNet and graph networks that are not DeepID; and G, both as `repair --onnx` writes it
(goodnet_X4.onnx) and as `export --goodnet` writes it from repair's GoodNet file, gives for every
image the class prunedef's G gives; repair's ONNX copy of B' (repaired_X4.onnx) gives B''s logits."""

import os
import shutil

import numpy as np

from csaw_checks import CSAW_MODELS, sample_sets, weights_file
from prunedef_keras import Failure, b_prime_files, compare_logits, prunedef_logits, read_dataset, run_tool

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
    return open_onnx(out, out_name)


def open_onnx(out, out_name):
    """onnx.checker on a file prunedef wrote, and an ONNX Runtime session on it."""
    _runtime()
    if not os.path.isfile(out):
        raise Failure(f"{out} was not written")
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


def check_goodnet(ctx, what, model, scale, valid, sets, convs=None):
    """G exported from the GoodNet file of `prunedef repair` (pruning to a 4-point drop on valid):
    onnx.checker passes, its B and B' logits equal `prunedef predict`'s on B and on repair's B'
    file, its classes equal, for every image, G's from prunedef's B and B' (the agreement rule),
    and `prunedef eval --goodnet` prints the figures of ONNX Runtime's classes."""
    out = ctx.path(f"onnx_repair_{what}")
    shutil.rmtree(out, ignore_errors=True)
    run_tool(ctx, "repair", "--model", model, "--scale", repr(scale), "--valid", valid, "--poisoned", sets[1],
             "--out", out, "--drops", "4", "--onnx")
    goodnet = os.path.join(out, "goodnet_X4.h5")
    bprime = next(p for p in b_prime_files(out, os.path.splitext(model)[1]) if "repaired_X4." in p)
    notes = []
    # repair --onnx's copy of B' gives B''s logits
    _, bp_session = open_onnx(os.path.join(out, "repaired_X4.onnx"), f"{what} repaired_X4.onnx")
    for path in sets:
        data, _ = read_dataset(path)
        (bp_onnx,) = run(bp_session, data, ["logits"])
        notes.append(compare_logits(f"repair --onnx's repaired_X4.onnx on {os.path.basename(path)}",
                                    prunedef_logits(ctx, bprime, path, scale), bp_onnx.astype(np.float64)))
    gs = [("repair --onnx's goodnet_X4.onnx", open_onnx(os.path.join(out, "goodnet_X4.onnx"), f"{what} goodnet_X4.onnx")),
          ("export --goodnet goodnet_X4.h5", export(ctx, f"{what}_G.onnx", "--goodnet", goodnet))]
    for source, (graph, session) in gs:
        notes += check_goodnet_session(ctx, f"{what}: {source}", graph, session, goodnet, model, bprime, scale, sets, convs)
    return notes


def check_goodnet_session(ctx, what, graph, session, goodnet, model, bprime, scale, sets, convs):
    """One ONNX G against prunedef's G (see check_goodnet)."""
    notes = []
    if convs is not None:
        n = sum(node.op_type == "Conv" for node in graph.graph.node)
        if n != convs:
            raise Failure(f"{what}: G has {n} Conv nodes; B' = B with channels pruned shares the trunk: {convs} expected")
        notes.append(f"{what}: G's graph has {n} Conv nodes (the trunk before the pruned layer once)")
    accs = []
    for path in sets:
        data, labels = read_dataset(path)
        cls, logits, bp_logits = run(session, data, ["class", "logits", "bprime_logits"])
        name = os.path.basename(path)
        b = prunedef_logits(ctx, model, path, scale)
        bp = prunedef_logits(ctx, bprime, path, scale)
        notes.append(compare_logits(f"{what}: G's B logits on {name}", b, logits.astype(np.float64)))
        notes.append(compare_logits(f"{what}: G's B' logits on {name}", bp, bp_logits.astype(np.float64)))
        classes = b.shape[1]
        want = np.where(b.argmax(axis=1) == bp.argmax(axis=1), b.argmax(axis=1), classes)
        if cls.dtype != np.int64 or cls.shape != want.shape:
            raise Failure(f"{what}: G's class output is {cls.dtype} {cls.shape}, expected int64 {want.shape}")
        differ = np.nonzero(cls != want)[0]
        if len(differ):
            i = differ[0]
            raise Failure(f"{what}: {name}: ONNX G's class differs from prunedef's G on {len(differ)} images, first {i}: "
                          f"{cls[i]} vs {want[i]}")
        accs.append(float(np.mean(cls == labels.reshape(-1).astype(np.int64)) * 100))
        notes.append(f"{what}: G on {name}: {len(cls)} classes identical to prunedef's G ({int(np.sum(cls == classes))} flagged)")
    # prunedef's own G (eval --goodnet) prints the accuracy and attack success of ONNX Runtime's classes
    lines = run_tool(ctx, "eval", "--goodnet", goodnet, "--clean", sets[0], "--poisoned", sets[1]).stdout.splitlines()
    for acc, line_start in zip(accs, ("Clean Classification accuracy", "Attack Success Rate")):
        if not any(line.startswith(line_start) and line.endswith(": " + repr(acc)) for line in lines):
            raise Failure(f"{what}: eval --goodnet {goodnet}: {lines}; ONNX G gives {line_start} {acc!r}")
    notes.append(f"{what}: eval --goodnet prints ONNX G's figures: {', '.join(map(repr, accs))}")
    return notes


def check_fmnist(ctx):
    """The Fashion-MNIST BadNet (weights-only DeepID): B's logits on test.h5 and bd_test.h5, and G."""
    fm = ctx.shared_path("fmnist_badnet")
    model = os.path.join(fm, "bd_weights.h5")
    sets = [os.path.join(fm, n) for n in ("test.h5", "bd_test.h5")]
    notes = check_b(ctx, "fmnist_B", ["--model", model], 1.0, sets)
    return notes + check_goodnet(ctx, "fmnist", model, 1.0, os.path.join(fm, "valid.h5"), sets, convs=6)


def check_graph_goodnet(ctx):
    """G of a graph network that is not DeepID (fmnist_residual, a residual block with BatchNormalization)."""
    from architecture_checks import dataset, model_file
    _, data_file, scale = dataset(ctx, "fmnist_residual")
    return check_goodnet(ctx, "fmnist_residual", model_file(ctx, "fmnist_residual", "keras2"), scale, data_file,
                         [data_file, data_file])


def check_graph(name):
    """A Keras model that is not DeepID (tests/keras/architecture_checks.py), exported as B."""
    def check(ctx):
        from architecture_checks import dataset, model_file
        _, data_file, scale = dataset(ctx, name)
        return check_b(ctx, f"graph_{name}", ["--model", model_file(ctx, name, "keras2")], scale, [data_file])
    return check


CHECKS = [(f"onnx/csaw {stem}: ONNX Runtime's B logits = prunedef predict", check_csaw(stem)) for stem, _, _ in CSAW_MODELS]
CHECKS.append(("onnx/fmnist_badnet: B logits, and G of repair --onnx and of export = prunedef's G on every image",
               check_fmnist))
CHECKS.append(("onnx/graph fmnist_residual G: G from repair's GoodNet file = prunedef's G on every image",
               check_graph_goodnet))
for _name in ("seq_strided", "fmnist_residual", "inception_concat"):
    CHECKS.append((f"onnx/graph {_name}: ONNX Runtime's B logits = prunedef predict", check_graph(_name)))
