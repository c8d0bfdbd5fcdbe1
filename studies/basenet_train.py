"""Train the articles' BaseNet (and AdjustedNet, the hand-made reference) on the digits at
3×24×24, before ``python -m search run studies/basenet.toml`` compresses BaseNet:

    python studies/basenet_train.py [EPOCHS]

Writes ``basenet.pt`` and ``adjustednet.pt`` (state dicts) next to this file and prints each
model's val and test accuracy (the study's split), parameters and training seconds."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from objectives.data import DataConfig, load_dataset
from studies.basenet import build_adjusted, build_base
from studies.train_base import fit_and_save

HERE = Path(__file__).resolve().parent


def main(epochs: int = 8) -> None:
    """Train both models for ``epochs`` and save them next to this file."""
    torch.set_num_threads(min(2, torch.get_num_threads()))
    data = load_dataset(DataConfig(source="studies.digits24:load"))
    for name, build, file in (("BaseNet", build_base, "basenet.pt"),
                              ("AdjustedNet", build_adjusted, "adjustednet.pt")):
        torch.manual_seed(0)
        model = build(data.input_shape, data.num_classes)
        fit_and_save(name, model, data, HERE / file, epochs=epochs, lr=1e-3)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
