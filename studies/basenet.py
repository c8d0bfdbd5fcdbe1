"""The articles' BaseNet and its hand-narrowed AdjustedNet, for 3×24×24 images.

Both are one plain CNN, :class:`PlainNet`: a stem conv, shape-keeping conv blocks, a max-pool,
a second conv, more blocks, a max-pool, then a fully connected layer and the head. Each block
(conv 3×3, batch norm, ReLU) is an item of an ``nn.Sequential`` that returns the shape it was
given, so a compress study can drop it whole (``drop_blocks``).

- ``build_base``: BaseNet, conv 64 → conv 128, fc 1024 (one block after the first conv, two
  after the second): 5,138,634 parameters for 3×24×24 inputs and 10 classes.
- ``build_adjusted``: AdjustedNet, what the articles narrow it to by hand: conv 32 → conv 64,
  fc 500, no blocks: 1,177,094 parameters.

Train both with ``python studies/basenet_train.py`` (writes ``basenet.pt`` and
``adjustednet.pt`` next to this file); ``studies/basenet.toml`` compresses BaseNet.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["ConvBlock", "PlainNet", "build_adjusted", "build_base"]


class ConvBlock(nn.Module):
    """Conv 3×3 (padding 1), batch norm, ReLU: one unit (its layers are not items of a
    container, so depth trimming drops the block whole, never its conv alone)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: Tensor) -> Tensor:
        """``relu(bn(conv(x)))``."""
        return nn.functional.relu(self.bn(self.conv(x)))


class PlainNet(nn.Module):
    """conv ``c1`` (+ ``blocks[0]`` blocks) → pool → conv ``c2`` (+ ``blocks[1]`` blocks) →
    pool → fc ``fc`` → head. The input's height and width must be divisible by 4."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, c1: int, c2: int,
                 fc: int, blocks: tuple[int, int] = (0, 0)) -> None:
        super().__init__()
        channels, height, width = input_shape
        self.features = nn.Sequential(
            ConvBlock(channels, c1), *(ConvBlock(c1, c1) for _ in range(blocks[0])),
            nn.MaxPool2d(2),
            ConvBlock(c1, c2), *(ConvBlock(c2, c2) for _ in range(blocks[1])),
            nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(c2 * (height // 4) * (width // 4), fc), nn.ReLU(),
            nn.Linear(fc, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        """Logits, (batch, classes)."""
        return self.classifier(self.features(x))


def build_base(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """BaseNet: conv 64 (+1 block) → conv 128 (+2 blocks) → fc 1024 → head."""
    return PlainNet(input_shape, num_classes, 64, 128, 1024, blocks=(1, 2))


def build_adjusted(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """AdjustedNet: conv 32 → conv 64 → fc 500 → head (the articles' hand-made narrowing)."""
    return PlainNet(input_shape, num_classes, 32, 64, 500)
