"""The study report: one self-contained, offline HTML file (plotly.js inlined once).

Sections: a summary line, the Pareto plot (log-scaled size axis, hover with the architecture),
a sortable table of the front, hypervolume over trials, parameter importances for each
objective, parallel coordinates of the sampled parameters, and failed/stopped trials with their
reasons. ``report_figures`` returns the same figures for PNG/SVG export
(``search.visualization.images``).
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

import optuna
import plotly.graph_objects as go
from optuna.trial import FrozenTrial, TrialState

from search.early_stop import state_name
from search.keys import CONFIG_ATTR, METRICS_ATTR, SPEC_ATTR
from search.results.columns import table_columns
from search.results.pareto import (
    HV_REFERENCE,
    completed,
    front_trials,
    hypervolume,
    metric_columns,
    metric_label,
    trials_frame,
)
from search.results.reference import BASE_ROW, base_of
from search.results.sensitivity import stored_table
from search.storage.studies import stored_config
from search.visualization.pareto_plot import pareto_figure
from search.visualization.report_figures import (
    Figureish,
    hypervolume_figure,
    importance_figure,
    optuna_hypervolume_figure,
    parallel_figure,
)
from search.visualization.sensitivity import sensitivity_figure

__all__ = ["PARETO_DIV", "report_figures", "report_html"]

#: id of the Pareto plot's div; its wrapper carries ``data-points`` (points drawn).
PARETO_DIV = "pareto-plot"
_PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

#: (section id, heading, what the reader sees) for each figure of report_figures, in order.
_SECTIONS = (
    ("pareto", "Pareto front", "Every complete trial; the front in red. Hover a point for its "
     "architecture, compression, accuracies, size and MACs. The size axis is logarithmic."),
    ("hypervolume", "Hypervolume over trials", "How much of the objective space the trials "
     "so far dominate: in Frontier's (1 − val accuracy, log10 size in bits) space, and in the "
     "study's own objectives as Optuna computes it."),
    ("optuna_hypervolume", "", ""),
    ("importances", "Parameter importances", "Which sampled parameters decide each objective "
     "(Optuna's PED-ANOVA; a maximised objective is negated so 'important' means 'matters for "
     "doing well')."),
    ("parallel", "Parallel coordinates", "One line per complete trial through its objectives "
     "and sampled parameters, darker the nearer the front; a parameter a trial does not have "
     "(a deeper layer's width) sits at 'None'."),
    ("sensitivity", "Sensitivity of the base", "Compress mode: the base's val score drop with "
     "one unit compressed at a time, no fine-tuning (sensitivity.csv); the warm-start trials "
     "were allocated from it."),
)

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;
  background:#f4f5f7;margin:0}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 6px} h2{font-size:19px;margin:0 0 6px}
section,header{background:#fff;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.08);
  padding:18px 22px;margin:0 0 18px}
.summary span{display:inline-block;margin:2px 14px 2px 0} .summary b{font-weight:600}
.hint{color:#555;margin:0 0 8px} .note{color:#8a5a00;background:#fff6e0;padding:8px 12px;
  border-radius:6px} .grid{display:grid;grid-template-columns:1fr 1fr;gap:12px}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{padding:5px 8px;border-bottom:1px solid #e4e6ea;text-align:right;white-space:nowrap}
th{background:#f0f2f5;cursor:pointer;user-select:none;position:sticky;top:0}
th:hover{background:#e2e6ec} th[data-order=asc]::after{content:" ▲"}
th[data-order=desc]::after{content:" ▼"} td.text,th.text{text-align:left;white-space:normal}
tbody tr:hover{background:#f7f9fc} code{background:#f0f2f5;padding:1px 5px;border-radius:4px}
footer{color:#777;font-size:13px;text-align:center} .wide{overflow-x:auto}
"""

_SORT_JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var asc = th.dataset.order !== "asc";
      table.querySelectorAll("th").forEach(function (h) { delete h.dataset.order; });
      th.dataset.order = asc ? "asc" : "desc";
      var key = function (row) {
        var cell = row.cells[col], v = cell.dataset.value;
        return v === undefined ? cell.textContent : parseFloat(v);
      };
      var body = table.tBodies[0];
      Array.from(body.rows).sort(function (a, b) {
        var x = key(a), y = key(b);
        return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
      }).forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def report_figures(study: optuna.Study, objectives: Sequence[str] | None = None
                   ) -> dict[str, Figureish]:
    """The report's figures by name (a string is the note shown instead of a figure)."""
    columns = metric_columns(study)  # val_accuracy shown as val_<metric>
    names = [columns.get(o, o) for o in objectives or stored_config(study).objectives]
    table = stored_table(study)  # compress mode, unless [base] sensitivity = false
    return {
        "pareto": pareto_figure(study).update_layout(height=560),
        "hypervolume": hypervolume_figure(study),
        "optuna_hypervolume": optuna_hypervolume_figure(study, names),
        "importances": importance_figure(study, names),
        "parallel": parallel_figure(study, names),
        **({} if table is None else {"sensitivity": sensitivity_figure(table)}),
    }


def _arch(t: FrozenTrial) -> str:
    spec = json.loads(t.user_attrs.get(SPEC_ATTR, "{}"))
    return ", ".join(f"{k}={v}" for k, v in spec.items() if k not in ("compress", "train", "space"))


def _cell(value: Any, fmt: str = "{:,}") -> str:
    if value is None or (isinstance(value, float) and value != value):
        return '<td data-value="-1e308">–</td>'
    if isinstance(value, str):
        return f'<td class="text">{html.escape(value)}</td>'
    return f'<td data-value="{float(value)!r}">{html.escape(fmt.format(value))}</td>'


#: Headings and formats of the metrics Frontier stores; any other metric is headed by its key.
_HEADINGS = {"val_accuracy": ("val acc", "{:.4f}"), "test_accuracy": ("test acc", "{:.4f}"),
             "params": ("params", "{:,}"), "size_bytes": ("size (B)", "{:,}"),
             "macs": ("MACs", "{:,}"), "latency_ms": ("latency (ms)", "{:.3f}"),
             "torch_latency_ms": ("latency PyTorch (ms)", "{:.3f}"),
             "train_seconds": ("train (s)", "{:.1f}"), "pruned_fraction": ("pruned", "{:.0%}"),
             "epochs_run": ("epochs", "{:,}")}


def _latency_setup(study: optuna.Study) -> tuple[str, int]:
    """The stored study's ``[budget] latency_backend`` and ``latency_batch``."""
    budget = study.user_attrs.get(CONFIG_ATTR, {}).get("budget", {})
    return str(budget.get("latency_backend", "torch")), int(budget.get("latency_batch", 1))


def _heading(key: str, metric: str, backend: str = "torch", batch: int = 1) -> str:
    """A metric column's heading: the metric named when it is not accuracy; the latency's
    backend and batch named when they are not PyTorch and 1."""
    if key in ("val_accuracy", "test_accuracy") and metric != "accuracy":
        return f"{key.split('_')[0]} {metric}"
    at = f", batch {batch}" if batch != 1 else ""
    if key == "latency_ms" and (backend != "torch" or batch != 1):
        return f"latency {backend} (ms{at})"
    if key == "torch_latency_ms":
        return f"latency PyTorch (ms{at})"
    return _HEADINGS.get(key, (key, ""))[0]


def _fmt(value: Any) -> str:
    if isinstance(value, float) and not value.is_integer():
        return "{:.4g}"
    return "{:,}" if isinstance(value, int | float) and not isinstance(value, bool) else "{}"


def _front_table(study: optuna.Study) -> str:
    """The front's table: trial, the columns of ``table_columns`` (PyTorch's latency only
    beside another backend's) and each trial's architecture."""
    trials = front_trials(study)
    if not trials:
        return '<p class="note">The front is empty: no complete trials yet.</p>'
    backend, batch = _latency_setup(study)
    columns = table_columns(study, trials)
    keys = [k for k in columns.metric_keys if k != "torch_latency_ms" or backend != "torch"]
    rows = [_base_table_row(study, keys, len(columns.params))]
    for t in trials:
        m = t.user_attrs.get(METRICS_ATTR, {})
        cells = [_cell(t.number, "{}")]
        cells += [_cell(m.get(k), _HEADINGS.get(k, ("", _fmt(m.get(k))))[1]) for k in keys]
        cells += [_cell(v, _fmt(v)) for v in (t.params.get(p) for p in columns.params)]
        rows.append("<tr>" + "".join(cells) + f'<td class="text">{html.escape(_arch(t))}</td>'
                    "</tr>")
    metric = metric_label(study)
    heads = ["trial", *(_heading(k, metric, backend, batch) for k in keys), *columns.params]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
    head += '<th class="text">architecture</th>'
    return (f'<div class="wide"><table class="sortable" id="front-table"><thead><tr>{head}'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></div><p class="hint">Click a '
            f"heading to sort. Export a model with <code>frontier export --study "
            f"{html.escape(study.study_name)} --trial {trials[0].number} --out model/ "
            f"--onnx</code>.</p>")


def _base_table_row(study: optuna.Study, keys: Sequence[str], params: int) -> str:
    """A compress-mode study's base as the table's first row (empty for other studies)."""
    base = base_of(study)
    if base is None:
        return ""
    cells = [_cell(BASE_ROW, "{}")]
    cells += [_cell(base.get(k), _HEADINGS.get(k, ("", _fmt(base.get(k))))[1]) for k in keys]
    cells += ['<td></td>'] * params
    return ('<tr class="base">' + "".join(cells)
            + '<td class="text">the base, uncompressed (reference)</td></tr>')


def _failures(study: optuna.Study) -> str:
    table = trials_frame(study)
    if table.empty:
        return '<p class="hint">No trials yet.</p>'
    bad = table[table.state.isin(["FAIL", "STOPPED"])]
    if bad.empty:
        return '<p class="hint">No failed or stopped trials.</p>'
    groups: dict[tuple[str, str], list[int]] = {}
    for state, reason, number in zip(bad.state, bad.reason, bad.trial, strict=True):
        groups.setdefault((str(state), str(reason)), []).append(int(number))
    rows = "".join(
        f'<tr><td class="text">{html.escape(state)}</td><td data-value="{len(numbers)}">'
        f'{len(numbers)}</td><td class="text">{html.escape(reason or "(no reason stored)")}</td>'
        f'<td class="text">{", ".join(str(n) for n in numbers)}</td></tr>'
        for (state, reason), numbers in groups.items())
    return ('<table class="sortable" id="failures-table"><thead><tr><th class="text">state</th>'
            '<th>trials</th><th class="text">reason</th><th class="text">trial numbers</th>'
            f"</tr></thead><tbody>{rows}</tbody></table>")


_STATE_WORDS = {TrialState.FAIL: "failed"}
_ALWAYS_SHOWN = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def _summary(study: optuna.Study, objectives: Sequence[str]) -> str:
    trials = study.get_trials(deepcopy=False)
    by_state = {s: sum(t.state == s for t in trials) for s in TrialState}
    front = front_trials(study)
    arrows = {"MAXIMIZE": "↑", "MINIMIZE": "↓"}
    columns = metric_columns(study)
    objs = ", ".join(f"{columns.get(o, o)} {arrows[d.name]}"
                     for o, d in zip(objectives, study.directions, strict=True))
    tests = [t.user_attrs.get(METRICS_ATTR, {}).get("test_accuracy") for t in front]
    best = max((a for a in tests if a is not None), default=None)
    items = [
        f"<b>objectives</b> {html.escape(objs)}",
        f"<b>{len(trials)} trials</b>: " + ", ".join(
            f"{by_state[s]} {_STATE_WORDS.get(s, state_name(s).lower())}" for s in TrialState
            if by_state[s] or s in _ALWAYS_SHOWN),
        f"<b>front</b> {len(front)} trials",
        f"<b>hypervolume</b> {hypervolume(completed(study)):.4f} "
        f"(1 − val acc, log10 size bits; reference {HV_REFERENCE})",
    ]
    if best is not None:
        items.append(f"<b>best test {html.escape(metric_label(study))} on the front</b> "
                     f"{best:.4f}")
    return '<p class="summary">' + "".join(f"<span>{i}</span>" for i in items) + "</p>"


def _figure_html(fig: Figureish, div_id: str, first: bool) -> str:
    if isinstance(fig, str):
        return f'<p class="note" id="{div_id}">{html.escape(fig)}</p>'
    return fig.to_html(full_html=False, include_plotlyjs=first, div_id=div_id,
                       config=_PLOTLY_CONFIG)


def report_html(study: optuna.Study, objectives: Sequence[str] | None = None,
                figures: Mapping[str, Figureish] | None = None) -> str:
    """The whole report as one HTML string (no external URLs: it works offline); ``figures``
    are :func:`report_figures`' output when the caller already has them."""
    names = list(objectives or stored_config(study).objectives)
    figures = figures or report_figures(study, names)
    first = True
    parts: dict[str, str] = {}
    for key, fig in figures.items():
        parts[key] = _figure_html(fig, PARETO_DIV if key == "pareto" else f"{key}-plot", first)
        first = first and not isinstance(fig, go.Figure)
    points = sum(METRICS_ATTR in t.user_attrs for t in completed(study))
    sections = []
    for key, heading, hint in _SECTIONS:
        if key == "optuna_hypervolume" or key not in parts:
            continue
        body = parts[key]
        if key == "pareto":
            body = (f'<div class="plot" data-points="{points}" '
                    f'data-front="{len(front_trials(study))}">{body}</div>')
        if key == "hypervolume":
            body = (f'<div class="grid"><div>{body}</div>'
                    f'<div>{parts["optuna_hypervolume"]}</div></div>')
        sections.append(f'<section id="{key}"><h2>{heading}</h2><p class="hint">{hint}</p>'
                        f"{body}</section>")
        if key == "pareto":
            sections.append('<section id="front"><h2>The front</h2>'
                            f"{_front_table(study)}</section>")
    sections.append('<section id="failures"><h2>Failed and stopped trials</h2>'
                    f"{_failures(study)}</section>")
    name = html.escape(study.study_name)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Frontier report: {name}</title><style>{_CSS}</style></head><body><main>"
            f"<header><h1>Frontier report: {name}</h1>{_summary(study, names)}</header>"
            f'{"".join(sections)}<footer>Generated by Frontier on {stamp}.</footer></main>'
            f"<script>{_SORT_JS}</script></body></html>\n")
