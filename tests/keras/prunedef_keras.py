"""Shared helpers of the checks of prunedef against real Keras (tests/keras/).

One process runs every check (TensorFlow takes seconds to import): a check is a function that
raises Failure (or any exception) when prunedef and Keras disagree and Skip when material it
needs is absent. Keras 2 is tf_keras (it reads and writes the full-model .h5 layout); Keras 3 is
keras (the .keras archive). Scripts written for `import keras` with Keras 2 (the challenge's
architecture.py, eval.py and lab3_eval.py) run with tf_keras standing in for keras
(`keras2_as_keras()`).
"""

import contextlib
import io
import os
import re
import runpy
import shlex
import subprocess
import sys
import time
import traceback
import warnings

# A missing Keras stack fails the whole run at once, with one clear line (never a skip).
try:
    import h5py
    import numpy as np
    import tensorflow as tf
    import tf_keras
    import keras
except ImportError as e:  # pragma: no cover - reported, never skipped
    sys.exit(f"FAIL: the Keras stack is missing ({e}); scripts/keras-venv.sh installs it")

tf.get_logger().setLevel("ERROR")  # retracing and "compiled metrics" notes of tf_keras
warnings.filterwarnings("ignore", message=".*HDF5 file via `model.save\\(\\)`.*")  # the layout under test

# The comparison the issue asks for: max |prunedef - Keras| <= 1e-4 * max |Keras logit|.
RELATIVE_TOLERANCE = 1e-4
SCALE_255 = 1.0 / 255.0  # written to the command line with repr(): 0.00392156862745098


class Failure(AssertionError):
    """prunedef and Keras disagree, or prunedef did not do what the check expects."""


class Skip(Exception):
    """Material the check needs (../shared) is absent: the check is reported skipped."""


class Context:
    """Where prunedef, the shared material and the scratch directory are."""

    def __init__(self, tool, shared, work):
        self.tool = os.path.abspath(tool)
        self.shared = os.path.abspath(shared) if shared else ""
        self.work = os.path.abspath(work)
        os.makedirs(self.work, exist_ok=True)
        self._memo = {}

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def shared_path(self, *parts):
        """A file or folder of ../shared; Skip when it is absent."""
        p = os.path.join(self.shared, *parts)
        if not self.shared or not os.path.exists(p):
            raise Skip(f"{p} is absent (the shared material; set PRUNEDEF_SHARED)")
        return p

    def memo(self, key, make):
        """make() once per run (models and files several checks use)."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]


# ---------------------------------------------------------------- Keras modules


_KERAS3_MODULES = {k: v for k, v in sys.modules.items() if k == "keras" or k.startswith("keras.")}


@contextlib.contextmanager
def keras2_as_keras():
    """`import keras` (and keras.backend, keras.layers, ...) gives tf_keras inside the block."""
    saved = {k: v for k, v in sys.modules.items() if k == "keras" or k.startswith("keras.")}
    for k in saved:
        del sys.modules[k]
    sys.modules["keras"] = tf_keras
    for sub in ("backend", "layers", "models", "initializers", "activations", "utils", "regularizers"):
        sys.modules["keras." + sub] = getattr(tf_keras, sub)
    try:
        yield tf_keras
    finally:
        for k in [k for k in sys.modules if k == "keras" or k.startswith("keras.")]:
            del sys.modules[k]
        sys.modules.update(saved)


@contextlib.contextmanager
def keras3_as_keras():
    """`import keras` gives Keras 3 (as it does outside keras2_as_keras)."""
    saved = {k: v for k, v in sys.modules.items() if k == "keras" or k.startswith("keras.")}
    for k in saved:
        del sys.modules[k]
    sys.modules.update(_KERAS3_MODULES)
    try:
        yield keras
    finally:
        for k in [k for k in sys.modules if k == "keras" or k.startswith("keras.")]:
            del sys.modules[k]
        sys.modules.update(saved)


def keras_module(kind):
    """'keras2' -> tf_keras, 'keras3' -> keras."""
    return {"keras2": tf_keras, "keras3": keras}[kind]


def extension(kind):
    return {"keras2": ".h5", "keras3": ".keras"}[kind]


def save_model(model, path):
    """A full-model file: tf_keras writes the HDF5 layout for .h5, Keras 3 the .keras archive."""
    if path.endswith(".h5"):
        model.save(path, save_format="h5")
    else:
        model.save(path)
    return path


def load_model(path):
    """What a user does: tf_keras.models.load_model for .h5, keras.saving.load_model for .keras."""
    if path.endswith(".keras"):
        return keras.saving.load_model(path, compile=False)
    return tf_keras.models.load_model(path, compile=False)


def keras_logits(model, x_nhwc):
    """The model's pre-softmax outputs in float64: a final softmax (the last layer's activation,
    or a final Activation('softmax') / Softmax layer) is left out, as prunedef does; any other
    final activation stays."""
    last = model.layers[-1]
    cls = type(last).__name__
    act = getattr(last, "activation", None)
    act_name = getattr(act, "__name__", "") if act is not None else ""
    if cls == "Softmax" or (cls == "Activation" and act_name == "softmax"):
        return _submodel(model, last.input).predict(x_nhwc, verbose=0, batch_size=256).astype(np.float64)
    if cls == "Dense" and act_name == "softmax":
        h = _submodel(model, last.input).predict(x_nhwc, verbose=0, batch_size=256).astype(np.float64)
        kernel, *bias = last.get_weights()
        z = h @ kernel.astype(np.float64)
        return z + bias[0].astype(np.float64) if bias else z
    if act_name == "softmax":
        raise Failure(f"keras_logits: a final softmax in a {cls} layer is not handled by this test")
    return model.predict(x_nhwc, verbose=0, batch_size=256).astype(np.float64)


def check_pre_softmax(what, model, x_nhwc, logits):
    """keras_logits itself: where the model ends in a softmax, softmax(logits) is what Keras'
    predict gives; otherwise the logits are predict's output. And the images do not all fall in
    one class (an argmax comparison would prove little)."""
    out = model.predict(x_nhwc, verbose=0, batch_size=256).astype(np.float64)
    z = logits - logits.max(axis=1, keepdims=True)
    soft = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    d = min(float(np.max(np.abs(soft - out))), float(np.max(np.abs(logits - out))))
    if d > 1e-5:
        raise Failure(f"{what}: the pre-softmax logits do not give Keras' predict output (off by {d:.3g})")
    classes = len(np.unique(logits.argmax(axis=1)))
    if classes < 2:
        raise Failure(f"{what}: every image falls in one class: a weak test (change the weights' seed)")
    return f"{what}: logits give Keras' predict output; {classes} distinct classes predicted"


def _submodel(model, output):
    km = tf_keras if model.__class__.__module__.startswith("tf_keras") else keras
    return km.Model(model.inputs, output)


# ---------------------------------------------------------------- data sets


def write_dataset(path, data_nchw, labels):
    """A data set in the challenge's layout: `data` (N, C, H, W) channels first, `label`."""
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=data_nchw)
        f.create_dataset("label", data=labels)
    return path


def read_dataset(path):
    with h5py.File(path, "r") as f:
        return np.array(f["data"]), np.array(f["label"]).reshape(-1)


def keras_input(data_nchw, scale):
    """What a Keras model receives: NHWC float32, pixels times the model's input scale."""
    return (data_nchw.astype(np.float64) * scale).astype(np.float32).transpose(0, 2, 3, 1)


# ---------------------------------------------------------------- prunedef


def run_tool(ctx, *args, ok=True):
    """Runs prunedef; with ok=True a non-zero exit is a Failure quoting the command and stderr."""
    cmd = [ctx.tool] + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="2"))
    if ok and p.returncode != 0:
        raise Failure(f"`{' '.join(shlex.quote(c) for c in cmd)}` exited {p.returncode}:\n"
                      f"{p.stderr.strip() or p.stdout.strip()}")
    return p


def prunedef_logits(ctx, model_path, data_path, scale, *extra):
    """`prunedef predict`'s dataset `logits` (N, classes)."""
    out = ctx.path("logits_%d.h5" % next(_counter))
    run_tool(ctx, "predict", "--model", model_path, "--data", data_path, "--out", out, "--scale", repr(scale), *extra)
    with h5py.File(out, "r") as f:
        if "logits" not in f:
            raise Failure(f"prunedef predict wrote no dataset 'logits' in {out}")
        logits = np.array(f["logits"])
    os.remove(out)
    if logits.dtype != np.float32:
        raise Failure(f"prunedef predict: logits are {logits.dtype}, not float32")
    return logits.astype(np.float64)


def _count():
    n = 0
    while True:
        n += 1
        yield n


_counter = _count()


def compare_logits(what, ours, ref):
    """max |ours - ref| <= 1e-4 * max |ref| and the same argmax for every image. Where Keras'
    two largest logits are closer than that tolerance the image is a tie and either answer is
    right (counted and said, never silently)."""
    if ours.shape != ref.shape:
        raise Failure(f"{what}: prunedef gives logits of shape {ours.shape}, Keras {ref.shape}")
    scale = float(np.max(np.abs(ref)))
    tol = RELATIVE_TOLERANCE * max(scale, 1e-30)
    diff = float(np.max(np.abs(ours - ref)))
    if not np.all(np.isfinite(ours)):
        raise Failure(f"{what}: prunedef's logits are not all finite")
    if diff > tol:
        worst = np.unravel_index(np.argmax(np.abs(ours - ref)), ref.shape)
        raise Failure(f"{what}: max |prunedef - Keras| = {diff:.3g} > {tol:.3g} (1e-4 of max |logit| {scale:.4g}); "
                      f"worst at image {worst[0]}, output {worst[1]}: prunedef {ours[worst]:.7g}, Keras {ref[worst]:.7g}")
    a, b = ours.argmax(axis=1), ref.argmax(axis=1)
    differ = np.nonzero(a != b)[0]
    ties = 0
    for i in differ:
        top2 = np.sort(ref[i])[-2:]
        if top2[1] - top2[0] > tol:
            raise Failure(f"{what}: image {i}: prunedef's class {a[i]}, Keras' {b[i]} "
                          f"(logits {ours[i, a[i]]:.7g} vs {ref[i, b[i]]:.7g})")
        ties += 1
    note = f", {ties} tie(s) within tolerance" if ties else ""
    return f"{what}: max |diff| {diff:.2g} (max |logit| {scale:.3g}), argmax equal on {len(a)}{note}"


def b_prime_files(directory, ext):
    """The B' files `prunedef repair` wrote for an input of extension ext: names with `_X`
    (repaired_X2, finepruned_X4, ...), not the GoodNet files (prunedef's own format)."""
    if not os.path.isdir(directory):
        raise Failure(f"{directory} does not exist")
    names = sorted(n for n in os.listdir(directory)
                   if "_X" in n and n.endswith(ext) and not n.startswith("goodnet"))
    return [os.path.join(directory, n) for n in names]


def run_script(path, argv, keras_kind="keras2"):
    """Runs a Python script unchanged (runpy, as __main__) with sys.argv set and `import keras`
    giving tf_keras (keras2) or Keras 3 (keras3); returns what it printed."""
    swap = keras2_as_keras if keras_kind == "keras2" else keras3_as_keras
    saved_argv = sys.argv
    out = io.StringIO()
    try:
        sys.argv = [path] + [str(a) for a in argv]
        with swap(), contextlib.redirect_stdout(out):
            runpy.run_path(path, run_name="__main__")
    finally:
        sys.argv = saved_argv
    return out.getvalue()


def run_architecture_py(path, keras_kind):
    """The challenge's architecture.py run as it is; returns its `model`."""
    swap = keras2_as_keras if keras_kind == "keras2" else keras3_as_keras
    with swap():
        g = runpy.run_path(path, run_name="architecture")
    return g["model"]


# ---------------------------------------------------------------- the runner


def run_checks(ctx, checks):
    """Runs (name, function) pairs; prints PASS/FAIL/SKIP per check and returns the exit code:
    1 when any failed, 77 (CTest's skip) when none failed and any skipped, else 0."""
    failed, skipped, passed = [], [], []
    start = time.time()
    for name, fn in checks:
        t = time.time()
        try:
            notes = fn(ctx) or []
        except Skip as e:
            skipped.append(name)
            print(f"SKIP {name}: {e}", flush=True)
            continue
        except Failure as e:
            failed.append(name)
            print(f"FAIL {name}: {e}", flush=True)
            continue
        except Exception:  # a crash of the check itself (Keras, h5py): a failure with its traceback
            failed.append(name)
            print(f"FAIL {name}: {traceback.format_exc()}", flush=True)
            continue
        passed.append(name)
        print(f"PASS {name} ({time.time() - t:.1f} s)", flush=True)
        for n in notes if isinstance(notes, list) else [notes]:
            print(f"     {n}", flush=True)
    print(f"\n{len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped "
          f"in {time.time() - start:.0f} s (Keras 2 = tf_keras {tf_keras.__version__}, Keras 3 = keras {keras.__version__})")
    for name in failed:
        print(f"  failed: {name}")
    for name in skipped:
        print(f"  skipped: {name}")
    if failed:
        return 1
    return 77 if skipped else 0


def parse_eval_lines(text):
    """The result lines of eval.py / lab3_eval.py / prunedef eval (Keras' progress bars dropped)."""
    return [l for l in text.splitlines()
            if re.match(r"^(Clean Classification accuracy|Classification accuracy|Attack Success Rate):", l)]
