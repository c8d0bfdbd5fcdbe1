"""What the compress-mode tests share: a small base builder, a checkpoint trained from it on
the digits, and the CLI in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from objectives.data import DataConfig, load_dataset
from objectives.metrics import score
from objectives.train import train
from tests.conftest import ENV

#: A user's base builder: conv 8, two shape-keeping conv blocks (removable), head.
BASE = '''
from torch import nn


def build_base(input_shape, num_classes):
    """A small trained CNN: conv 8, two shape-keeping conv blocks (removable), head."""
    def block():
        return nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(input_shape[0], 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()),
        block(), block(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, num_classes))
'''

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def train_checkpoint(source: str, path: Path, *, classes: int | None = None,
                     loss: Loss | None = None, min_val: float = 0.0) -> None:
    """Build ``build_base`` of ``source`` for the digits (``classes`` outputs, default the
    data's), train it 8 epochs and save its state dict at ``path``."""
    namespace: dict[str, object] = {}
    exec(source, namespace)
    data = load_dataset(DataConfig())
    torch.manual_seed(0)
    build = namespace["build_base"]
    model = build(data.input_shape, classes or data.num_classes)  # type: ignore[operator]
    train(model, data.train, epochs=8, lr=0.01, seed=0, loss=loss)
    if min_val:
        assert score(model, data.val) > min_val
    torch.save(model.state_dict(), path)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m search ARGS`` in ``cwd``."""
    return subprocess.run([sys.executable, "-m", "search", *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=600)
