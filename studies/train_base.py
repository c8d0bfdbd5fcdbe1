"""Train a base model for a compress study once: the shared part of ``basenet_train.py`` and
``mnist1d_base_train.py`` (Frontier's own training loop and split, so the scores printed are
the ones the study measures on the base)."""

from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import nn

from objectives.data import TensorData
from objectives.metrics import score
from objectives.train import train

__all__ = ["fit_and_save"]


def fit_and_save(name: str, model: nn.Module, data: TensorData, path: Path, *, epochs: int,
                 lr: float, weight_decay: float = 1e-4, seed: int = 0) -> dict[str, float]:
    """Train ``model`` (AdamW, cosine schedule), save its state dict to ``path`` and print one
    line: val and test accuracy, parameters, seconds. Returns those figures."""
    torch.manual_seed(seed)
    started = time.perf_counter()
    train(model, data.train, epochs=epochs, lr=lr, weight_decay=weight_decay, seed=seed)
    seconds = time.perf_counter() - started
    torch.save(model.state_dict(), path)
    out = {"val_accuracy": score(model, data.val), "test_accuracy": score(model, data.test),
           "params": float(sum(p.numel() for p in model.parameters())), "seconds": seconds}
    print(f"{name}: val {out['val_accuracy']:.4f}  test {out['test_accuracy']:.4f}  "
          f"params {int(out['params']):,}  {epochs} epochs in {seconds:.0f} s  -> {path}")
    return out
