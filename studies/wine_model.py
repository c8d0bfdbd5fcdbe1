"""A small user model: an MLP whose depth and widths the study searches."""

from __future__ import annotations

import math

import optuna
from torch import nn


def build(trial: optuna.Trial, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """Flatten → (Linear → ReLU) × depth → Linear."""
    layers: list[nn.Module] = [nn.Flatten()]
    features = math.prod(input_shape)
    for i in range(trial.suggest_int("depth", 1, 2)):
        width = trial.suggest_categorical(f"width_{i}", [4, 8, 16, 32])
        layers += [nn.Linear(features, width), nn.ReLU()]
        features = width
    return nn.Sequential(*layers, nn.Linear(features, num_classes))
