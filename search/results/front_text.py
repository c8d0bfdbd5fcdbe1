"""The Pareto front as text for a terminal: what ``run`` and ``pareto`` print.

Each row shows what identifies a candidate: its trial number, the study's objectives, its test
metric and every parameter the trial sampled (a user builder's ``width`` / ``depth`` and the
pruning method included). When one column per parameter fits the terminal's width the
parameters get their own columns; otherwise they are one column of ``name=value`` pairs,
wrapped onto further lines as needed.
"""

from __future__ import annotations

import math
import shutil
import textwrap
from typing import Any

import optuna
import pandas as pd

from search.results.columns import PARAM_PREFIX, table_columns
from search.results.pareto import front_frame, front_trials

__all__ = ["EMPTY_FRONT", "front_text"]

#: What is printed for a study without complete trials.
EMPTY_FRONT = "the front is empty (no complete trials yet)"

_GAP = "  "
#: The narrowest a wrapped ``name=value`` column gets before it moves below the row.
_MIN_PAIRS = 24


def _fmt(value: Any) -> str:
    """A cell: ``-`` for missing, whole numbers without a fraction, floats to 4 figures."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, (bool, str)):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()
                                  and abs(value) < 1e15):
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _aligned(head: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(c) for c in col) for col in zip(head, *rows, strict=True)]
    return [_GAP.join(c.rjust(w) for c, w in zip(line, widths, strict=True)).rstrip()
            for line in (head, *rows)]


def _shown(study: optuna.Study, front: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(metric columns, parameter columns) of ``front`` that the terminal shows."""
    columns = table_columns(study, front_trials(study))
    metrics = [columns.name(k) for k in columns.objectives]
    test = columns.name("test_accuracy")
    if not metrics:  # a study Frontier did not create: its first two metrics
        metrics = [columns.name(k) for k in columns.metric_keys[:2]]
    if test in front.columns and test not in metrics:
        metrics.append(test)
    return metrics, [PARAM_PREFIX + p for p in columns.params]


def front_text(study: optuna.Study, width: int | None = None) -> str:
    """The front as lines of text at most ``width`` characters wide where the cells allow
    (default: the terminal's width, 100 when there is no terminal)."""
    front = front_frame(study)
    if front.empty:
        return EMPTY_FRONT
    width = width or shutil.get_terminal_size((100, 24)).columns
    metrics, params = _shown(study, front)
    records = front.to_dict(orient="records")
    head = ["trial", *metrics]
    rows = [[_fmt(r[c]) for c in head] for r in records]
    wide = _aligned([*head, *(p.removeprefix(PARAM_PREFIX) for p in params)],
                    [row + [_fmt(r[p]) for p in params] for row, r in zip(rows, records,
                                                                            strict=True)])
    if max(len(line) for line in wide) <= width or not params:
        return "\n".join(wide)
    pairs = [" ".join(f"{p.removeprefix(PARAM_PREFIX)}={_fmt(r[p])}" for p in params
                      if _fmt(r[p]) != "-") for r in records]
    return "\n".join(_with_pairs(_aligned(head, rows), pairs, width))


def _with_pairs(table: list[str], pairs: list[str], width: int) -> list[str]:
    """``table`` (heading, then one line per row) with each row's ``name=value`` pairs in a
    last column wrapped to ``width``, or below the row when that column would be too narrow."""
    indent = max(len(line) for line in table) + len(_GAP)
    if width - indent < _MIN_PAIRS:
        below = " " * 4
        lines = [table[0] + _GAP + "parameters"]
        for line, text in zip(table[1:], pairs, strict=True):
            lines += [line, *textwrap.wrap(text, max(width - 4, _MIN_PAIRS),
                                           initial_indent=below, subsequent_indent=below,
                                           break_long_words=False)]
        return lines
    lines = [table[0].ljust(indent) + "parameters"]
    for line, text in zip(table[1:], pairs, strict=True):
        wrapped = textwrap.wrap(text, width - indent, break_long_words=False) or [""]
        lines.append(line.ljust(indent) + wrapped[0])
        lines += [" " * indent + rest for rest in wrapped[1:]]
    return lines
