"""`frontier sensitivity FILE.toml --out DIR`: the base's sensitivity table (CSV and plot) and
one allocation line per budget, no study written; bad input is one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.search.compress_mode.project import cli
from tests.search.compress_mode.test_warm_start import project  # noqa: F401 (fixture)


def _files(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}


def test_sensitivity_writes_the_table_and_its_plot_and_no_study(project: Path) -> None:  # noqa: F811
    before = _files(project)
    res = cli("sensitivity", "study.toml", "--out", "x", cwd=project)
    assert res.returncode == 0, res.stderr
    table = pd.read_csv(project / "x" / "sensitivity.csv")
    assert len(table) == 1 + 3 * 5 + 4 * 3 + 4 * 2 and (table.kind == "base").sum() == 1
    page = (project / "x" / "sensitivity.html").read_text()
    assert "Sensitivity: one unit compressed" in page
    lines = [line for line in res.stdout.splitlines() if line.startswith("x")]
    assert [line.split()[0] for line in lines] == ["x1.5", "x2", "x4", "x8"]
    assert all("estimated drop" in line and "estimated macs" in line for line in lines)
    assert "sensitivity" in res.stderr  # the progress bar
    # nothing else written: no storage, no output folder of the study
    assert _files(project) - before == {Path("x"), Path("x/sensitivity.csv"),
                                        Path("x/sensitivity.html")}


def test_sensitivity_refuses_bad_input_in_one_line(project: Path) -> None:  # noqa: F811
    (project / "plain.toml").write_text('[study]\nname = "plain"\n')
    text = (project / "study.toml").read_text()
    (project / "gone.toml").write_text(text.replace("proj/base.pt", "proj/gone.pt"))
    before = _files(project)
    for name, says in (("plain.toml", "study.mode"), ("gone.toml", "gone.pt"),
                       ("none.toml", "none.toml")):
        res = cli("sensitivity", name, "--out", "y", cwd=project)
        assert res.returncode == 2, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("frontier: error: ") and says in lines[0]
    assert _files(project) == before
