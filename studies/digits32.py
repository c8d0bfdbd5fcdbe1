"""A user data source: scikit-learn's embedded digits (1,797 images of 8×8) upsampled to
3×32×32, the shape an ImageNet network such as torchvision's resnet18 takes (bilinear, the
grey channel repeated three times, pixels in [0, 1]). Frontier splits it (stratified, seeded).
``studies/resnet18_digits.toml`` reads it with ``[dataset] source = "digits32.py:load"``."""

from __future__ import annotations

import torch

#: The side of the upsampled images.
SIZE = 32


def load() -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (N × 3 × 32 × 32 float32) and integer labels (N)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.tensor(bunch.images / 16.0, dtype=torch.float32)[:, None]
    x = torch.nn.functional.interpolate(x, size=(SIZE, SIZE), mode="bilinear",
                                        align_corners=False).repeat(1, 3, 1, 1)
    return x.contiguous(), torch.tensor(bunch.target, dtype=torch.int64)
