#!/usr/bin/env python3
"""The CSAW-HackML lab with prunedef from Python: load the backdoored network B, repair it with
the clean validation set, evaluate the GoodNet G on clean and poisoned test data, and plot
accuracy and attack success against the fraction of conv_3's channels pruned.

With the challenge's files:
    python csaw_lab.py --model bd_net.h5 --scale 1 --valid valid.h5 --test test.h5 \
                       --poisoned bd_test.h5 --out lab
With prunedef's shared samples (../shared; what CI runs): the lab's B1 (raw pixels), the 120
clean sample faces split into validation and test halves, and the 14 sunglasses images:
    python csaw_lab.py --shared ../shared --out lab
Writes lab/curve.png and the repair's files (sweep.csv, report.md, B' and G per X).
"""

import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import prunedef  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", help="prunedef's shared directory (models/csaw, data/csaw)")
    ap.add_argument("--model"), ap.add_argument("--scale", default=None)
    ap.add_argument("--valid"), ap.add_argument("--test"), ap.add_argument("--poisoned")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    if a.shared:
        csaw = os.path.join(a.shared, "data", "csaw")
        model_path = os.path.join(a.shared, "models", "csaw", "lab3_sunglasses_bd_weights.h5")
        if not os.path.exists(model_path):
            print(f"csaw_lab.py: {model_path} is absent: skipped", file=sys.stderr)
            return 77
        scale = 1  # the lab's B1 was trained on raw pixels
        images, labels = prunedef.read_dataset(os.path.join(csaw, "clean_samples.h5"))
        half = len(labels) // 2
        valid, test = (images[:half], labels[:half]), (images[half:], labels[half:])
        poisoned = prunedef.read_dataset(os.path.join(csaw, "lab3_sunglasses_samples.h5"))
    else:
        model_path, scale = a.model, a.scale
        valid, test = a.valid, a.test
        poisoned = prunedef.read_dataset(a.poisoned)

    # 1. B
    b = prunedef.load_model(model_path, scale=scale)
    # 2. repair with the validation set (only it decides where to stop)
    r = prunedef.repair(b, valid=valid, test=test, poisoned=poisoned, drops=(2, 4, 10))
    # 3. G on clean and poisoned test data
    test_images, test_labels = test if isinstance(test, tuple) else prunedef.read_dataset(test)
    bd_images, bd_labels = poisoned
    print(f"B: clean accuracy {100 * np.mean(b.predict(test_images) == test_labels):.2f} %, "
          f"attack success {100 * np.mean(b.predict(bd_images) == bd_labels):.2f} %")
    for t in r.thresholds:
        g = t.goodnet
        clean = g.predict(test_images)
        bd = g.predict(bd_images)
        # the repair measured the same G on the same images
        assert np.isclose(100 * np.mean(clean == test_labels), t.goodnet_test["matched_percent"])
        assert np.isclose(100 * np.mean(bd == g.detected_class), t.goodnet_poisoned["flagged_percent"])
        print(f"X = {t.x:g} %: {t.k} of {r.channels} channels pruned; G clean accuracy "
              f"{100 * np.mean(clean == test_labels):.2f} %, attack success {100 * np.mean(bd == bd_labels):.2f} %, "
              f"backdoor detected on {100 * np.mean(bd == g.detected_class):.2f} % of the poisoned images")
    # 4. the curve
    s = r.sweep
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(s["fraction_pruned"], s["valid_acc"], label="clean validation accuracy (B')")
    ax.plot(s["fraction_pruned"], s["test_acc"], label="clean test accuracy (B')")
    ax.plot(s["fraction_pruned"], s["asr"], label="attack success rate (B')")
    for t in r.thresholds:
        ax.axvline(t.fraction_pruned, color="grey", lw=0.5, ls=":")
    ax.set_xlabel(f"fraction of {r.pruned_layer}'s channels pruned")
    ax.set_ylabel("percent")
    ax.legend(loc="lower left")
    os.makedirs(a.out, exist_ok=True)
    png = os.path.join(a.out, "curve.png")
    fig.savefig(png, dpi=100, bbox_inches="tight")
    r.write(os.path.join(a.out, "repair"), replace=True)
    print(f"wrote {png} and {os.path.join(a.out, 'repair')}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
