"""A user data source: scikit-learn's embedded 8×8 digits upsampled to 3×24×24 (bilinear,
repeated to three channels), the input the articles' BaseNet reads. Standardised here (Frontier
never standardises a user's data); Frontier splits it (stratified, seeded)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["SIZE", "load"]

#: The side of the upsampled images.
SIZE = 24


def load() -> tuple[np.ndarray, np.ndarray]:
    """Inputs (1,797 × 3 × 24 × 24 float32, standardised) and integer labels (0..9)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy((bunch.images / 16.0).astype(np.float32))[:, None]
    x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    x = x.repeat(1, 3, 1, 1)
    x = (x - x.mean()) / x.std()
    return x.numpy(), bunch.target.astype(np.int64)
