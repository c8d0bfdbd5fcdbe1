"""The study report: its content, and what headless Chromium shows of it (offline)."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from search.cli import main
from search.visualization.browser import HEADLESS_FLAGS, console_messages
from search.visualization.report import PARETO_DIV, report_html
from tests.conftest import ENV, tiny_toml
from tests.search.test_cli import cli

DB = "sqlite:///runs/frontier.db"


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 6-trial study, plus one failed and one stopped (Optuna: PRUNED) trial with
    their reasons."""
    root = tmp_path_factory.mktemp("report")
    (root / "s.toml").write_text(tiny_toml("rep", n_trials=6))
    res = cli("run", "s.toml", "--quiet", cwd=root)
    assert res.returncode == 0, res.stderr
    study = optuna.load_study(study_name="rep", storage=f"sqlite:///{root}/runs/frontier.db")
    dist = {"prune_ratio": FloatDistribution(0.0, 0.8)}
    study.add_trial(create_trial(state=TrialState.FAIL, params={"prune_ratio": 0.5},
                                 distributions=dist,
                                 user_attrs={"fail_reason": "RuntimeError: out of <memory>"}))
    study.add_trial(create_trial(state=TrialState.PRUNED, params={"prune_ratio": 0.1},
                                 distributions=dist))
    return root


def _study(root: Path) -> optuna.Study:
    return optuna.load_study(study_name="rep", storage=f"sqlite:///{root}/runs/frontier.db")


def test_report_is_one_offline_file_with_every_section(study_dir: Path) -> None:
    res = cli("report", "--study", "rep", "--out", "report.html", cwd=study_dir)
    assert res.returncode == 0, res.stderr
    page = (study_dir / "report.html").read_text()
    study = _study(study_dir)
    # plotly.js inlined exactly once, nothing fetched from anywhere
    assert len(re.findall(r"plotly\.js v\d", page)) == 1
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page)
    for section in ("pareto", "front", "hypervolume", "importances", "parallel", "failures"):
        assert f'<section id="{section}">' in page
    for div in (PARETO_DIV, "hypervolume-plot", "optuna_hypervolume-plot", "importances-plot",
                "parallel-plot"):
        assert f'<div id="{div}" class="plotly-graph-div"' in page
    front = {t.number for t in study.best_trials}
    table = page[page.index('id="front-table"'):page.index("</table>", page.index("front-table"))]
    rows = re.findall(r'<tr><td data-value="(\d+)\.0">', table)
    assert {int(n) for n in rows} == front and len(rows) == len(front)
    assert "6 complete, 1 stopped, 1 failed" in page
    assert "RuntimeError: out of &lt;memory&gt;" in page  # reasons are shown, and escaped
    assert "(no reason stored)" in page
    assert f'data-points="6" data-front="{len(front)}"' in page


def _trial(number: int, acc: float, params: int, prune: float) -> optuna.trial.FrozenTrial:
    spec = {"space": "cnn", "widths": [4], "kernel": 3, "batch_norm": True,
            "compress": {"prune_ratio": prune, "bits": 32},
            "train": {"lr": 0.01, "weight_decay": 0.0001, "schedule": "cosine"}}
    metrics = {"val_accuracy": acc, "test_accuracy": acc, "params": params,
               "size_bytes": 4 * params, "macs": 1000, "train_seconds": 0.1,
               "latency_ms": 0.1, "pruned_fraction": prune}
    return create_trial(values=[acc, params], params={"prune_ratio": prune},
                        distributions={"prune_ratio": FloatDistribution(0.0, 0.8)},
                        user_attrs={"spec": json.dumps(spec), "metrics": metrics})


@pytest.mark.parametrize(("trials", "notes"), [
    ([], ["The front is empty", "No complete trials yet", "need at least 2 complete trials"]),
    ([_trial(0, 0.5, 100, 0.2)], ["need at least 2 complete trials; the study has 1"]),
    ([_trial(0, 0.5, 100, 0.2), _trial(1, 0.6, 90, 0.2)],
     ["need a parameter that takes more than one value"]),
])
def test_small_studies_get_notes_instead_of_figures(trials: list[optuna.trial.FrozenTrial],
                                                    notes: list[str]) -> None:
    study = optuna.create_study(directions=["maximize", "minimize"], study_name="small")
    for t in trials:
        study.add_trial(t)
    page = report_html(study, ["val_accuracy", "params"])
    for note in notes:
        assert note in page
    assert page.count('class="note"') >= len(notes)


class _Points(HTMLParser):
    """Counts plotly's rendered scatter points (``path.point``) inside the element ``div_id``,
    and the ``svg.main-svg`` elements of every plot div."""

    def __init__(self, div_id: str) -> None:
        super().__init__()
        self.div_id, self.depth, self.points, self.svgs = div_id, 0, 0, 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if self.depth:
            self.depth += 1
        elif a.get("id") == self.div_id:
            self.depth = 1
        if self.depth and tag == "path" and a.get("class") == "point":
            self.points += 1
        if tag == "svg" and a.get("class") == "main-svg":
            self.svgs += 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1


def _render(page: Path, chromium: str) -> tuple[_Points, list[str]]:
    """Load ``page`` in headless Chromium with every host unresolvable; the DOM after its
    scripts ran, and everything the page wrote to its console (errors, failed loads, logs)."""
    with tempfile.TemporaryDirectory() as profile:
        res = subprocess.run(
            [chromium, *HEADLESS_FLAGS, f"--user-data-dir={profile}",
             "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0",
             "--virtual-time-budget=10000", "--dump-dom", page.resolve().as_uri()],
            capture_output=True, text=True, timeout=120, env=ENV)
    assert res.returncode == 0, res.stderr[-2000:]
    parser = _Points(PARETO_DIV)
    parser.feed(res.stdout)
    return parser, console_messages(res.stderr)


def test_report_renders_in_headless_chromium(study_dir: Path, chromium: str) -> None:
    res = cli("report", "--study", "rep", "--out", "shown.html", "--screenshot", "shot.png",
              "--png", "figs", cwd=study_dir)
    assert res.returncode == 0, res.stderr
    assert "warning" not in res.stderr
    names = sorted(p.name for p in (study_dir / "figs").iterdir())
    assert names == ["hypervolume.png", "importances.png", "optuna_hypervolume.png",
                     "parallel.png", "pareto.png"]
    for name in names:
        assert (study_dir / "figs" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dom, console = _render(study_dir / "shown.html", chromium)
    assert console == []
    complete = [t for t in _study(study_dir).trials if t.state == TrialState.COMPLETE]
    assert dom.points == len(complete) == 6
    assert dom.svgs >= 5  # every plot drew its SVG
    from PIL import Image

    with Image.open(study_dir / "shot.png") as shot:
        assert shot.size == (1280, 2000)
        colors = shot.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colors is not None and len(colors) > 200  # a page with plots, not a blank


def test_a_plotly_failure_is_caught(study_dir: Path, chromium: str) -> None:
    """The render check is not vacuous: break the Pareto plot's script and it fails."""
    page = study_dir / "report.html"
    if not page.exists():
        assert cli("report", "--study", "rep", "--out", "report.html",
                   cwd=study_dir).returncode == 0
    broken = study_dir / "broken.html"
    text = page.read_text()
    call = text.index("Plotly.newPlot(", text.index(f'id="{PARETO_DIV}"'))
    broken.write_text(text[:call] + "Plotly.newPlotTypo(" + text[call + 15:])
    dom, console = _render(broken, chromium)
    assert dom.points == 0
    assert any("Uncaught TypeError" in line for line in console), console


def test_no_browser_is_one_line_exit_2(study_dir: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(study_dir)
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no chromium on it
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    assert main(["plot", "--study", "rep", "--out", "q.html", "--png", "q.png"]) == 2
    assert capsys.readouterr().err.strip() == (
        "frontier: error: no Chrome/Chromium found: install Debian's chromium (apt-get install "
        "chromium) or set BROWSER_PATH to a Chrome or Chromium executable")
    assert not (study_dir / "q.png").exists()
