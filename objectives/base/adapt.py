"""Transfer (``[base] transfer_epochs``): the base fine-tuned once on the study's training
split before anything is compressed, its head first replaced when its width does not fit the
data (``objectives.base.load`` leaves such a head with fresh weights; here they are drawn again
from the study seed so every process agrees). The adapted weights are cached on disk by a
content hash (like the distillation teacher, ``objectives.distill``): the first process trains
and writes ``<cache_dir>/<key>.pt`` under a temporary name, renamed into place; every other
process, and every later run with the same inputs, reads it weights-only."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from objectives.base.config import BaseConfig
from objectives.base.paths import find_path
from objectives.base.state import head_name
from objectives.data.augment import augment_fn
from objectives.data.splits import TensorData
from objectives.metrics import score
from objectives.task import loss_fn
from objectives.train import train
from objectives.transfer import read_state_dict

__all__ = ["Adapted", "adapt_base", "base_identity", "transfer_key"]

#: Bytes read at a time when hashing a checkpoint file.
CHUNK = 1 << 20


@dataclass(frozen=True)
class Adapted:
    """A transferred base: the model (eval mode, on the data's device), its cache file, whether
    this call trained it (False: read from the cache), the seconds it took, and its score on
    the validation split."""

    model: nn.Module
    path: Path
    trained: bool
    seconds: float
    val_accuracy: float
    epochs: int

    def record(self) -> dict[str, Any]:
        """What a study stores as ``base_transfer``."""
        return {"epochs": self.epochs, "seconds": self.seconds, "val_accuracy": self.val_accuracy,
                "file": str(self.path), "trained": self.trained}


def _file_hash(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _weights_hash(model: nn.Module) -> str:
    """sha256 of the model's tensors, in name order, leaving out the head (fresh weights)."""
    head = head_name(model)
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        if head and name.startswith(head + "."):
            continue
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _checkpoint(cfg: BaseConfig, root: str | Path | None) -> Path | None:
    return find_path(cfg.checkpoint, [root] if root is not None else []) if cfg.checkpoint \
        else None


def base_identity(cfg: BaseConfig, base: nn.Module, *, root: str | Path | None = None
                  ) -> dict[str, Any]:
    """What names the base's weights: ``[base]``'s model/checkpoint/huggingface/export and a
    sha256 of the checkpoint file's bytes (without one: of the loaded base's tensors, head
    left out). ``root``: where a relative checkpoint is found first (as in ``load_base``)."""
    checkpoint = _checkpoint(cfg, root)
    weights = _file_hash(checkpoint) if checkpoint is not None else _weights_hash(base)
    return {"model": cfg.model, "checkpoint": cfg.checkpoint, "huggingface": cfg.huggingface,
            "export": cfg.export, "weights": weights}


def transfer_key(cfg: BaseConfig, base: nn.Module, dataset: Mapping[str, Any], *, seed: int,
                 batch_size: int, root: str | Path | None = None) -> str:
    """sha256 of everything the adapted weights depend on (sorted JSON): the base's identity,
    the dataset's description (name or source, options, split seed), the seed, the epochs, the
    learning rate and the batch size."""
    fields = {"base": base_identity(cfg, base, root=root), "dataset": dict(dataset), "seed": seed,
              "epochs": cfg.transfer_epochs, "lr": cfg.transfer_lr, "batch_size": batch_size}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _head_replaced(checkpoint: Path | None, base: nn.Module) -> bool:
    """Whether ``load_base`` kept fresh weights in the head: the checkpoint's head tensors
    have other shapes than the model's."""
    head = head_name(base)
    if checkpoint is None or not head:
        return False
    state = read_state_dict(checkpoint, "base.checkpoint")
    own = base.state_dict()
    return any(isinstance(v, torch.Tensor) and k in own and own[k].shape != v.shape
               for k, v in state.items() if k.startswith(head + "."))


def _reset_head(base: nn.Module, seed: int) -> None:
    """Draw the head's fresh weights again from ``seed`` (its ``reset_parameters``)."""
    head = base.get_submodule(head_name(base))
    torch.manual_seed(seed)
    for module in head.modules():
        reset = getattr(module, "reset_parameters", None)
        if callable(reset):
            reset()


def _fine_tune(base: nn.Module, cfg: BaseConfig, data: TensorData, seed: int,
               batch_size: int) -> None:
    base.train()
    train(base, data.train, epochs=cfg.transfer_epochs, lr=cfg.transfer_lr, weight_decay=0.0,
          schedule="cosine", batch_size=batch_size, seed=seed, augment=augment_fn(data.augment),
          loss=loss_fn(data.loss))


def adapt_base(base: nn.Module, cfg: BaseConfig, data: TensorData, dataset: Mapping[str, Any],
               *, seed: int, batch_size: int, root: str | Path | None = None) -> Adapted:
    """``base`` (as ``load_base`` returned it) fine-tuned in place for ``cfg.transfer_epochs``
    epochs on ``data.train`` (AdamW at ``cfg.transfer_lr``, cosine, ``batch_size``, seeded by
    ``seed``), or its cached weights when ``<cfg.cache_dir>/<transfer_key>.pt`` exists.
    ``dataset``: what describes the data in the key (e.g. ``[dataset]`` without its memory
    settings). A head of the wrong width was replaced by ``load_base``; a head that fits is
    fine-tuned all the same (the base adapts to the data). ``root``: where a relative
    checkpoint is found first (the study file's folder)."""
    if cfg.transfer_epochs < 1:
        raise ValueError(f"base.transfer_epochs: {cfg.transfer_epochs}; transfer needs >= 1")
    start = time.perf_counter()
    key = transfer_key(cfg, base, dataset, seed=seed, batch_size=batch_size, root=root)
    path = Path(cfg.cache_dir).absolute() / f"{key}.pt"
    base.to(data.device)
    trained = not path.is_file()
    if trained:
        if _head_replaced(_checkpoint(cfg, root), base):
            _reset_head(base, seed)
        _fine_tune(base, cfg, data, seed, batch_size)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        torch.save({k: v.detach().cpu() for k, v in base.state_dict().items()}, tmp)
        os.replace(tmp, path)
    else:
        base.load_state_dict(torch.load(path, weights_only=True, map_location=data.device))
    base.eval()
    val = score(base, data.val, data.metric)
    return Adapted(base, path, trained, time.perf_counter() - start, val, cfg.transfer_epochs)
