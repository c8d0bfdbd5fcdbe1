"""A compress-mode study's base as its outputs' reference point.

The base is measured once as it is (``search.compress_mode.start``) and stored on the study.
Tables get a first row ``trial = "base"`` with its metrics, and every trial gets columns
relative to it: ``val_drop`` / ``test_drop`` (the base's metric minus the trial's: the
accuracy lost) and ``params_x``, ``macs_x``, ``size_x``, ``latency_x`` (the base's figure over
the trial's: how many times smaller or faster).
"""

from __future__ import annotations

import math
from typing import Any

import optuna

from search.keys import BASE_ATTR

__all__ = ["BASE_ROW", "RELATIVE", "base_of", "relative_to"]

#: The ``trial`` value of the base's row.
BASE_ROW = "base"
#: Relative column -> (stored metric, whether it is the base minus the trial (a drop) rather
#: than the base over the trial (a factor)).
RELATIVE = {
    "val_drop": ("val_accuracy", True),
    "test_drop": ("test_accuracy", True),
    "params_x": ("params", False),
    "macs_x": ("macs", False),
    "size_x": ("size_bytes", False),
    "latency_x": ("latency_ms", False),
}


def base_of(study: optuna.Study) -> dict[str, Any] | None:
    """The base's stored metrics (None for a study without a base)."""
    stored = study.user_attrs.get(BASE_ATTR)
    return dict(stored) if isinstance(stored, dict) else None


def _ratio(base: float, value: float) -> float | None:
    if not (math.isfinite(base) and math.isfinite(value)) or value <= 0:
        return None
    return base / value


def relative_to(base: dict[str, Any], metrics: dict[str, Any]) -> dict[str, float | None]:
    """The relative columns of ``metrics`` against ``base`` (None where either is missing)."""
    out: dict[str, float | None] = {}
    for column, (key, drop) in RELATIVE.items():
        b, v = base.get(key), metrics.get(key)
        if not isinstance(b, int | float) or not isinstance(v, int | float):
            out[column] = None
        else:
            out[column] = float(b) - float(v) if drop else _ratio(float(b), float(v))
    return out
