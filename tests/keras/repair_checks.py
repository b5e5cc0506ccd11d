"""(c) `prunedef repair` on full-model files (the lab3 network on the shared samples, the
Fashion-MNIST BadNet as a DeepID-shaped Keras model), as .h5 and .keras: every B' it writes
opens in Keras (tf_keras for .h5, Keras 3 for .keras), predicts what `prunedef predict`
predicts on the B' file, and has the accuracy and attack success report.json gives it."""

import json
import os
import re
import shutil

import numpy as np

from csaw_checks import full_model_file
from prunedef_keras import (Failure, b_prime_files, compare_logits, extension, keras_input, keras_logits, keras_module,
                            load_model, prunedef_logits, read_dataset, run_tool, save_model)


def fmnist_deepid(K):
    """DeepID's topology and layer names with the sizes of ../shared/fmnist_badnet (README)."""
    L = K.layers
    x = K.Input(shape=(28, 28, 1), name="input")
    c1 = L.Conv2D(16, (3, 3), activation="relu", name="conv_1")(x)
    p1 = L.MaxPooling2D((2, 2), name="pool_1")(c1)
    c2 = L.Conv2D(32, (3, 3), activation="relu", name="conv_2")(p1)
    p2 = L.MaxPooling2D((2, 2), name="pool_2")(c2)
    c3 = L.Conv2D(64, (2, 2), activation="relu", name="conv_3")(p2)
    p3 = L.MaxPooling2D((2, 2), name="pool_3")(c3)
    f1 = L.Dense(128, name="fc_1")(L.Flatten()(p3))
    c4 = L.Conv2D(64, (2, 2), activation="relu", name="conv_4")(p3)
    f2 = L.Dense(128, name="fc_2")(L.Flatten()(c4))
    a = L.Activation("relu")(L.Add()([f1, f2]))
    return K.Model(inputs=x, outputs=L.Dense(10, activation="softmax", name="output")(a))


def fmnist_model_file(ctx, kind):
    def make():
        model = fmnist_deepid(keras_module(kind))
        model.load_weights(ctx.shared_path("fmnist_badnet", "bd_weights.h5"))
        return save_model(model, ctx.path("fmnist_badnet" + extension(kind)))
    return ctx.memo(("fmnist", kind), make)


def lab3_case(ctx, kind):
    data = ctx.shared_path("data", "csaw")
    return dict(model=full_model_file(ctx, "lab3_sunglasses", kind), scale=1.0,
                valid=os.path.join(data, "clean_samples.h5"), test=None,
                poisoned=os.path.join(data, "lab3_sunglasses_samples.h5"))


def fmnist_case(ctx, kind):
    fm = ctx.shared_path("fmnist_badnet")
    return dict(model=fmnist_model_file(ctx, kind), scale=1.0, valid=os.path.join(fm, "valid.h5"),
                test=os.path.join(fm, "test.h5"), poisoned=os.path.join(fm, "bd_test.h5"))


def repair_dir(ctx, case_name, kind, case, drops="2,4,10"):
    """Runs `prunedef repair` once per (case, kind); returns the output directory."""
    def make():
        out = ctx.path(f"repair_{case_name}{extension(kind)}")
        shutil.rmtree(out, ignore_errors=True)
        args = ["repair", "--model", case["model"], "--valid", case["valid"], "--poisoned", case["poisoned"],
                "--out", out, "--scale", repr(case["scale"]), "--drops", drops]
        if case["test"]:
            args += ["--test", case["test"]]
        run_tool(ctx, *args)
        return out
    return ctx.memo(("repair", case_name, kind), make)


def threshold_of(report, path):
    """The report.json threshold whose B' is `path` (repaired_X<x>[rel].ext)."""
    m = re.search(r"_X([0-9.]+)(rel)?\.", os.path.basename(path))
    if not m:
        return None
    for t in report.get("thresholds", []):
        if float(t["x"]) == float(m.group(1)) and bool(t.get("relative")) == bool(m.group(2)):
            return t
    return None


def check_repair(case_name, kind):
    def check(ctx):
        case = (lab3_case if case_name == "lab3" else fmnist_case)(ctx, kind)
        out = repair_dir(ctx, case_name, kind, case)
        files = b_prime_files(out, extension(kind))
        if not files:
            raise Failure(f"repair wrote no B' file *_X*{extension(kind)} in {out}: {sorted(os.listdir(out))}")
        with open(os.path.join(out, "report.json")) as f:
            report = json.load(f)
        # the test sets B' is checked on: the clean test set (valid for lab3, which has none) and the poisoned one
        clean = case["test"] or case["valid"]
        notes = []
        for path in files:
            name = os.path.basename(path)
            try:
                model = load_model(path)
            except Exception as e:
                raise Failure(f"Keras cannot open B' {path} ({'tf_keras.models' if kind == 'keras2' else 'keras.saving'}"
                              f".load_model): {type(e).__name__}: {e}")
            t = threshold_of(report, path)
            for data_file, key in ((clean, "test" if case["test"] else "valid"), (case["poisoned"], "poisoned")):
                data, labels = read_dataset(data_file)
                ref = keras_logits(model, keras_input(data, case["scale"]))
                ours = prunedef_logits(ctx, path, data_file, case["scale"])
                notes.append(compare_logits(f"{name} on {os.path.basename(data_file)}", ours, ref))
                if t is None:
                    raise Failure(f"report.json has no threshold for {name}")
                acc = 100 * float(np.mean(ref.argmax(axis=1) == labels))
                field = {"test": "repaired_test_accuracy", "valid": "repaired_valid_accuracy",
                         "poisoned": "repaired_attack_success"}[key]
                if field in t and t[field] is not None and abs(acc - float(t[field])) > 1e-9:
                    raise Failure(f"{name}: Keras' {field} is {acc}, report.json says {t[field]}")
                notes.append(f"{name}: Keras' {field} {acc:.4g} = report.json's")
        return notes
    return check


CHECKS = []
for _case in ("lab3", "fmnist"):
    for _kind in ("keras2", "keras3"):
        CHECKS.append((f"repair/{_case}{extension(_kind)}: every B' opens in Keras and predicts as prunedef",
                       check_repair(_case, _kind)))


def check_graph_repair(name, kind, layer=None):
    """`prunedef repair` on an architecture that is not DeepID (a run-time graph network): every
    B' opens in Keras and predicts as prunedef, and `prunedef eval --goodnet` on each GoodNet file
    prints what G = GoodNet<B, B'> computed from Keras' own B and B' predictions gives."""
    def check(ctx):
        from architecture_checks import dataset, model_file
        data, data_file, scale = dataset(ctx, name)
        model = model_file(ctx, name, kind)
        out = ctx.path(f"repair_graph_{name}_{layer or 'default'}{extension(kind)}")
        shutil.rmtree(out, ignore_errors=True)
        args = ["repair", "--model", model, "--valid", data_file, "--poisoned", data_file, "--out", out,
                "--scale", repr(scale)]
        if layer:
            args += ["--layer", layer]
        run_tool(ctx, *args)
        with open(os.path.join(out, "report.json")) as f:
            report = json.load(f)
        architecture = report["context"].get("architecture", "")
        if not architecture.startswith("graph network"):
            raise Failure(f"{name}: report.json context.architecture is {architecture!r}, not a graph network")
        if layer and report["pruned_layer"] != layer:
            raise Failure(f"{name}: --layer {layer} but report.json says pruned_layer {report['pruned_layer']}")
        files = b_prime_files(out, extension(kind))
        if not files:
            raise Failure(f"repair wrote no B' file *_X*{extension(kind)} in {out}: {sorted(os.listdir(out))}")
        _, labels = read_dataset(data_file)
        x = keras_input(data, scale)
        b_pred = keras_logits(load_model(model), x).argmax(axis=1)
        classes = report["classes"]
        notes = [f"pruned layer {report['pruned_layer']} ({report['channels']} channels)"]
        for path in files:
            bprime = load_model(path)
            ref = keras_logits(bprime, x)
            notes.append(compare_logits(os.path.basename(path), prunedef_logits(ctx, path, data_file, scale), ref))
            g = np.where(b_pred == ref.argmax(axis=1), b_pred, classes)
            goodnet = os.path.join(out, os.path.basename(path).replace("repaired_", "goodnet_").rsplit(".", 1)[0] + ".h5")
            lines = run_tool(ctx, "eval", "--goodnet", goodnet, "--clean", data_file).stdout.splitlines()
            # eval.py's formula: np.mean(pred == label) * 100, printed as Python prints a float
            want = [f"Clean Classification accuracy: {float(np.mean(g == labels) * 100)!r}",
                    f"Clean False Positive Rate: {float(np.mean(g == classes) * 100)!r}"]
            if lines != want:
                raise Failure(f"eval --goodnet {goodnet}: {lines}, G from Keras' B and B' gives {want}")
            notes.append(f"{os.path.basename(goodnet)}: eval --goodnet = G from Keras' B and B'")
        return notes
    return check


for _name, _layer in (("fmnist_residual", None), ("inception_concat", None), ("conv_bn_head", "hidden")):
    for _kind in ("keras2", "keras3"):
        CHECKS.append((f"repair/{_name}{extension(_kind)}{' --layer ' + _layer if _layer else ''}: graph network, "
                       "every B' opens in Keras and predicts as prunedef, eval --goodnet = G from Keras",
                       check_graph_repair(_name, _kind, _layer)))


def check_graph_finetune(name, kind):
    """`prunedef repair --fine-tune 1` on a run-time graph network (BatchNormalization trained in
    Keras' own parametrisation, then folded again): the fine-pruned B' opens in Keras, predicts
    what `prunedef predict` says, has the valid accuracy report.json gives it, and differs from
    the pruned B' it was trained from."""
    def check(ctx):
        from architecture_checks import dataset, model_file
        data, data_file, scale = dataset(ctx, name)
        model = model_file(ctx, name, kind)
        out = ctx.path(f"finetune_graph_{name}{extension(kind)}")
        shutil.rmtree(out, ignore_errors=True)
        run_tool(ctx, "repair", "--model", model, "--valid", data_file, "--poisoned", data_file, "--out", out,
                 "--scale", repr(scale), "--drops", "10", "--fine-tune", "1", "--batch", "16", "--lr", "0.01")
        with open(os.path.join(out, "report.json")) as f:
            report = json.load(f)
        tuned = [p for p in b_prime_files(out, extension(kind)) if os.path.basename(p).startswith("finepruned_")]
        if len(tuned) != 1:
            raise Failure(f"repair --fine-tune wrote {len(tuned)} fine-pruned B' files in {out}: {sorted(os.listdir(out))}")
        path = tuned[0]
        t = report["thresholds"][0]
        if not t.get("fine_tuned"):
            raise Failure(f"{name}: report.json has no fine_tuned figures")
        _, labels = read_dataset(data_file)
        x = keras_input(data, scale)
        bprime = load_model(path)
        ref = keras_logits(bprime, x)
        notes = [compare_logits(os.path.basename(path), prunedef_logits(ctx, path, data_file, scale), ref)]
        acc = 100 * float(np.mean(ref.argmax(axis=1) == labels.reshape(-1)))
        if abs(acc - float(t["fine_tuned"]["valid_accuracy"])) > 1e-9:
            raise Failure(f"{name}: Keras' accuracy of {path} is {acc}, report.json's fine_tuned valid_accuracy "
                          f"{t['fine_tuned']['valid_accuracy']}")
        repaired = load_model(path.replace("finepruned_", "repaired_"))
        if all(np.array_equal(a, b) for a, b in zip(bprime.get_weights(), repaired.get_weights())):
            raise Failure(f"{name}: the fine-pruned B' has the weights of the pruned B' (nothing trained)")
        notes.append(f"{os.path.basename(path)}: Keras' valid accuracy {acc:.4g} = report.json's")
        return notes
    return check


for _name, _kind in (("fmnist_residual", "keras2"), ("conv_bn_head", "keras3")):
    CHECKS.append((f"repair/{_name}{extension(_kind)} --fine-tune: graph network, the fine-pruned B' opens in "
                   "Keras and predicts as prunedef", check_graph_finetune(_name, _kind)))
