"""Library exceptions as Python exception classes; the process's HDF5 error printing untouched."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import prunedef


def test_exception_classes():
    for cls, builtin in ((prunedef.IoError, OSError), (prunedef.FormatError, ValueError),
                         (prunedef.ShapeError, ValueError), (prunedef.ArgumentError, ValueError),
                         (prunedef.NumericError, ArithmeticError)):
        assert issubclass(cls, prunedef.Error) and issubclass(cls, builtin)
        assert cls.__module__ == "prunedef"
    assert issubclass(prunedef.Error, Exception)


def test_missing_file_raises_io_error_naming_it(tmp_path):
    missing = tmp_path / "no_such_model.h5"
    with pytest.raises(prunedef.IoError, match="no_such_model.h5"):
        prunedef.load_model(missing)
    with pytest.raises(prunedef.IoError, match="no_such_valid.h5"):
        prunedef.read_dataset(tmp_path / "no_such_valid.h5")


def test_not_a_model_file(tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_text("not HDF5\n")
    with pytest.raises(prunedef.Error, match="junk.h5"):
        prunedef.load_model(junk)


def test_repair_errors_name_the_data(fmnist, tmp_path):
    with pytest.raises(prunedef.IoError, match="missing_valid.h5"):
        prunedef.repair(fmnist["bd_weights.h5"], scale=1, valid=tmp_path / "missing_valid.h5")
    x = np.zeros((4, 1, 28, 28), np.uint8)
    with pytest.raises(prunedef.ShapeError, match="labels"):
        prunedef.repair(fmnist["bd_weights.h5"], scale=1, valid=(x, np.zeros(3)))
    with pytest.raises(prunedef.FormatError, match="label 1"):
        prunedef.repair(fmnist["bd_weights.h5"], scale=1, valid=(x, np.array([0, -1, 0, 0])))
    with pytest.raises(prunedef.ArgumentError, match="drop"):
        prunedef.repair(fmnist["bd_weights.h5"], scale=1, valid=(x, np.zeros(4)), drops=[0])


HDF5_CHECK = textwrap.dedent("""
    import ctypes, json, os, sys
    so = sys.argv[1]
    # the libhdf5 _core links, loaded first, so that its state is read before the import
    import subprocess
    ldd = subprocess.run(['ldd', so], capture_output=True, text=True).stdout
    path = [l.split('=>')[1].split()[0] for l in ldd.splitlines() if 'libhdf5' in l and '=>' in l and 'hl' not in l][0]
    h5 = ctypes.CDLL(path)
    func, data = ctypes.c_void_p(), ctypes.c_void_p()
    def auto():
        assert h5.H5Eget_auto2(ctypes.c_int64(0), ctypes.byref(func), ctypes.byref(data)) >= 0
        return (func.value, data.value)
    h5.H5open()
    before = auto()
    import prunedef
    after_import = auto()
    try:
        prunedef.load_model(sys.argv[2])
    except prunedef.Error:
        pass
    after_error = auto()
    print(json.dumps({'before': before, 'import': after_import, 'error': after_error}))
""")


def test_import_leaves_hdf5_error_printing_and_the_environment_alone(tmp_path):
    import json
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)  # HDF5's signature, then nothing valid
    script = tmp_path / "check.py"
    script.write_text(HDF5_CHECK)
    r = subprocess.run([sys.executable, str(script), prunedef._core.__file__, str(junk)], capture_output=True,
                       text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    state = json.loads(r.stdout)
    assert state["before"][0] is not None, "HDF5 prints errors by default"
    assert state["before"] == state["import"] == state["error"]
    assert "HDF5-DIAG" not in r.stderr  # the library's own failed reads stay silent
    env = dict(os.environ)
    import importlib
    importlib.reload(prunedef)
    assert dict(os.environ) == env


def test_goodnet_refuses_an_unknown_or_different_scale(fmnist):
    b = prunedef.load_model(fmnist["bd_weights.h5"], scale=1)
    unknown = prunedef.load_model(fmnist["bd_weights.h5"])  # a weights-only file states no scale
    with pytest.raises(prunedef.ArgumentError, match="input scale"):
        prunedef.GoodNet(b, unknown)
    other = prunedef.load_model(fmnist["bd_weights.h5"], scale=1 / 255)
    with pytest.raises(prunedef.ArgumentError, match="scales its inputs by 1.0 but B' by"):
        prunedef.GoodNet(b, other)
