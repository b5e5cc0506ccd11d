"""load_model, Model.predict / logits against the tool's 'prunedef predict', layouts and dtypes."""

import threading
import time

import h5py
import numpy as np
import pytest

import prunedef
from conftest import run_tool, shared_path

# (model file, scale, data set) on which the module's logits must equal the tool's, bit for bit
CASES = [
    (("models", "csaw", "lab3_sunglasses_bd_weights.h5"), "1", ("data", "csaw", "clean_samples.h5")),
    (("models", "csaw", "sunglasses_bd_weights.h5"), "1/255", ("data", "csaw", "sunglasses_samples.h5")),
    (("models", "csaw", "multi_trigger_multi_target_bd_weights.h5"), "1/255", ("data", "csaw", "eyebrows_samples.h5")),
    (("fmnist_badnet", "bd_weights.h5"), "1", ("fmnist_badnet", "bd_test.h5")),
]


def read(path):
    with h5py.File(path, "r") as f:
        return f["data"][:], f["label"][:]


@pytest.mark.parametrize("model_parts,scale,data_parts", CASES, ids=[c[0][-1] for c in CASES])
def test_logits_and_predictions_equal_the_tool(tool, tmp_path, model_parts, scale, data_parts):
    model_path, data_path = shared_path(*model_parts), shared_path(*data_parts)
    out = tmp_path / "logits.h5"
    run_tool(tool, "predict", "--model", model_path, "--scale", scale, "--data", data_path, "--out", out)
    with h5py.File(out, "r") as f:
        expected = f["logits"][:]
    model = prunedef.load_model(model_path, scale=scale)
    x, _ = read(data_path)
    logits = model.logits(x)  # NCHW as stored, inferred
    assert logits.dtype == np.float32 and logits.shape == expected.shape
    assert np.array_equal(logits, expected)
    assert np.array_equal(model.predict(x), expected.argmax(axis=1))
    # NHWC (Keras' layout), inferred and stated, and other dtypes: the same numbers
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    assert np.array_equal(model.logits(nhwc), expected)
    assert np.array_equal(model.logits(nhwc, layout="NHWC"), expected)
    assert np.array_equal(model.logits(x.astype(np.float64), layout="nchw"), expected)
    if x.dtype != np.uint8 and np.all(x == np.round(x)) and x.max() <= 255:
        assert np.array_equal(model.logits(x.astype(np.uint8)), expected)
    # a non-contiguous view is read as it is
    assert np.array_equal(model.logits(x.transpose(0, 2, 3, 1)), expected)


def test_model_properties_and_save_roundtrip(fmnist, tmp_path):
    m = prunedef.load_model(fmnist["bd_weights.h5"], scale=1)
    assert m.kind == "weights-only .h5" and m.architecture_assumed
    assert m.input_shape is None and m.num_classes is None  # not known until images are seen
    assert m.pruned_layer == "conv_3" and m.channels == 64
    x, _ = read(fmnist["valid.h5"])
    p = m.predict(x[:300])
    assert m.input_shape == (28, 28, 1) and m.num_classes == 10 and m.input_scale == 1.0
    m.save(str(tmp_path / "b.h5"))
    again = prunedef.load_model(tmp_path / "b.h5")  # full-model .h5 with the scale stored
    assert again.kind == "full-model .h5" and again.input_scale == 1.0 and again.input_shape == (28, 28, 1)
    assert np.array_equal(again.predict(x[:300]), p)
    assert np.array_equal(again.logits(x[:300]), m.logits(x[:300]))


def test_scale_is_required_when_the_file_does_not_state_it(fmnist):
    m = prunedef.load_model(fmnist["bd_weights.h5"])
    assert m.input_scale is None
    with pytest.raises(prunedef.ArgumentError, match="scale"):
        m.predict(np.zeros((1, 1, 28, 28), np.uint8))
    assert prunedef.load_model(fmnist["bd_weights.h5"], scale="1/255").input_scale == pytest.approx(1 / 255)


def test_layout_refused_when_ambiguous_or_wrong(fmnist):
    m = prunedef.load_model(fmnist["bd_weights.h5"], scale=1)
    # a 1-channel model not bound yet: (N, 1, 28, 1) reads as NCHW and as NHWC
    with pytest.raises(prunedef.ShapeError, match="layout="):
        m.predict(np.zeros((2, 1, 28, 1), np.float32))
    m.predict(np.zeros((2, 1, 28, 28), np.float32))  # binds to 28 x 28 x 1
    with pytest.raises(prunedef.ShapeError, match="neither NCHW nor NHWC"):
        m.predict(np.zeros((2, 3, 28, 28), np.float32))
    with pytest.raises(prunedef.ShapeError):
        m.predict(np.zeros((2, 28, 28, 1), np.float32), layout="NCHW")
    with pytest.raises(prunedef.ArgumentError, match="layout"):
        m.predict(np.zeros((2, 1, 28, 28), np.float32), layout="CHWN")
    with pytest.raises(prunedef.ArgumentError, match="dtype"):
        m.predict(np.zeros((2, 1, 28, 28), np.int16))
    with pytest.raises(prunedef.ShapeError, match="4-d"):
        m.predict(np.zeros((1, 28, 28), np.float32))
    bad = np.zeros((2, 1, 28, 28), np.float32)
    bad[1, 0, 3, 4] = np.nan
    with pytest.raises(prunedef.FormatError, match="image 1 has a non-finite pixel"):
        m.predict(bad)


def test_two_threads_predicting_at_once_agree_and_release_the_gil(fmnist):
    m = prunedef.load_model(fmnist["bd_weights.h5"], scale=1)
    x, _ = read(fmnist["valid.h5"])
    x = np.concatenate([x] * 4)
    expected = m.logits(x)
    results, spans = [None, None], [None, None]

    def work(i):
        t0 = time.perf_counter()
        results[i] = m.logits(x)
        spans[i] = (t0, time.perf_counter())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    ticks = []
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):  # this thread runs only if predicting released the GIL
        ticks.append(time.perf_counter())
    for t in threads:
        t.join()
    assert np.array_equal(results[0], expected) and np.array_equal(results[1], expected)
    start, end = max(s[0] for s in spans), min(s[1] for s in spans)
    inside = sum(1 for t in ticks if start < t < end)
    assert end - start > 0.05, "the two calls did not overlap"
    assert inside > 1000, f"only {inside} iterations of the main thread while both threads predicted"
