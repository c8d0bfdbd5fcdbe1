"""The sensitivity figure: each unit's score drop against the value it was compressed to, one
panel per kind of unit (channel groups, weight bits, dropped modules), one trace per unit."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from objectives.sensitivity import KINDS, typed_value

__all__ = ["sensitivity_figure"]

_TITLES = {"width": "channel groups (keep ratio)", "bits": "weight bits (per layer)",
           "depth": "modules (kept / dropped)"}
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")


def _x(kind: str, value: Any) -> float | str:
    v = typed_value(kind, value)
    if kind == "bits":
        return str(v)
    if kind == "depth":
        return "dropped" if v else "kept"
    return float(v)


def _hover(kind: str) -> str:
    what = {"width": "keep %{x}", "bits": "%{x} bits", "depth": "%{x}"}[kind]
    return (f"<b>%{{fullData.name}}</b><br>{what}<br>score %{{customdata[0]:.4f}} "
            "(drop %{y:.4f})<br>params %{customdata[1]:,}, MACs %{customdata[2]:,}, "
            "size %{customdata[3]:,} B<extra></extra>")


def sensitivity_figure(table: pd.DataFrame) -> go.Figure:
    """``objectives.sensitivity.sensitivity``'s table (or the same read back from CSV) as drop
    (base score − score) against value: one panel per kind present, one line per unit, values
    ordered from least to most compressed; the base's score in the title."""
    base = table[table["kind"] == "base"]
    kinds = [k for k in KINDS if (table["kind"] == k).any()]
    if not kinds:
        raise ValueError("table: no unit rows to draw; run sensitivity() with some units")
    fig = make_subplots(rows=1, cols=len(kinds), shared_yaxes=True,
                        subplot_titles=[_TITLES[k] for k in kinds])
    i = 0
    for col, kind in enumerate(kinds, start=1):
        rows = table[table["kind"] == kind]
        for unit, part in rows.groupby("unit", sort=False):
            xs = [_x(kind, v) for v in part["value"]]
            fig.add_trace(go.Scatter(
                x=xs, y=part["drop"], mode="lines+markers", name=f"{kind}: {unit}",
                legendgroup=kind, line={"color": _PALETTE[i % len(_PALETTE)]},
                customdata=part[["val_score", "params", "macs", "size_bytes"]].to_numpy(),
                hovertemplate=_hover(kind)), row=1, col=col)
            i += 1
        if kind == "width":
            fig.update_xaxes(autorange="reversed", row=1, col=col)
        elif kind == "bits":
            order = sorted({_x(kind, v) for v in rows["value"]}, key=lambda b: -int(b))
            fig.update_xaxes(type="category", categoryorder="array", categoryarray=order,
                             row=1, col=col)
        else:
            fig.update_xaxes(type="category", categoryorder="array",
                             categoryarray=["kept", "dropped"], row=1, col=col)
    score = f"{float(base['val_score'].iloc[0]):.4f}" if len(base) else "?"
    fig.update_yaxes(title_text="drop (base score − score)", row=1, col=1)
    fig.update_layout(title=f"Sensitivity: one unit compressed at a time, no fine-tuning "
                            f"(base val score {score})",
                      template="plotly_white", height=460, title_font_size=15,
                      margin={"l": 70, "r": 30, "t": 80}, hovermode="closest")
    return fig
