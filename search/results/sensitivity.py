"""A compress-mode study's sensitivity table (``objectives.sensitivity``), stored on the study
as a small attribute (one row per unit and value) and written as ``sensitivity.csv``."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pandas as pd

from search.keys import SENSITIVITY_ATTR
from search.safe_files import write_text

__all__ = ["store_table", "stored_table", "write_table"]


def store_table(study: optuna.Study, table: pd.DataFrame) -> None:
    """Keep ``table`` on ``study`` (JSON, ``orient="split"``: columns once, then the rows)."""
    study.set_user_attr(SENSITIVITY_ATTR, json.loads(table.to_json(orient="split", index=False)))


def stored_table(study: optuna.Study) -> pd.DataFrame | None:
    """The table :func:`store_table` kept on ``study``; None when it has none."""
    raw = study.user_attrs.get(SENSITIVITY_ATTR)
    if not isinstance(raw, dict) or "columns" not in raw or "data" not in raw:
        return None
    return pd.DataFrame(raw["data"], columns=raw["columns"])


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """``table`` as CSV at ``path`` (written atomically)."""
    return write_text(path, table.to_csv(index=False))
