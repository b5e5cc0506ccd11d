"""Checks prunedef against real Keras, in one process (TensorFlow imports once).

usage: python run_checks.py PRUNEDEF SHARED_DIR WORK_DIR [NAME_SUBSTRING ...]
Exit code: 0 all passed, 1 any failed, 77 none failed but some skipped (../shared absent).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import prunedef_keras  # noqa: E402  (fails the run when TensorFlow / Keras are missing)
import architecture_checks  # noqa: E402
import csaw_checks  # noqa: E402
import eval_checks  # noqa: E402
import onnx_checks  # noqa: E402
import repair_checks  # noqa: E402


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    ctx = prunedef_keras.Context(argv[1], argv[2], argv[3])
    if not os.access(ctx.tool, os.X_OK):
        print(f"FAIL: {ctx.tool} is not an executable prunedef")
        return 1
    checks = architecture_checks.CHECKS + csaw_checks.CHECKS + repair_checks.CHECKS + eval_checks.CHECKS + onnx_checks.CHECKS
    wanted = argv[4:]
    if wanted:
        checks = [(n, f) for n, f in checks if any(w in n for w in wanted)]
    return prunedef_keras.run_checks(ctx, checks)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
