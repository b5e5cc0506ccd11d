"""(d) The challenge's own graders, run unchanged from ../shared/csaw_challenge with tf_keras
standing in for keras: lab3_eval.py (raw pixels) on the lab3 network and its B', eval.py (which
divides pixels by 255) on the sunglasses network and its B'; what they print must be what
`prunedef eval` prints for the same file."""

import os

from csaw_checks import full_model_file
from prunedef_keras import (SCALE_255, Failure, b_prime_files, extension, parse_eval_lines, run_script, run_tool)
from repair_checks import lab3_case, repair_dir


def sunglasses_case(ctx, kind):
    data = ctx.shared_path("data", "csaw")
    return dict(model=full_model_file(ctx, "sunglasses", kind), scale=SCALE_255,
                valid=os.path.join(data, "clean_samples.h5"), test=None,
                poisoned=os.path.join(data, "sunglasses_samples.h5"))


def b_prime(ctx, case_name, kind):
    """B' of the X=4 threshold (the repair of repair_checks, or of the sunglasses network)."""
    case = (lab3_case if case_name == "lab3" else sunglasses_case)(ctx, kind)
    out = repair_dir(ctx, case_name, kind, case)
    files = [f for f in b_prime_files(out, extension(kind)) if "_X4" in os.path.basename(f)]
    if not files:
        raise Failure(f"repair wrote no B' *_X4*{extension(kind)} in {out}: {sorted(os.listdir(out))}")
    return files[0]


def run_grader(script, argv, kind):
    """The script's output; a crash (Keras cannot open the model, ...) is a Failure saying so."""
    try:
        return run_script(script, argv, kind)
    except Exception as e:
        raise Failure(f"{os.path.basename(script)} {' '.join(map(str, argv))} failed "
                      f"(keras = {'tf_keras' if kind == 'keras2' else 'keras 3'}): {type(e).__name__}: {e}")


def compare_with_prunedef(ctx, script, printed, model, scale, clean, poisoned=None):
    args = ["eval", "--model", model, "--clean", clean, "--scale", repr(scale)]
    if poisoned:
        args += ["--poisoned", poisoned]
    ours = parse_eval_lines(run_tool(ctx, *args).stdout)
    theirs = parse_eval_lines(printed)
    if os.path.basename(script) == "eval.py":
        # eval.py says "Classification accuracy:", prunedef eval "Clean Classification accuracy:"
        theirs = ["Clean " + l for l in theirs]
    if not theirs:
        raise Failure(f"{os.path.basename(script)} printed no result line: {printed!r}")
    if ours != theirs:
        raise Failure(f"{os.path.basename(script)} on {model} printed {theirs}, prunedef eval {ours}")
    return f"{os.path.basename(script)} on {os.path.basename(model)}: {theirs} = prunedef eval's"


def check_lab3_eval(which):
    """lab3_eval.py clean_samples.h5 lab3_sunglasses_samples.h5 MODEL (raw pixels, scale 1)."""
    def check(ctx):
        script = ctx.shared_path("csaw_challenge", "lab3_eval.py")
        case = lab3_case(ctx, "keras2")
        model = case["model"] if which == "B" else b_prime(ctx, "lab3", "keras2")
        printed = run_grader(script, [case["valid"], case["poisoned"], model], "keras2")
        return [compare_with_prunedef(ctx, script, printed, model, 1.0, case["valid"], case["poisoned"])]
    return check


def check_eval(which, kind):
    """eval.py clean_samples.h5 MODEL (pixels / 255: the sunglasses network). With kind keras3
    the script runs with Keras 3 as keras, on the .keras file."""
    def check(ctx):
        script = ctx.shared_path("csaw_challenge", "eval.py")
        case = sunglasses_case(ctx, kind)
        model = case["model"] if which == "B" else b_prime(ctx, "sunglasses", kind)
        printed = run_grader(script, [case["valid"], model], kind)
        return [compare_with_prunedef(ctx, script, printed, model, SCALE_255, case["valid"])]
    return check


CHECKS = [
    ("eval/lab3_eval.py (tf_keras) on the lab3 network B (.h5) = prunedef eval", check_lab3_eval("B")),
    ("eval/lab3_eval.py (tf_keras) on the lab3 B' (.h5) = prunedef eval", check_lab3_eval("B'")),
    ("eval/eval.py (tf_keras) on the sunglasses network B (.h5) = prunedef eval", check_eval("B", "keras2")),
    ("eval/eval.py (tf_keras) on the sunglasses B' (.h5) = prunedef eval", check_eval("B'", "keras2")),
    ("eval/eval.py (keras 3) on the sunglasses B' (.keras) = prunedef eval", check_eval("B'", "keras3")),
]
