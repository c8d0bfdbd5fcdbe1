"""The report's figures besides the Pareto plot: hypervolume over trials, parameter importances
per objective, parallel coordinates. Drawn by ``optuna.visualization`` wherever it already
draws the figure; a figure that a small study cannot support is replaced by a short note.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TypeAlias

import optuna
import plotly.graph_objects as go
from optuna.exceptions import ExperimentalWarning
from optuna.trial import FrozenTrial, TrialState
from optuna.visualization import (
    plot_hypervolume_history,
    plot_parallel_coordinate,
    plot_param_importances,
)

from search.results.pareto import HV_REFERENCE, hypervolume

__all__ = [
    "Figureish",
    "hypervolume_figure",
    "importance_figure",
    "optuna_hypervolume_figure",
    "parallel_figure",
]

#: A figure, or the note that says why there is none.
Figureish: TypeAlias = "go.Figure | str"

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
_LAYOUT = {"template": "plotly_white", "height": 420, "margin": {"l": 70, "r": 30, "t": 60},
           "title_font_size": 15}


def _complete(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def hypervolume_figure(study: optuna.Study,
                       reference: tuple[float, float] = HV_REFERENCE) -> Figureish:
    """Frontier's hypervolume in (1 − val accuracy, log10 size in bits) after each trial."""
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    done: list[FrozenTrial] = []
    xs, ys = [], []
    for t in trials:
        if t.state == TrialState.COMPLETE:
            done.append(t)
            xs.append(t.number)
            ys.append(hypervolume(done, reference))
    if not xs:
        return "No complete trials yet: no hypervolume to draw."
    fig = go.Figure(go.Scatter(x=xs, y=ys, mode="lines+markers", line={"shape": "hv"},
                               name="hypervolume",
                               hovertemplate="after trial %{x}: %{y:.4f}<extra></extra>"))
    fig.update_layout(
        title=f"Frontier's space, reference {reference}",
        xaxis_title="trial", yaxis_title="hypervolume of (1 − val acc, log10 bits)", **_LAYOUT)
    return fig


def optuna_hypervolume_figure(study: optuna.Study, objectives: Sequence[str]) -> Figureish:
    """``optuna.visualization.plot_hypervolume_history`` in the study's own objective space.

    The reference point is 0 for a maximised objective and 1.1 × the largest observed value
    for a minimised one, so every complete trial contributes.
    """
    trials = _complete(study)
    if not trials or len(study.directions) < 2:
        return "Needs a multi-objective study with complete trials."
    reference = []
    for i, direction in enumerate(study.directions):
        if direction == optuna.study.StudyDirection.MAXIMIZE:
            reference.append(0.0)
        else:
            reference.append(1.1 * max(t.values[i] for t in trials) or 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        fig = plot_hypervolume_history(study, reference)
    shown = ", ".join(f"{r:.4g}" for r in reference)
    fig.update_layout(title=f"Optuna's, reference ({shown})", yaxis_title=(
        f"hypervolume of {', '.join(objectives)}"), **_LAYOUT)
    return fig


def _signed(i: int, maximize: bool) -> Callable[[FrozenTrial], float]:
    # PED-ANOVA explains reaching *low* target values: negate a maximised objective.
    return lambda t: -t.values[i] if maximize else t.values[i]


def _varied_params(trials: list[FrozenTrial]) -> list[str]:
    names = sorted({n for t in trials for n in t.params})
    return [n for n in names if len({repr(t.params.get(n)) for t in trials}) > 1]


def importance_figure(study: optuna.Study, objectives: Sequence[str]) -> Figureish:
    """Parameter importances (Optuna's default evaluator, PED-ANOVA) for every objective,
    one bar colour per objective."""
    trials = _complete(study)
    if len(trials) < 2:
        return (f"Parameter importances need at least 2 complete trials; the study has "
                f"{len(trials)}.")
    if not _varied_params(trials):
        return "Parameter importances need a parameter that takes more than one value."
    fig = go.Figure()
    for i, (name, direction) in enumerate(zip(objectives, study.directions, strict=True)):
        maximize = direction == optuna.study.StudyDirection.MAXIMIZE
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            # The target is signed on purpose (see _signed); Optuna warns about any target.
            warnings.filterwarnings("ignore", message="PedAnovaImportanceEvaluator computes")
            # A small study has few trials per parameter regime; the figure says as much.
            warnings.filterwarnings("ignore", message="Some regimes for parameter")
            one = plot_param_importances(study, target=_signed(i, maximize), target_name=name)
        for trace in one.data:
            trace.update(name=name, showlegend=True, marker_color=_COLORS[i % len(_COLORS)])
            fig.add_trace(trace)
    fig.update_layout(title="Parameter importances for each objective (PED-ANOVA)",
                      barmode="group", xaxis_title="importance (normalised per objective)",
                      yaxis_title="parameter", **_LAYOUT)
    return fig


def parallel_figure(study: optuna.Study, objectives: Sequence[str]) -> Figureish:
    """``optuna.visualization.plot_parallel_coordinate`` of the objectives and the sampled
    parameters, each line coloured by its trial's Pareto rank (the front darkest)."""
    trials = _complete(study)
    if len(trials) < 2:
        return (f"Parallel coordinates need at least 2 complete trials; the study has "
                f"{len(trials)}.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        fig = plot_parallel_coordinate(study)
    # Optuna names the objectives "Objective i" unless the study stores metric names.
    names = {f"Objective {i}": name for i, name in enumerate(objectives)}
    fig.update_xaxes(ticktext=[names.get(t, t) for t in fig.layout.xaxis.ticktext])
    for trace in fig.data:
        if trace.customdata is not None:
            trace.customdata = [[names.get(c[0], c[0]), *c[1:]] for c in trace.customdata]
    fig.update_layout(title="Objectives and sampled parameters of complete trials, coloured by "
                            "Pareto rank (0 = the front)", **_LAYOUT)
    return fig
