"""Which columns a study's tables have: decided once, here, for every output.

``pareto.csv``, ``pareto.json``, ``trials.csv``, the front printed by ``run`` / ``pareto`` and
the report's table all take their columns from :func:`table_columns`: the study's objectives
(in the order the study lists them), then every other metric its trials stored (in the order
the trials stored them; a metric a new compression method adds shows up with no change here),
then the trials' sampled parameters (``param_<name>``). A metric column that holds no value
(only missing or NaN, e.g. ``latency_ms`` with ``latency_reps = 0``) is left out, except the
objectives and :data:`ALWAYS`, which every table keeps so a script reading them never breaks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from objectives.task import metric_name
from search.keys import CONFIG_ATTR, METRICS_ATTR

__all__ = [
    "ALWAYS",
    "PARAM_PREFIX",
    "Columns",
    "metric_columns",
    "metric_label",
    "study_objectives",
    "table_columns",
]

#: Metric columns every table has, even when no trial stored them (an empty front).
ALWAYS = ("val_accuracy", "test_accuracy", "params", "size_bytes", "macs", "train_seconds")

#: Prefix of a sampled parameter's column: ``param_width_0``.
PARAM_PREFIX = "param_"


def metric_label(study: optuna.Study) -> str:
    """The name of the study's metric: ``accuracy``, a built-in's name, or the name of the
    user's function (read from the stored config; no user code is imported)."""
    stored = study.user_attrs.get(CONFIG_ATTR, {}).get("dataset", {})
    return metric_name(str(stored.get("metric", "accuracy")))


def metric_columns(study: optuna.Study) -> dict[str, str]:
    """Stored metric key -> its column name in outputs: ``val_accuracy`` -> ``val_<metric>``
    and ``test_accuracy`` -> ``test_<metric>``; empty when the metric is accuracy."""
    name = metric_label(study)
    if name == "accuracy":
        return {}
    return {"val_accuracy": f"val_{name}", "test_accuracy": f"test_{name}"}


def study_objectives(study: optuna.Study) -> tuple[str, ...]:
    """The stored config's objectives (metric keys), in order; empty for a study that Frontier
    did not create (a hand-built Optuna study has no stored config)."""
    stored = study.user_attrs.get(CONFIG_ATTR, {}).get("study", {})
    return tuple(str(o) for o in stored.get("objectives", ()))


@dataclass(frozen=True)
class Columns:
    """The columns of one table, as stored keys (see :meth:`names` for the written names)."""

    #: The study's objectives, in order (metric keys).
    objectives: tuple[str, ...]
    #: Every other metric the trials stored, in the order they stored them.
    metrics: tuple[str, ...]
    #: The trials' sampled parameters, in the order they were first sampled (no prefix).
    params: tuple[str, ...]
    #: Stored metric key -> written column name (``val_accuracy`` -> ``val_f1``).
    renamed: tuple[tuple[str, str], ...] = ()

    @property
    def metric_keys(self) -> tuple[str, ...]:
        """Objectives then the other metrics: the stored keys to read from each trial."""
        return (*self.objectives, *self.metrics)

    def name(self, key: str) -> str:
        """The written name of the metric ``key``."""
        return dict(self.renamed).get(key, key)

    def names(self) -> list[str]:
        """Written names: objectives, other metrics, then ``param_<name>`` columns."""
        return [*(self.name(k) for k in self.metric_keys),
                *(PARAM_PREFIX + p for p in self.params)]


def _stored(trial: FrozenTrial) -> dict[str, Any]:
    metrics = trial.user_attrs.get(METRICS_ATTR)
    return metrics if isinstance(metrics, dict) else {}


def _has_value(value: Any) -> bool:
    if value is None:
        return False
    return not (isinstance(value, float) and math.isnan(value))


def _first_seen(groups: Iterable[Iterable[str]]) -> list[str]:
    seen: dict[str, None] = {}
    for group in groups:
        seen.update(dict.fromkeys(group))
    return list(seen)


def table_columns(study: optuna.Study, trials: Sequence[FrozenTrial]) -> Columns:
    """The columns of a table of ``trials`` of ``study``: its objectives, then each other
    metric stored on ``trials`` that holds a value somewhere, then their parameters."""
    objectives = study_objectives(study)
    stored = [_stored(t) for t in trials]
    keys = _first_seen([*(m.keys() for m in stored), ALWAYS])
    filled = {k for m in stored for k, v in m.items() if _has_value(v)}
    metrics = tuple(k for k in keys if k not in objectives and (k in filled or k in ALWAYS))
    params = tuple(_first_seen(t.params.keys() for t in trials))
    return Columns(objectives, metrics, params, tuple(metric_columns(study).items()))
