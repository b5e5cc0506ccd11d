"""prunedef: the pruning defense against backdoored networks (Liu, Dolan-Gavitt and Garg,
"Fine-Pruning", RAID 2018), from Python.

    import prunedef
    r = prunedef.repair('bd_weights.h5', scale=1, valid='valid.h5', test='test.h5',
                        poisoned='bd_test.h5')
    r.sweep['valid_acc']          # numpy array, one value per pruning step k
    r.thresholds[0].goodnet.predict(images)

The computing is prunedef's C++ library (this package binds it; the GIL is released while it
runs). Images are numpy arrays, NCHW as in the challenge's HDF5 files or NHWC as Keras uses,
uint8 or float32 (float64 accepted); labels are integer class indices.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Tuple, Union

from . import _core
from ._core import (  # noqa: F401  (re-exported)
    ArgumentError,
    Error,
    FineTuned,
    FormatError,
    GoodNet,
    IoError,
    Model,
    NumericError,
    RepairResult,
    ShapeError,
    Threshold,
    set_thread_count,
    thread_count,
)

__all__ = [
    "ArgumentError", "Error", "FineTuned", "FormatError", "GoodNet", "IoError", "Model", "NumericError",
    "RepairResult", "ShapeError", "Threshold", "from_keras", "load_model", "read_dataset", "read_idx", "repair",
    "set_thread_count", "thread_count",
]

__version__ = "0.1.0"


def _scale(scale: Any) -> Optional[float]:
    """A scale as a float: a number, or a fraction as text ('1/255')."""
    if scale is None:
        return None
    if isinstance(scale, str):
        num, slash, den = scale.partition("/")
        try:
            value = float(num) / float(den) if slash else float(scale)
        except (ValueError, ZeroDivisionError):
            raise ArgumentError(f"scale {scale!r}: not a number or a fraction such as '1/255'") from None
        return value
    return float(scale)


def load_model(path: Union[str, os.PathLike], scale: Any = None, layer: Optional[str] = None,
               config: Union[str, os.PathLike, None] = None, site: str = "pooled") -> Model:
    """Reads a Keras model: a full-model .h5 (model.save), a .keras archive, or a weights-only .h5
    (model.save_weights; the CSAW DeepID architecture unless `config` names a model.to_json() file).

    scale: the factor applied to pixels first (1 for raw 0..255 pixels, 1/255 or '1/255' for
    pixels / 255); default: the one stored in the file (prunedef writes it), else unknown
    (predict refuses until given; repair chooses it from the validation data as the tool does).
    layer: the layer the defense prunes (default: the last convolution whose pooled output feeds
    the dense layers, conv_3 in DeepID). site: 'pooled' or 'conv' (where activations are taken).
    """
    if site not in ("pooled", "conv"):
        raise ArgumentError(f"site {site!r}: expected 'pooled' or 'conv'")
    return _core.load_model(os.fspath(path), _scale(scale), layer, None if config is None else os.fspath(config),
                            site == "pooled")


def from_keras(model: Any, scale: Any = None, layer: Optional[str] = None, site: str = "pooled") -> Model:
    """A live Keras model object (tf.keras / tf_keras or Keras 3) as a prunedef Model, through
    model.to_json() and its layers' weights: no file is written."""
    layers = {}
    order = []
    for lay in model.layers:
        order.append(lay.name)
        weights = []
        for var in lay.weights:
            name = getattr(var, "path", None) or var.name
            weights.append((str(name), var.numpy()))
        if weights:
            layers[lay.name] = weights
    return _core.model_from_config(model.to_json(), layers, order, _scale(scale), layer, site == "pooled")


DataArg = Union[str, os.PathLike, Tuple[Any, Any]]


def _source(data: Any, what: str, layout: Optional[str]) -> Any:
    """A data set argument as _core takes it: a path, or (images, labels, layout)."""
    if isinstance(data, (str, os.PathLike)):
        return os.fspath(data)
    if isinstance(data, tuple) and len(data) == 2:
        import numpy as np
        return (np.asarray(data[0]), np.asarray(data[1]), layout)
    raise ArgumentError(f"{what}: expected an HDF5 path or an (images, labels) pair of arrays, got {type(data).__name__}")


def repair(model: Union[Model, str, os.PathLike], scale: Any = None, valid: Optional[DataArg] = None,
           test: Optional[DataArg] = None,
           poisoned: Union[DataArg, Mapping[str, DataArg], Sequence[DataArg], None] = None,
           drops: Iterable[float] = (2, 4, 10), relative: bool = False, order: str = "increasing",
           site: str = "pooled", layer: Optional[str] = None, layout: Optional[str] = None,
           fine_tune: int = 0, lr: float = 5e-3, batch: int = 64, lr_drop: Optional[int] = None,
           head_only: bool = False, holdout: float = 0.2, seed: int = 1, last_epoch: bool = False,
           max_fpr: Optional[float] = None, weight_decay: float = 0.0, augment_shift: int = 0,
           augment_flip: bool = False, augment_erase: float = 0.0, sam: float = 0.0, sam_adaptive: bool = False,
           distill: Optional[Tuple[float, float]] = None,
           anp_eps: Optional[float] = None, anp_iterations: Optional[int] = None,
           progress: Optional[Callable[[str, int, int], Any]] = None) -> RepairResult:
    """The pruning defense, as 'prunedef repair' runs it.

    model: a Model or a model file path (read with load_model(path, scale, layer)).
    valid (required), test, poisoned: HDF5 files in the challenge's layout, or (images, labels)
    pairs of numpy arrays (layout as for Model.predict: `layout`, or inferred). poisoned may be
    one set or a list of sets (each named by its file's stem, as the tool names them, or
    'poisoned' / 'poisoned_<i>' for arrays), or a dict name -> set.
    drops: the accuracy drops X (percentage points; of B's accuracy when relative).
    order: 'increasing' (Liu et al.), 'decreasing', 'l1', 'clp' or 'anp' (with anp_eps and
    anp_iterations), as the tool's --order. site: 'pooled' or 'conv'.
    fine_tune: Fine-Pruning epochs (0: none), with lr, batch, lr_drop, head_only, holdout, seed,
    last_epoch, weight_decay, augment_shift, augment_flip, augment_erase, sam, sam_adaptive and
    distill=(weight, temperature) as the tool's options.
    progress: called as progress(stage, done, total) after each batch (from the computing thread,
    with the GIL held); Ctrl-C stops the run.
    """
    if valid is None:
        raise ArgumentError("repair: a validation set is required (valid=)")
    if isinstance(model, Model):
        if scale is not None or layer is not None:
            raise ArgumentError("repair: scale= and layer= apply to a model file; give them to load_model")
        m = model
    else:
        m = load_model(model, scale=scale, layer=layer, site=site)
    sets = []
    if poisoned is not None:
        def stem(p: Any, default: str) -> str:  # a file's set is named by its stem, as the tool names it
            return os.path.splitext(os.path.basename(os.fspath(p)))[0] if isinstance(p, (str, os.PathLike)) else default

        if isinstance(poisoned, Mapping):
            items = list(poisoned.items())
        elif isinstance(poisoned, list):
            items = [(stem(p, f"poisoned_{i}"), p) for i, p in enumerate(poisoned)]
        else:
            items = [(stem(poisoned, "poisoned"), poisoned)]
        sets = [(str(name), _source(p, f"poisoned {name}", layout)) for name, p in items]
    result = _core.repair(m, _source(valid, "valid", layout), None if test is None else _source(test, "test", layout),
                          sets, [float(x) for x in drops], relative, order, site, int(fine_tune), float(lr),
                          int(batch), lr_drop, head_only, float(holdout), int(seed), last_epoch, max_fpr,
                          float(weight_decay), int(augment_shift), bool(augment_flip), float(augment_erase), float(sam), bool(sam_adaptive),
                          None if distill is None else (float(distill[0]), float(distill[1])),
                          None if anp_eps is None else float(anp_eps),
                          None if anp_iterations is None else int(anp_iterations), progress)
    if result.scale_note:
        warnings.warn(result.scale_note, stacklevel=2)
    for w in result.warnings:
        warnings.warn(w, stacklevel=2)
    return result


def read_dataset(path: Union[str, os.PathLike], layout: str = "NCHW", label: str = "label") -> Tuple[Any, Any]:
    """A data set in the challenge's layout (HDF5 'data' (N, C, H, W) and labels): (images
    float32 in `layout`, labels int64). label names the label dataset ('true_label', ...)."""
    return _core.read_dataset(os.fspath(path), layout, label)


def read_idx(images_path: Union[str, os.PathLike], labels_path: Union[str, os.PathLike],
             layout: str = "NCHW") -> Tuple[Any, Any]:
    """Fashion-MNIST / MNIST IDX files (gzipped or not): (images float32 0..255 in `layout`,
    labels int64)."""
    return _core.read_idx(os.fspath(images_path), os.fspath(labels_path), layout)
