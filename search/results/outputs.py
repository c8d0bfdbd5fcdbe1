"""Write everything a finished (or interrupted) study offers: tables and the Pareto plot."""

from __future__ import annotations

from pathlib import Path

import optuna

from search.results.pareto import write_tables
from search.results.sensitivity import stored_table, write_table
from search.visualization.pareto_plot import pareto_figure, write_html

__all__ = ["write_outputs"]


def write_outputs(study: optuna.Study, out_dir: str | Path) -> dict[str, Path]:
    """``pareto.csv``, ``pareto.json``, ``trials.csv`` and ``pareto.html`` in ``out_dir``, and
    ``sensitivity.csv`` when the study stored a sensitivity table (compress mode)."""
    paths = write_tables(study, out_dir)
    paths["pareto_html"] = write_html(pareto_figure(study), Path(out_dir) / "pareto.html")
    table = stored_table(study)
    if table is not None:
        paths["sensitivity_csv"] = write_table(table, Path(out_dir) / "sensitivity.csv")
    return paths
