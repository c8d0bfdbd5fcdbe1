"""Train the wide MNIST-1D CNN (``studies/mnist1d_base.py``) to its ceiling, before
``python -m search run studies/mnist1d_compress.toml`` compresses it:

    python studies/mnist1d_base_train.py [EPOCHS]

Writes ``mnist1d_base.pt`` (a state dict) next to this file and prints its val and test
accuracy (the study's split: split_seed 0), parameters and training seconds."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from objectives.data import DataConfig, load_dataset
from studies.mnist1d_base import build_base
from studies.train_base import fit_and_save

HERE = Path(__file__).resolve().parent


def main(epochs: int = 60) -> None:
    """Train the base for ``epochs`` and save it next to this file."""
    torch.set_num_threads(min(2, torch.get_num_threads()))
    data = load_dataset(DataConfig(name="mnist1d"))
    torch.manual_seed(0)
    model = build_base(data.input_shape, data.num_classes)
    fit_and_save("MNIST-1D base", model, data, HERE / "mnist1d_base.pt", epochs=epochs,
                 lr=3e-3)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
