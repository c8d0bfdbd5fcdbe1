"""A small CNN trained on digits (with a droppable block) and its sensitivity table, built once."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch import nn

from objectives.data import TensorData
from objectives.sensitivity import Unit, sensitivity, units_of
from objectives.train import train


class Net(nn.Module):
    """conv 1→8, conv 8→16, a 16→16 block with equal input and output shapes, a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(self.features(x)))


@pytest.fixture(scope="session")
def trained(digits: TensorData) -> Net:
    torch.manual_seed(0)
    model = Net()
    train(model, digits.train, epochs=3, lr=0.01)
    return model.eval()


@pytest.fixture(scope="session")
def units(trained: Net, digits: TensorData) -> list[Unit]:
    return units_of(trained, digits.input_shape, ratios=(1.0, 0.5, 0.25), bits=(32, 8, 2),
                    depth_units=["block"])


@pytest.fixture(scope="session")
def table(trained: Net, digits: TensorData, units: list[Unit]) -> pd.DataFrame:
    return sensitivity(trained, digits, units)
