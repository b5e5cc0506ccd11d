"""Shared fixtures of the Python module's tests (run by CTest 'python', see tests/CMakeLists.txt).

PRUNEDEF_SHARED_DIR: the shared models and data (tests that need them skip when it is absent);
PRUNEDEF_TOOL: the prunedef command-line tool, whose results the module must equal;
PRUNEDEF_KERAS_VENV: a venv with tf_keras (from_keras tests skip without one).
"""

import os
import pathlib
import subprocess

import pytest

SHARED = pathlib.Path(os.environ.get("PRUNEDEF_SHARED_DIR", pathlib.Path(__file__).resolve().parents[3] / "shared"))


def shared_path(*parts):
    """A file of the shared directory, or a skip saying which is missing."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} is absent (shared data not available)")
    return p


@pytest.fixture(scope="session")
def tool():
    path = os.environ.get("PRUNEDEF_TOOL")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("PRUNEDEF_TOOL must name the built prunedef tool (CTest sets it)")
    return path


def run_tool(tool, *args):
    r = subprocess.run([tool, *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, f"prunedef {' '.join(map(str, args))} failed:\n{r.stderr}"
    return r


@pytest.fixture(scope="session")
def fmnist():
    """The Fashion-MNIST BadNet case: paths by name."""
    return {name: shared_path("fmnist_badnet", name)
            for name in ("bd_weights.h5", "valid.h5", "test.h5", "bd_test.h5", "bd_valid.h5")}


@pytest.fixture(scope="session")
def tool_repair(tool, fmnist, tmp_path_factory):
    """'prunedef repair' on the Fashion-MNIST BadNet, run once: its output directory."""
    out = tmp_path_factory.mktemp("tool_repair") / "out"
    run_tool(tool, "repair", "--model", fmnist["bd_weights.h5"], "--scale", "1", "--valid", fmnist["valid.h5"],
             "--test", fmnist["test.h5"], "--poisoned", fmnist["bd_test.h5"], "--out", out, "--quiet")
    return out
