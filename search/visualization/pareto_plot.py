"""The Pareto plot: accuracy (the study's metric) against nonzero parameters (log axis), front
over all trials.

Drawn with plotly directly rather than ``optuna.visualization.plot_pareto_front`` because the
hover must carry the rebuilt architecture, compression and test accuracy, and the front is drawn
as the staircase a reader compares against.
"""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import plotly.graph_objects as go

from search.keys import CONFIG_ATTR, METRICS_ATTR, SPEC_ATTR
from search.results.pareto import completed, front_trials, metric_label
from search.results.reference import base_of
from search.safe_files import write_text

__all__ = ["pareto_figure", "write_html"]


def _short(metric: str) -> str:
    return "acc" if metric == "accuracy" else metric


def _hover(t: optuna.trial.FrozenTrial, metric: str = "accuracy") -> str:
    m = t.user_attrs.get(METRICS_ATTR, {})
    spec = json.loads(t.user_attrs.get(SPEC_ATTR, "{}"))
    compress = spec.get("compress", {})
    arch = ", ".join(f"{k}={v}" for k, v in spec.items()
                     if k not in ("compress", "train", "space"))
    return (f"<b>trial {t.number}</b><br>{spec.get('space', '?')}: {arch}<br>"
            f"prune {compress.get('prune_ratio', 0):.0%}, {compress.get('bits', 32)} bits<br>"
            f"val {_short(metric)} {m.get('val_accuracy', float('nan')):.4f}, "
            f"test {_short(metric)} {m.get('test_accuracy', float('nan')):.4f}<br>"
            f"params {m.get('params', 0):,}, size {m.get('size_bytes', 0):,} B, "
            f"MACs {m.get('macs', 0):,}")


_AXIS = {"params": "nonzero parameters", "size_bytes": "size in bytes", "macs": "MACs",
         "latency_ms": "latency (ms)"}


def size_objective(study: optuna.Study) -> str:
    """The metric on the plot's x axis: the study's first minimised objective."""
    objectives = study.user_attrs.get(CONFIG_ATTR, {}).get("study", {}).get("objectives", [])
    return next((o for o in objectives if o in _AXIS), "params")


def pareto_figure(study: optuna.Study) -> go.Figure:
    """Scatter of every complete trial with the Pareto front highlighted."""
    x_name = size_objective(study)
    metric = metric_label(study)
    trials = [t for t in completed(study) if METRICS_ATTR in t.user_attrs]
    front = sorted(front_trials(study), key=lambda t: t.user_attrs[METRICS_ATTR][x_name])
    on_front = {t.number for t in front}
    rest = [t for t in trials if t.number not in on_front]

    def xy(ts: list[optuna.trial.FrozenTrial]) -> tuple[list[float], list[float]]:
        return ([t.user_attrs[METRICS_ATTR][x_name] for t in ts],
                [t.user_attrs[METRICS_ATTR]["val_accuracy"] for t in ts])

    fig = go.Figure()
    x, y = xy(rest)
    fig.add_trace(go.Scatter(x=x, y=y, mode="markers", name="other trials",
                             marker={"color": "rgba(120,120,120,0.45)", "size": 7},
                             hovertext=[_hover(t, metric) for t in rest], hoverinfo="text"))
    x, y = xy(front)
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name="Pareto front",
                             line={"shape": "hv", "color": "#d62728"},
                             marker={"size": 10, "color": "#d62728"},
                             hovertext=[_hover(t, metric) for t in front], hoverinfo="text"))
    _add_base(fig, study, x_name, metric)
    fig.update_layout(
        title=f"{study.study_name}: validation {metric} vs. {_AXIS[x_name]} "
              f"({len(front)} on the front of {len(trials)} trials)",
        xaxis={"title": f"{_AXIS[x_name]} (log scale)", "type": "log"},
        yaxis={"title": f"validation {metric}"},
        template="plotly_white", hovermode="closest", legend={"x": 0.99, "xanchor": "right",
                                                             "y": 0.02, "yanchor": "bottom"},
    )
    return fig


def _add_base(fig: go.Figure, study: optuna.Study, x_name: str, metric: str) -> None:
    """Mark a compress-mode study's base, the reference every candidate derives from."""
    base = base_of(study)
    if base is None or x_name not in base:
        return
    fig.add_trace(go.Scatter(
        x=[base[x_name]], y=[base["val_accuracy"]], mode="markers", name="base (uncompressed)",
        marker={"symbol": "star", "size": 16, "color": "#1f77b4"}, hoverinfo="text",
        hovertext=[f"<b>base</b><br>val {metric} {base['val_accuracy']:.4f}<br>"
                   f"{_AXIS[x_name]} {base[x_name]:,}"]))


def write_html(fig: go.Figure, path: str | Path) -> Path:
    """Write a self-contained HTML file (plotly.js inlined, works offline), atomically and
    never through a symlink (:func:`search.safe_files.write_text`)."""
    return write_text(path, fig.to_html(include_plotlyjs=True, full_html=True))
