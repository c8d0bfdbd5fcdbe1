"""A wide 1-D CNN for MNIST-1D (signals of length 40), trained to its ceiling by
``studies/mnist1d_base_train.py`` and compressed by ``studies/mnist1d_compress.toml``.

Three conv blocks of 64 channels (kernel 5, batch norm, ReLU), a max-pool after the second and
the third, then a linear head on the flattened 64 × 10 features: 48,266 parameters for (1, 40)
inputs and 10 classes. The second and third blocks keep the shape they are given, so a compress
study can drop them whole (``drop_blocks``).
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["ConvBlock1d", "build_base"]


class ConvBlock1d(nn.Module):
    """Conv1d (kernel 5, padding 2), batch norm, ReLU: one unit for depth trimming."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, 5, padding=2)
        self.bn = nn.BatchNorm1d(c_out)

    def forward(self, x: Tensor) -> Tensor:
        """``relu(bn(conv(x)))``."""
        return nn.functional.relu(self.bn(self.conv(x)))


def build_base(input_shape: tuple[int, ...], num_classes: int, width: int = 64) -> nn.Module:
    """conv ``width`` → conv ``width`` → pool → conv ``width`` → pool → linear head."""
    channels, length = input_shape
    return nn.Sequential(
        ConvBlock1d(channels, width), ConvBlock1d(width, width), nn.MaxPool1d(2),
        ConvBlock1d(width, width), nn.MaxPool1d(2), nn.Flatten(),
        nn.Linear(width * (length // 4), num_classes))
