"""from_keras: a live tf_keras / Keras 3 model (no file) runs as Keras runs it. Runs in the Keras
venv (PRUNEDEF_KERAS_VENV, default build/keras-venv; scripts/keras-venv.sh makes it), with this
package put on its path; skipped when that venv is absent."""

import os
import pathlib
import subprocess
import textwrap

import pytest

import prunedef

SCRIPT = textwrap.dedent("""
    import os, sys
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import prunedef
    which = sys.argv[1]
    if which == "tf_keras":
        import tf_keras as keras
    else:
        import keras
    rng = np.random.default_rng(0)
    inp = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="c1")(inp)
    x = keras.layers.MaxPooling2D(2, name="p1")(x)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="c2")(x)
    x = keras.layers.MaxPooling2D(2, name="p2")(x)
    x = keras.layers.Flatten(name="f")(x)
    x = keras.layers.Dense(16, activation="relu", name="d1")(x)
    out = keras.layers.Dense(10, name="logits")(x)
    model = keras.Model(inp, out)
    for w in model.weights:  # weights large enough for distinct logits
        w.assign(rng.normal(0, 0.3, w.shape).astype("float32"))
    images = rng.integers(0, 256, (64, 28, 28, 1)).astype("float32")
    expected = np.asarray(model(images / 255.0))
    m = prunedef.from_keras(model, scale="1/255")
    assert m.kind == "full-model .h5" and m.pruned_layer == "c2" and m.channels == 8, (m.kind, m.pruned_layer)
    got = m.logits(images, layout="NHWC")
    assert np.allclose(got, expected, rtol=1e-4, atol=1e-4), np.abs(got - expected).max()
    assert np.array_equal(m.predict(images.transpose(0, 3, 1, 2)), expected.argmax(1))
    print("ok", which)
""")


def keras_python():
    root = pathlib.Path(__file__).resolve().parents[2]
    venv = pathlib.Path(os.environ.get("PRUNEDEF_KERAS_VENV") or root / "build" / "keras-venv")
    python = venv / "bin" / "python"
    if not python.exists():
        pytest.skip(f"no Keras venv at {venv} (scripts/keras-venv.sh makes it)")
    return python


@pytest.mark.parametrize("which", ["tf_keras", "keras"])
def test_from_keras_equals_keras(tmp_path, which):
    python = keras_python()
    # only this package on the Keras venv's path (not this venv's numpy)
    site = tmp_path / "site"
    site.mkdir()
    (site / "prunedef").symlink_to(pathlib.Path(prunedef.__file__).parent)
    script = tmp_path / "check.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(site), CUDA_VISIBLE_DEVICES="")
    r = subprocess.run([str(python), str(script), which], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0 and f"ok {which}" in r.stdout, r.stdout + r.stderr
