"""repair() against 'prunedef repair' on the Fashion-MNIST BadNet: the sweep, B', G, the files."""

import csv
import math
import os

import h5py
import numpy as np
import pytest

import prunedef


def read(path):
    with h5py.File(path, "r") as f:
        return f["data"][:], f["label"][:]


def tool_sweep(out):
    with open(out / "sweep.csv", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


@pytest.fixture(scope="module")
def result(fmnist):
    # the call a notebook user writes first
    return prunedef.repair(str(fmnist["bd_weights.h5"]), scale=1, valid=str(fmnist["valid.h5"]),
                           test=str(fmnist["test.h5"]), poisoned=str(fmnist["bd_test.h5"]))


def cell(name, value):
    """A sweep array value as sweep.csv writes it."""
    if name in ("k", "channel"):
        return "" if value < 0 else str(int(value))
    if isinstance(value, float) and math.isnan(value):
        return ""
    return f"{value:.{4 if name == 'fraction_pruned' else 3}f}"


def test_sweep_columns_equal_the_tools_sweep_csv(result, tool_repair):
    header, rows = tool_sweep(tool_repair)
    assert list(result.sweep) == header
    n = len(rows)
    assert n == 65  # k = 0..64 (conv_3 has 64 channels)
    for j, name in enumerate(header):
        column = result.sweep[name]
        assert isinstance(column, np.ndarray) and column.shape == (n,)
        assert [cell(name, v) for v in column.tolist()] == [r[j] for r in rows], name
    assert result.sweep_csv() == (tool_repair / "sweep.csv").read_text()
    assert result.order == [int(r[1]) for r in rows[1:]]


def test_thresholds_bprime_and_goodnet_equal_the_tools(result, tool_repair, fmnist):
    x, y = read(fmnist["test.h5"])
    xp, _ = read(fmnist["bd_test.h5"])
    b = prunedef.load_model(fmnist["bd_weights.h5"], scale=1)
    assert [t.tag for t in result.thresholds] == ["X2", "X4", "X10"]
    for t in result.thresholds:
        assert t.k == len(t.pruned_channels) and t.pruned_channels == result.order[:t.k]
        tool_bprime = prunedef.load_model(tool_repair / f"repaired_{t.tag}.h5")
        for images in (x, xp):
            pb, pbp = b.predict(images), tool_bprime.predict(images)
            assert np.array_equal(t.bprime.predict(images), pbp)
            assert np.array_equal(t.bprime.logits(images), tool_bprime.logits(images))
            expected_g = np.where(pb == pbp, pb, 10)
            assert np.array_equal(t.goodnet.predict(images), expected_g)
        # the figures agree with the sweep at step k
        assert t.valid_accuracy == result.sweep["valid_acc"][t.k]
        assert t.test_accuracy == pytest.approx(100 * np.mean(t.bprime.predict(x) == y))
        assert t.goodnet.detected_class == 10


def test_write_gives_the_tools_files(result, tool_repair, tmp_path):
    out = tmp_path / "out"
    result.write(str(out))
    visible = lambda d: sorted(n for n in os.listdir(d) if not n.startswith("."))  # noqa: E731 (the tool's lock file)
    assert visible(out) == visible(tool_repair)
    assert (out / "sweep.csv").read_text() == (tool_repair / "sweep.csv").read_text()
    with pytest.raises(prunedef.IoError, match="not empty"):
        result.write(str(out))
    result.write(str(out), replace=True)
    # B' written by the module reads back as the tool's
    for t in result.thresholds:
        a = prunedef.load_model(out / f"repaired_{t.tag}.h5")
        b = prunedef.load_model(tool_repair / f"repaired_{t.tag}.h5")
        z = np.random.default_rng(1).integers(0, 256, (50, 1, 28, 28), dtype=np.uint8)
        assert np.array_equal(a.logits(z), b.logits(z))


def test_numpy_arrays_give_the_same_sweep_as_paths(result, fmnist):
    valid, test, bd = (read(fmnist[n]) for n in ("valid.h5", "test.h5", "bd_test.h5"))
    model = prunedef.load_model(fmnist["bd_weights.h5"], scale=1)
    nhwc = lambda d: (np.ascontiguousarray(d[0].transpose(0, 2, 3, 1)), d[1])  # noqa: E731
    r = prunedef.repair(model, valid=nhwc(valid), test=test, poisoned={"poisoned": nhwc(bd)})
    assert list(r.sweep) == list(result.sweep)
    for name in result.sweep:
        assert np.array_equal(r.sweep[name], result.sweep[name], equal_nan=True), name
    assert [t.k for t in r.thresholds] == [t.k for t in result.thresholds]


def test_progress_callback_and_its_exception(fmnist):
    seen = []
    prunedef.repair(fmnist["bd_weights.h5"], scale=1, valid=fmnist["valid.h5"], poisoned=fmnist["bd_valid.h5"],
                    drops=[4], progress=lambda stage, done, total: seen.append((stage, done, total)))
    stages = {s for s, _, _ in seen}
    assert {"validation", "poisoned"} <= stages
    assert ("validation", 5000, 5000) in seen

    class Stop(Exception):
        pass

    def stop(stage, done, total):
        raise Stop(stage)

    with pytest.raises(Stop, match="validation"):
        prunedef.repair(fmnist["bd_weights.h5"], scale=1, valid=fmnist["valid.h5"], progress=stop)


def test_scale_chosen_from_the_data_with_a_warning(fmnist):
    with pytest.warns(UserWarning, match="input scale 1 chosen from the data"):
        r = prunedef.repair(fmnist["bd_weights.h5"], valid=fmnist["valid.h5"], drops=[2])
    assert r.model.input_scale == 1.0


def test_fine_pruning_equals_the_tools(tool, fmnist, tmp_path):
    from conftest import run_tool
    import json
    out = tmp_path / "tool"
    run_tool(tool, "repair", "--model", fmnist["bd_weights.h5"], "--scale", "1", "--valid", fmnist["valid.h5"],
             "--poisoned", fmnist["bd_test.h5"], "--drops", "4", "--fine-tune", "1", "--out", out, "--quiet")
    r = prunedef.repair(fmnist["bd_weights.h5"], scale=1, valid=fmnist["valid.h5"], poisoned=fmnist["bd_test.h5"],
                        drops=[4], fine_tune=1)
    f = r.thresholds[0].fine_tuned
    assert f is not None and f.epochs == 1 and f.clean_set == "holdout"
    report = json.loads((out / "report.json").read_text())
    assert json.loads(r.json())["thresholds"] == report["thresholds"]
    tool_tuned = prunedef.load_model(out / "finepruned_X4.h5")
    x, _ = read(fmnist["bd_test.h5"])
    assert np.array_equal(f.bprime.logits(x), tool_tuned.logits(x))
    b = prunedef.load_model(fmnist["bd_weights.h5"], scale=1)
    pb, pbp = b.predict(x), tool_tuned.predict(x)
    assert np.array_equal(f.goodnet.predict(x), np.where(pb == pbp, pb, 10))
    assert f.attack_success == pytest.approx(100 * np.mean(pbp == 0))


def test_several_poisoned_sets_give_the_tools_columns(tool, fmnist, tmp_path):
    from conftest import run_tool
    out = tmp_path / "tool"
    run_tool(tool, "repair", "--model", fmnist["bd_weights.h5"], "--scale", "1", "--valid", fmnist["valid.h5"],
             "--poisoned", fmnist["bd_test.h5"], "--poisoned", "early=" + str(fmnist["bd_valid.h5"]),
             "--drops", "2,10", "--relative", "--out", out, "--quiet")
    r = prunedef.repair(fmnist["bd_weights.h5"], scale=1, valid=fmnist["valid.h5"],
                        poisoned={"bd_test": fmnist["bd_test.h5"], "early": fmnist["bd_valid.h5"]},
                        drops=[2, 10], relative=True)
    header, rows = tool_sweep(out)
    assert "asr_early" in header and "g_detect_bd_test" in header
    assert list(r.sweep) == header
    for j, name in enumerate(header):
        assert [cell(name, v) for v in r.sweep[name].tolist()] == [row[j] for row in rows], name
    assert [t.tag for t in r.thresholds] == ["X2rel", "X10rel"]


@pytest.mark.parametrize("order,extra,kwargs", [
    ("clp", [], {}),
    ("anp", ["--anp-iterations", "30", "--anp-eps", "0.3"], {"anp_iterations": 30, "anp_eps": 0.3}),
])
def test_every_order_of_the_tool_gives_the_tools_report(tool, fmnist, tmp_path, order, extra, kwargs):
    from conftest import run_tool
    import json
    out = tmp_path / "tool"
    run_tool(tool, "repair", "--model", fmnist["bd_weights.h5"], "--scale", "1", "--valid", fmnist["valid.h5"],
             "--poisoned", fmnist["bd_test.h5"], "--drops", "4", "--order", order, *extra, "--out", out, "--quiet")
    r = prunedef.repair(fmnist["bd_weights.h5"], scale=1, valid=fmnist["valid.h5"], poisoned=fmnist["bd_test.h5"],
                        drops=[4], order=order, **kwargs)
    report = json.loads((out / "report.json").read_text())
    assert report["policy"] == order
    assert list(r.order) == report["order"]
    assert json.loads(r.json())["thresholds"] == report["thresholds"]


def test_regularised_fine_tuning_equals_the_tools(tool, fmnist, tmp_path):
    from conftest import run_tool
    import json
    out = tmp_path / "tool"
    run_tool(tool, "repair", "--model", fmnist["bd_weights.h5"], "--scale", "1", "--valid", fmnist["valid.h5"],
             "--drops", "4", "--fine-tune", "1", "--weight-decay", "0.01", "--augment-shift", "2", "--augment-flip",
             "--augment-erase", "0.5", "--sam", "0.05", "--sam-adaptive", "--distill", "0.5,2", "--out", out, "--quiet")
    r = prunedef.repair(fmnist["bd_weights.h5"], scale=1, valid=fmnist["valid.h5"], drops=[4], fine_tune=1,
                        weight_decay=0.01, augment_shift=2, augment_flip=True, augment_erase=0.5, sam=0.05,
                        sam_adaptive=True, distill=(0.5, 2))
    tuned = json.loads(r.json())["thresholds"][0]["fine_tuned"]
    assert tuned == json.loads((out / "report.json").read_text())["thresholds"][0]["fine_tuned"]
    assert tuned["weight_decay"] == pytest.approx(0.01) and tuned["sam_rho"] == pytest.approx(0.05)
    assert tuned["distillation"] == {"weight": 0.5, "temperature": 2.0}
    assert tuned["sam_adaptive"] is True
    assert tuned["augment_erase"] == pytest.approx(0.5)


def test_order_and_fine_tuning_options_are_checked(fmnist):
    with pytest.raises(prunedef.ArgumentError, match="order 'random': expected one of 'increasing'"):
        prunedef.repair(fmnist["bd_weights.h5"], scale=1, valid=fmnist["valid.h5"], order="random")
    with pytest.raises(prunedef.ArgumentError, match="anp_eps: only with order='anp'"):
        prunedef.repair(fmnist["bd_weights.h5"], scale=1, valid=fmnist["valid.h5"], anp_eps=0.2)
    with pytest.raises(prunedef.ArgumentError, match="weight decay must be finite and >= 0"):
        prunedef.repair(fmnist["bd_weights.h5"], scale=1, valid=fmnist["valid.h5"], drops=[4], fine_tune=1,
                        weight_decay=-1)
    with pytest.raises(prunedef.ArgumentError, match="adaptive SAM needs a radius"):
        prunedef.repair(fmnist["bd_weights.h5"], scale=1, valid=fmnist["valid.h5"], drops=[4], fine_tune=1,
                        sam_adaptive=True)
    with pytest.raises(prunedef.ArgumentError, match="random erasing: the probability must be in"):
        prunedef.repair(fmnist["bd_weights.h5"], scale=1, valid=fmnist["valid.h5"], drops=[4], fine_tune=1,
                        augment_erase=1.5)
