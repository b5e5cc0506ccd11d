# Type stubs of the prunedef package (the classes are defined in its compiled module _core).
import os
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

class Error(Exception): ...
class IoError(Error, OSError): ...
class FormatError(Error, ValueError): ...
class ShapeError(Error, ValueError): ...
class ArgumentError(Error, ValueError): ...
class NumericError(Error, ArithmeticError): ...

_Images = npt.NDArray[Any]
_Layout = Optional[str]  # 'NCHW', 'NHWC' or None (inferred)

class Model:
    @property
    def path(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def architecture(self) -> str: ...
    @property
    def architecture_assumed(self) -> bool: ...
    @property
    def input_shape(self) -> Optional[Tuple[int, int, int]]: ...
    @property
    def input_scale(self) -> Optional[float]: ...
    @property
    def num_classes(self) -> Optional[int]: ...
    @property
    def pruned_layer(self) -> str: ...
    @property
    def channels(self) -> int: ...
    def logits(self, x: _Images, layout: _Layout = None, batch_size: int = 256) -> npt.NDArray[np.float32]: ...
    def predict(self, x: _Images, layout: _Layout = None, batch_size: int = 256) -> npt.NDArray[np.int64]: ...
    def save(self, path: str, weights_only: bool = False) -> None: ...

class GoodNet:
    def __init__(self, b: Model, bprime: Model) -> None: ...
    @property
    def original(self) -> Model: ...
    @property
    def repaired(self) -> Model: ...
    @property
    def num_classes(self) -> int: ...
    @property
    def detected_class(self) -> int: ...
    def predict(self, x: _Images, layout: _Layout = None, batch_size: int = 256) -> npt.NDArray[np.int64]: ...

_Counts = Dict[str, Union[int, float]]

class FineTuned:
    epochs: int
    learning_rate: float
    chosen_epoch: Optional[int]
    clean_set: str
    valid_accuracy: float
    test_accuracy: Optional[float]
    attack_success: Optional[float]
    holdout_accuracy: Optional[float]
    goodnet_valid: _Counts
    goodnet_test: Optional[_Counts]
    goodnet_poisoned: Optional[_Counts]
    bprime: Model
    goodnet: GoodNet

class Threshold:
    x: float
    relative: bool
    tag: str
    reached: bool
    k: int
    fraction_pruned: float
    pruned_channels: List[int]
    valid_accuracy: float
    test_accuracy: Optional[float]
    attack_success: Optional[float]
    poisoned_attack_success: List[float]
    goodnet_valid: _Counts
    goodnet_test: Optional[_Counts]
    goodnet_poisoned: Optional[_Counts]
    bprime: Model
    goodnet: GoodNet
    fine_tuned: Optional[FineTuned]

class RepairResult:
    sweep: Dict[str, npt.NDArray[Any]]
    order: List[int]
    activations: List[float]
    thresholds: List[Threshold]
    model: Model
    pruned_layer: str
    channels: int
    classes: int
    policy: str
    warnings: List[str]
    scale_note: str
    def bprime(self, k: int) -> Model: ...
    def sweep_csv(self) -> str: ...
    def markdown(self) -> str: ...
    def json(self) -> str: ...
    def write(self, dir: str, replace: bool = False, weights_only: bool = False) -> None: ...

_Path = Union[str, os.PathLike[str]]
_Data = Union[_Path, Tuple[_Images, npt.ArrayLike]]

def load_model(path: _Path, scale: Union[float, str, None] = None, layer: Optional[str] = None,
               config: Optional[_Path] = None, site: str = "pooled") -> Model: ...
def from_keras(model: Any, scale: Union[float, str, None] = None, layer: Optional[str] = None,
               site: str = "pooled") -> Model: ...
def repair(model: Union[Model, _Path], scale: Union[float, str, None] = None, valid: Optional[_Data] = None,
           test: Optional[_Data] = None, poisoned: Union[_Data, Mapping[str, _Data], Sequence[_Data], None] = None,
           drops: Iterable[float] = (2, 4, 10), relative: bool = False, order: str = "increasing",
           site: str = "pooled", layer: Optional[str] = None, layout: _Layout = None, fine_tune: int = 0,
           lr: float = 5e-3, batch: int = 64, lr_drop: Optional[int] = None, head_only: bool = False,
           holdout: float = 0.2, seed: int = 1, last_epoch: bool = False, max_fpr: Optional[float] = None,
           weight_decay: float = 0.0, augment_shift: int = 0, augment_flip: bool = False, augment_erase: float = 0.0,
           sam: float = 0.0,
           sam_adaptive: bool = False, distill: Optional[Tuple[float, float]] = None, anp_eps: Optional[float] = None,
           anp_iterations: Optional[int] = None,
           progress: Optional[Callable[[str, int, int], Any]] = None) -> RepairResult: ...
def read_dataset(path: _Path, layout: str = "NCHW", label: str = "label") -> Tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]: ...
def read_idx(images_path: _Path, labels_path: _Path, layout: str = "NCHW") -> Tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]: ...
def thread_count() -> int: ...
def set_thread_count(n: int) -> None: ...
