"""The Pareto front (and all trials) as pandas tables, written as CSV and JSON.

Their columns come from the study (:func:`search.results.columns.table_columns`): ``trial``,
the objectives, every other metric the trials stored, the ``param_<name>`` columns, ``spec``.
The validation and test metric columns are ``val_accuracy`` / ``test_accuracy``, or
``val_<metric>`` / ``test_<metric>`` for a study whose ``[dataset] metric`` is not accuracy
(its trials still store them under the accuracy keys; :func:`metric_columns`)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna._hypervolume import compute_hypervolume
from optuna.trial import FrozenTrial, TrialState

from search.early_stop import state_name
from search.keys import FAIL_REASON, METRICS_ATTR, SPEC_ATTR, STOP_REASON
from search.results.columns import ALWAYS, Columns, metric_columns, metric_label, table_columns
from search.results.reference import BASE_ROW, RELATIVE, base_of, relative_to
from search.safe_files import write_text

__all__ = [
    "FRONT_COLUMNS",
    "HV_REFERENCE",
    "front_frame",
    "front_trials",
    "hv_point",
    "hypervolume",
    "metric_columns",
    "metric_label",
    "points_hypervolume",
    "trials_frame",
    "write_tables",
]

#: Reference point of the hypervolume in (1 − val accuracy, log10 size in bits).
HV_REFERENCE = (0.9, 6.5)

#: Columns pareto.csv / pareto.json always have (the objectives lead, then the other metrics
#: the trials stored, ``param_<name>`` columns and ``spec``: see
#: :func:`search.results.columns.table_columns`). The two metric columns are renamed for a
#: study whose metric is not accuracy (see :func:`metric_columns`).
FRONT_COLUMNS = ["trial", *ALWAYS]


def front_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Feasible non-dominated COMPLETE trials (Optuna's ``best_trials``), fewest params first."""
    return sorted(study.best_trials, key=lambda t: (t.user_attrs.get(METRICS_ATTR, {})
                                                     .get("params", 0), t.number))


def _row(t: FrozenTrial, columns: Columns, base: dict[str, Any] | None = None
         ) -> dict[str, Any]:
    metrics = t.user_attrs.get(METRICS_ATTR, {})
    row: dict[str, Any] = {"trial": t.number}
    row.update({columns.name(k): metrics.get(k) for k in columns.metric_keys})
    if base is not None:
        row.update(relative_to(base, metrics))
    row.update({f"param_{p}": t.params.get(p) for p in columns.params})
    row["spec"] = t.user_attrs.get(SPEC_ATTR)
    return row


def _base_row(base: dict[str, Any], columns: Columns) -> dict[str, Any]:
    """The reference row of a compress-mode study's base (see search.results.reference)."""
    return {"trial": BASE_ROW, **{columns.name(k): base.get(k) for k in columns.metric_keys},
            **relative_to(base, base)}


def _names(columns: Columns, base: dict[str, Any] | None) -> list[str]:
    """Written metric and parameter columns, the relative ones after the metrics."""
    names = columns.names()
    if base is None:
        return names
    at = len(columns.metric_keys)
    return [*names[:at], *RELATIVE, *names[at:]]


def _frame(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))


def front_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per Pareto trial: ``trial``, the columns of :func:`table_columns`, ``spec``; a
    compress-mode study's base first (``trial = "base"``) and columns relative to it
    (``search.results.reference``)."""
    trials = front_trials(study)
    columns, base = table_columns(study, trials), base_of(study)
    rows = [_row(t, columns, base) for t in trials]
    if base is not None:  # a compress-mode study: its base first, as the reference
        rows.insert(0, _base_row(base, columns))
    return _frame(rows, ["trial", *_names(columns, base), "spec"])


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """Every trial with its state, metrics, parameters and (for failures) the reason."""
    trials = study.get_trials(deepcopy=False)
    columns, base = table_columns(study, trials), base_of(study)
    front = {t.number for t in study.best_trials}
    rows = [{"trial": t.number, "state": state_name(t.state), "on_front": t.number in front,
             **_row(t, columns, base), "reason": _reason(t),
             "duration_s": t.duration.total_seconds() if t.duration else None} for t in trials]
    return _frame(rows, ["trial", "state", "on_front", *_names(columns, base), "spec", "reason",
                         "duration_s"])


def _reason(t: FrozenTrial) -> str:
    if FAIL_REASON in t.user_attrs:
        return str(t.user_attrs[FAIL_REASON])
    if STOP_REASON in t.user_attrs:
        return f"stopped early at {t.user_attrs[STOP_REASON]}"
    if t.state == TrialState.FAIL:
        return "its worker stopped sending heartbeats (killed, crashed or hung)"
    return ""


def write_tables(study: optuna.Study, out_dir: str | Path) -> dict[str, Path]:
    """Write ``pareto.csv``, ``pareto.json`` and ``trials.csv`` into ``out_dir`` (with
    ``search.safe_files``: a symlink at one of those names is replaced, not written through)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    front = front_frame(study)
    paths = {"pareto_csv": out / "pareto.csv", "pareto_json": out / "pareto.json",
             "trials_csv": out / "trials.csv"}
    write_text(paths["pareto_csv"], front.to_csv(index=False))
    records = front.to_dict(orient="records")
    for r in records:
        r["spec"] = json.loads(r["spec"]) if isinstance(r.get("spec"), str) else None
    write_text(paths["pareto_json"], json.dumps(records, indent=2, default=_plain) + "\n")
    write_text(paths["trials_csv"], trials_frame(study).to_csv(index=False))
    return paths


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON-able: {value!r}")


def completed(study: optuna.Study) -> list[FrozenTrial]:
    """COMPLETE trials of ``study``."""
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def hv_point(val_accuracy: float, size_bytes: float) -> tuple[float, float]:
    """A result in the hypervolume's space: (1 − val accuracy, log10 of size in bits)."""
    return 1.0 - val_accuracy, math.log10(8 * size_bytes)


def points_hypervolume(points: list[tuple[float, float]],
                       reference: tuple[float, float] = HV_REFERENCE) -> float:
    """Hypervolume dominated by ``points`` (see :func:`hv_point`), both coordinates minimised,
    against ``reference``; points outside the reference box count nothing. Computed by
    Optuna's own WFG implementation."""
    inside = [p for p in points if p[0] < reference[0] and p[1] < reference[1]]
    if not inside:
        return 0.0
    return float(compute_hypervolume(np.asarray(inside), np.asarray(reference)))


def hypervolume(trials: list[FrozenTrial], reference: tuple[float, float] = HV_REFERENCE) -> float:
    """Hypervolume dominated by the COMPLETE ``trials`` (see :func:`points_hypervolume`)."""
    points = []
    for t in trials:
        m = t.user_attrs.get(METRICS_ATTR)
        if t.state == TrialState.COMPLETE and m and m.get("size_bytes", 0) > 0:
            points.append(hv_point(m["val_accuracy"], m["size_bytes"]))
    return points_hypervolume(points, reference)
