"""(a) The five real CSAW networks: built by the challenge's own architecture.py (Keras 2 through
tf_keras, and Keras 3), loaded with the shared weights, saved as a full-model .h5 and a .keras
archive; prunedef's logits from each file (and from the weights-only file) against Keras'."""

import numpy as np

from prunedef_keras import (SCALE_255, Failure, check_pre_softmax, compare_logits, keras_input, keras_logits, load_model,
                            prunedef_logits, read_dataset, run_architecture_py, run_tool, save_model, write_dataset)

# (weights file stem, input scale, poisoned sample sets): the table of ../shared/README.md.
CSAW_MODELS = [
    ("lab3_sunglasses", 1.0, ["lab3_sunglasses_samples"]),
    ("sunglasses", SCALE_255, ["sunglasses_samples"]),
    ("anonymous_1", SCALE_255, ["anonymous_1_samples"]),
    ("anonymous_2", SCALE_255, []),
    ("multi_trigger_multi_target", SCALE_255, ["eyebrows_samples", "multi_sunglasses_samples"]),
]


def scale_of(stem):
    return next(s for m, s, _ in CSAW_MODELS if m == stem)


def weights_file(ctx, stem):
    return ctx.shared_path("models", "csaw", stem + "_bd_weights.h5")


def full_model_file(ctx, stem, kind):
    """<stem>.h5 (tf_keras model.save) or <stem>.keras (Keras 3), built by architecture.py."""
    def make():
        arch = ctx.shared_path("csaw_challenge", "architecture.py")
        model = run_architecture_py(arch, kind)
        model.load_weights(weights_file(ctx, stem))
        return save_model(model, ctx.path(stem + (".h5" if kind == "keras2" else ".keras")))
    return ctx.memo(("csaw", stem, kind), make)


def sample_sets(ctx, stem):
    poisoned = next(p for m, _, p in CSAW_MODELS if m == stem)
    return [ctx.shared_path("data", "csaw", n + ".h5") for n in ["clean_samples"] + poisoned]


def keras_reference(ctx, model_file, data_file, scale):
    """Keras' pre-softmax logits of a saved model file (opened as a user would) on a data set."""
    def make():
        data, _ = read_dataset(data_file)
        return keras_logits(ctx.memo(("loaded", model_file), lambda: load_model(model_file)), keras_input(data, scale))
    return ctx.memo(("ref", model_file, data_file, scale), make)


def check_keras_agree(stem):
    """The Python side itself: Keras 2 and Keras 3 give the same logits, and the accuracy
    on clean_samples is the README's."""
    def check(ctx):
        scale, notes = scale_of(stem), []
        for data_file in sample_sets(ctx, stem):
            k2 = keras_reference(ctx, full_model_file(ctx, stem, "keras2"), data_file, scale)
            k3 = keras_reference(ctx, full_model_file(ctx, stem, "keras3"), data_file, scale)
            notes.append(compare_logits(f"tf_keras vs keras 3 on {data_file.split('/')[-1]}", k3, k2))
        clean = sample_sets(ctx, stem)[0]
        _, labels = read_dataset(clean)
        k2 = keras_reference(ctx, full_model_file(ctx, stem, "keras2"), clean, scale)
        acc = 100 * np.mean(k2.argmax(1) == labels)
        expected = {"lab3_sunglasses": 99.2, "sunglasses": 95.0, "anonymous_1": 96.7, "anonymous_2": 95.0,
                    "multi_trigger_multi_target": 92.5}[stem]
        if abs(acc - expected) > 0.05:
            raise Failure(f"Keras' accuracy on clean_samples is {acc:.2f}%, the README says {expected}%")
        notes.append(f"Keras' clean_samples accuracy {acc:.2f}% (README: {expected}%)")
        data, _ = read_dataset(clean)
        model = ctx.memo(("loaded", full_model_file(ctx, stem, "keras2")),
                         lambda: load_model(full_model_file(ctx, stem, "keras2")))
        notes.append(check_pre_softmax("tf_keras", model, keras_input(data, scale), k2))
        return notes
    return check


def check_predict(stem, source):
    """prunedef predict on the weights-only file ('weights'), the full-model .h5 ('h5') or the
    .keras archive ('keras') against Keras' logits; the weights-only and full-model results are
    the same network, so they must be equal."""
    def check(ctx):
        scale, notes = scale_of(stem), []
        for data_file in sample_sets(ctx, stem):
            name = data_file.split("/")[-1]
            ref_file = full_model_file(ctx, stem, "keras3" if source == "keras" else "keras2")
            ref = keras_reference(ctx, ref_file, data_file, scale)
            model = {"weights": lambda: weights_file(ctx, stem), "h5": lambda: full_model_file(ctx, stem, "keras2"),
                     "keras": lambda: full_model_file(ctx, stem, "keras3")}[source]()
            ours = prunedef_logits(ctx, model, data_file, scale)
            notes.append(compare_logits(f"{source} on {name}", ours, ref))
            if source != "weights":
                plain = prunedef_logits(ctx, weights_file(ctx, stem), data_file, scale)
                if not np.array_equal(plain, ours):
                    d = float(np.max(np.abs(plain - ours)))
                    raise Failure(f"{name}: predict on the full-model file differs from predict on the weights-only "
                                  f"file by up to {d:.3g} (the same DeepID network: they must be equal)")
                notes.append(f"{source} on {name}: equal to the weights-only file's logits")
        return notes
    return check


def check_label_column(ctx):
    """Labels stored as (N, 1), common in real files: predict and eval give what they give
    with (N,) labels."""
    clean = ctx.shared_path("data", "csaw", "clean_samples.h5")
    data, labels = read_dataset(clean)
    column = write_dataset(ctx.path("clean_samples_label_column.h5"), data, labels.reshape(-1, 1))
    weights, notes = weights_file(ctx, "lab3_sunglasses"), []
    if not np.array_equal(prunedef_logits(ctx, weights, column, 1.0), prunedef_logits(ctx, weights, clean, 1.0)):
        raise Failure("predict: labels (N, 1) change the logits")
    evals = [run_tool(ctx, "eval", "--model", weights, "--scale", "1", "--clean", f).stdout for f in (column, clean)]
    if evals[0] != evals[1]:
        raise Failure(f"eval with labels (N, 1) prints {evals[0]!r}, with (N,) {evals[1]!r}")
    notes.append(f"labels (N, 1): the same logits and eval lines ({evals[0].strip()})")
    return notes


CHECKS = [("csaw: data sets with labels (N, 1) are read as (N,)", check_label_column)]
for _stem, _, _ in CSAW_MODELS:
    CHECKS.append((f"csaw/{_stem}: tf_keras and keras 3 agree (Python side)", check_keras_agree(_stem)))
    for _source in ("weights", "h5", "keras"):
        CHECKS.append((f"csaw/{_stem}: predict on {_source} file vs Keras", check_predict(_stem, _source)))
