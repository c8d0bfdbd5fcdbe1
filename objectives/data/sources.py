"""A user's data: ``[dataset] source = "my_data:load"``, a function that takes no arguments.

``load()`` returns one of:

- ``(x, y)``: a tuple of arrays, tensors or anything numpy turns into a numeric array (a
  pandas DataFrame and Series), with one row per example. Inputs become float32, integer
  targets int64 (class labels), floating targets float32 (e.g. regression). Split seeded by
  ``dataset.split_seed``: stratified when ``y`` holds integer class labels, a plain shuffle
  split otherwise. Already in memory: held as tensors, unless ``in_memory = false`` or (on
  CUDA) they do not fit in ``memory_share`` of the free GPU memory.
- a map-style ``torch.utils.data.Dataset`` (``len`` and ``dataset[i] -> (input, target)``;
  a list of such pairs will do):
  split by seeded indices, stratified when it has integer ``targets`` (as torchvision datasets
  do). Held as tensors when the first item's size times the length fits in ``memory_share`` of
  the RAM (``in_memory`` forces either way), else streamed by ``loader_workers`` processes.
- a ``(train, val, test)`` tuple of three such datasets, used as they are.

Frontier never standardises a user's data (the loader or its transforms own preprocessing).
Items are converted as ``objectives.data.stream.as_pair`` says. An in-memory dataset is read once,
through the same loader a streamed one uses, so both give the same batches and metrics; a
random transform is then drawn once and frozen, where a streamed dataset draws it per epoch.

Every problem is a one-line ValueError naming ``dataset.source``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from objectives.data.batches import batches
from objectives.data.config import DataConfig
from objectives.data.memory import choose_in_memory
from objectives.data.splits import Split, TensorData, split_indices, stream_tensors
from objectives.data.stream import StreamSplit, as_pair, item_bytes

__all__ = ["call_source", "load_source"]

FIELD = "dataset.source"
_READ_BATCH = 256  # items per batch when a dataset is read into memory


def _line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")


def call_source(ref: str) -> Any:
    """Import the ``load`` function ``ref`` names and return what it returns."""
    from spaces.locate import locate

    load = locate(ref, FIELD)
    if not callable(load):
        raise ValueError(f"{FIELD}: {ref!r} is a {type(load).__name__}, not a function; give a "
                         "function load() that returns the data")
    try:
        return load()
    except Exception as err:  # the user's code may raise anything
        raise ValueError(f"{FIELD}: {ref}() raised {_line(err)}; run it on its own to see the "
                         "traceback") from None


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray | torch.Tensor)


def _is_dataset(value: Any) -> bool:
    if isinstance(value, torch.utils.data.Dataset):
        return hasattr(value, "__len__")
    return (hasattr(value, "__len__") and hasattr(value, "__getitem__")
            and not isinstance(value, str | bytes | tuple | dict) and not _is_array(value))


def load_source(cfg: DataConfig, device: torch.device) -> TensorData:
    """Call ``cfg.source``'s ``load()`` and make its return value the study's splits on
    ``device`` (see the module docstring)."""
    assert cfg.source is not None
    ref = cfg.source
    raw = call_source(ref)
    if (isinstance(raw, tuple) and len(raw) == 2) or (
            isinstance(raw, list) and len(raw) == 2 and all(_is_array(v) for v in raw)):
        return _from_arrays(cfg, raw[0], raw[1], device)
    if isinstance(raw, tuple) and len(raw) == 3:
        odd = [type(v).__name__ for v in raw if not _is_dataset(v)]
        if odd:
            raise ValueError(f"{FIELD}: {ref}() returned a tuple of three, but not three "
                             f"datasets (it holds a {odd[0]}); return (train, val, test) "
                             "Datasets, or (x, y) arrays")
        parts = []
        for name, part in zip(("train", "val", "test"), raw, strict=True):
            if len(part) == 0:
                raise ValueError(f"{FIELD}: {ref}() returned an empty {name} dataset; give "
                                 "each of (train, val, test) at least one example")
            parts.append((part, np.arange(len(part))))
        return _from_datasets(cfg, parts, device)
    if _is_dataset(raw):
        return _from_datasets(cfg, _split_dataset(cfg, raw), device)
    raise ValueError(f"{FIELD}: {ref}() returned a value of type {type(raw).__name__}; return "
                     "(x, y) arrays or tensors, a map-style torch Dataset (or a list) of "
                     "(input, target) items, or a (train, val, test) tuple of Datasets")


def _as_tensor(value: Any, what: str, ref: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu()
    else:
        array = np.ascontiguousarray(value)
        t = torch.from_numpy(array if array.flags.writeable else array.copy())
    if t.ndim == 0:
        raise ValueError(f"{FIELD}: {ref}() returned {what} that are a single number; give one "
                         "row per example")
    return t


def _from_arrays(cfg: DataConfig, x_raw: Any, y_raw: Any, device: torch.device) -> TensorData:
    ref = str(cfg.source)
    try:
        x, y = _as_tensor(x_raw, "inputs", ref), _as_tensor(y_raw, "targets", ref)
    except (TypeError, ValueError) as err:  # an object array, ragged lists
        raise ValueError(f"{FIELD}: {ref}() returned arrays torch cannot hold ({_line(err)}); "
                         "return numeric arrays") from None
    if len(x) != len(y):
        raise ValueError(f"{FIELD}: {ref}() returned {len(x)} inputs but {len(y)} targets; "
                         "return as many of each")
    if len(x) == 0:
        raise ValueError(f"{FIELD}: {ref}() returned no examples; return at least a few")
    if x.ndim < 2:
        raise ValueError(f"{FIELD}: {ref}() returned inputs of shape {tuple(x.shape)}; give "
                         "one row per example, e.g. (N, features)")
    x, y = as_pair((x, y))
    labels = y.numpy() if not y.dtype.is_floating_point and y.ndim == 1 else None
    _check_targets(cfg, y[:1])
    num_classes = _classes(cfg, y, labels, None)
    in_memory = choose_in_memory(item_bytes(x, y), cfg.in_memory, cfg.memory_share, device,
                                 in_ram=True)
    idx = split_indices(len(y), cfg, labels, FIELD)
    splits: list[Any] = [Split(x[torch.from_numpy(i)], y[torch.from_numpy(i)]) for i in idx]
    if not in_memory:
        splits = [stream_tensors(s, cfg.loader_workers) for s in splits]
    return _data(cfg, splits, tuple(x.shape[1:]), num_classes).to(device)


def _split_dataset(cfg: DataConfig, dataset: Any) -> list[tuple[Any, np.ndarray]]:
    n = len(dataset)
    if n == 0:
        raise ValueError(f"{FIELD}: {cfg.source}() returned an empty dataset; give it at "
                         "least a few examples")
    labels = _integer_targets(dataset)
    if labels is not None and len(labels) != n:
        raise ValueError(f"{FIELD}: {cfg.source}()'s dataset has {n} items but "
                         f"{len(labels)} targets; make len(dataset) and targets agree")
    return [(dataset, i) for i in split_indices(n, cfg, labels, FIELD)]


def _integer_targets(dataset: Any) -> np.ndarray | None:
    """The ``targets`` attribute as integer labels, when there is one and it holds integers."""
    targets = getattr(dataset, "targets", None)
    if targets is None:
        return None
    try:
        labels = np.asarray(targets.cpu() if isinstance(targets, torch.Tensor) else targets)
    except (TypeError, ValueError):
        return None
    if labels.ndim != 1 or labels.dtype.kind not in "iub":
        return None
    return labels.astype(np.int64)


def _first_item(dataset: Any, index: int, ref: str) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        item = dataset[index]
    except Exception as err:  # the user's dataset may raise anything
        raise ValueError(f"{FIELD}: reading item {index} of {ref}()'s dataset raised "
                         f"{_line(err)}; check its __getitem__") from None
    try:
        return as_pair(item)
    except ValueError as err:
        raise ValueError(f"{FIELD}: {ref}()'s dataset is not of (input, target) items: "
                         f"{err}") from None


def _from_datasets(cfg: DataConfig, parts: Sequence[tuple[Any, np.ndarray]],
                   device: torch.device) -> TensorData:
    ref = str(cfg.source)
    x, y = _first_item(parts[0][0], int(parts[0][1][0]), ref)
    _check_targets(cfg, y[None])
    total = sum(len(i) for _, i in parts)
    in_memory = choose_in_memory(item_bytes(x, y) * total, cfg.in_memory, cfg.memory_share,
                                 device, in_ram=False)
    streams = [StreamSplit(ds, i, tuple(x.shape), cfg.loader_workers) for ds, i in parts]
    splits: list[Any] = streams
    labels: np.ndarray | None = None
    if in_memory:
        splits = [_read(s, ref) for s in streams]
        if not y.dtype.is_floating_point:
            labels = np.concatenate([s.y.numpy().reshape(-1) for s in splits])
    elif not y.dtype.is_floating_point:
        known = [_integer_targets(ds) for ds, _ in parts]
        if all(k is not None for k in known):
            labels = np.concatenate([k[i] for k, (_, i) in zip(known, parts, strict=True)
                                     if k is not None])
    classes = getattr(parts[0][0], "classes", None)
    num_classes = _classes(cfg, y[None], labels, len(classes) if classes is not None else None)
    return _data(cfg, splits, tuple(x.shape), num_classes).to(device)


def _read(split: StreamSplit, ref: str) -> Split:
    """A streamed split read into tensors, through the loader (in position order)."""
    xs, ys = [], []
    try:
        for _, x, y in batches(replace(split, device=torch.device("cpu")), _READ_BATCH):
            xs.append(x)
            ys.append(y)
    except Exception as err:  # a worker re-raises whatever the user's dataset raised
        raise ValueError(f"{FIELD}: reading {ref}()'s dataset failed ({_line(err)}); every "
                         "item must be an (input, target) pair of one shape") from None
    return Split(torch.cat(xs), torch.cat(ys))


def _check_targets(cfg: DataConfig, y: torch.Tensor) -> None:
    """Cross-entropy needs class labels (or class probabilities), not one number per row."""
    if cfg.loss == "cross_entropy" and y.dtype.is_floating_point and y.ndim == 1:
        raise ValueError(f"{FIELD}: {cfg.source}() returns one float target per example "
                         "(regression?), but dataset.loss is cross_entropy; set loss = \"mse\" "
                         "(and e.g. metric = \"neg_rmse\"), or return integer class labels")


def _classes(cfg: DataConfig, y: torch.Tensor, labels: np.ndarray | None,
             declared: int | None) -> int:
    """The model's output width: ``cfg.num_classes``, else inferred (see DataConfig)."""
    if y.dtype.is_floating_point:
        width = int(np.prod(y.shape[1:])) if y.ndim > 1 else 1
        return cfg.num_classes if cfg.num_classes is not None else width
    need = None
    if labels is not None and len(labels):
        if labels.min() < 0:
            raise ValueError(f"{FIELD}: {cfg.source}() returns a negative label "
                             f"({labels.min()}); class labels are 0, 1, 2, ...")
        need = int(labels.max()) + 1
    if cfg.num_classes is not None:
        if need is not None and cfg.num_classes < need:
            raise ValueError(f"dataset.num_classes: {cfg.num_classes} is fewer than the labels "
                             f"need ({need}: labels go up to {need - 1}); raise it, or leave it "
                             "out to infer it")
        return cfg.num_classes
    found = [v for v in (need, declared) if v is not None]
    if not found:
        raise ValueError(f"dataset.num_classes: cannot infer the number of classes from "
                         f"{cfg.source}()'s targets (not integer labels held in memory, and no "
                         "targets or classes attribute); set num_classes")
    return max(found)


def _data(cfg: DataConfig, splits: list[Any], input_shape: tuple[int, ...],
          num_classes: int) -> TensorData:
    augment = cfg.augment if cfg.augment is not None else "none"
    train, val, test = splits
    return TensorData(cfg.label, train, val, test, input_shape, num_classes, augment,
                      cfg.loss, cfg.metric)
