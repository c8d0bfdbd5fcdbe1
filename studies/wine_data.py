"""A user dataset: scikit-learn's embedded wine recognition data (178 wines, 13 chemical
measurements, 3 cultivars), standardised. Frontier splits it (stratified, seeded)."""

from __future__ import annotations

import numpy as np


def load() -> tuple[np.ndarray, np.ndarray]:
    """Inputs (N × 13 float32) and integer labels (N)."""
    from sklearn.datasets import load_wine

    x, y = load_wine(return_X_y=True)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x.astype(np.float32), y.astype(np.int64)
