"""PNG/SVG export through kaleido and Debian's chromium, and the message when there is none."""

from __future__ import annotations

import struct
from pathlib import Path

import plotly.graph_objects as go
import pytest

from search.errors import FrontierError
from search.visualization.browser import NOT_FOUND, find_browser
from search.visualization.images import write_image, write_images


def _figure() -> go.Figure:
    fig = go.Figure(go.Scatter(x=[10, 100, 1000], y=[0.5, 0.8, 0.9], mode="lines+markers",
                               name="front"))
    return fig.update_layout(title="a tiny front", xaxis_type="log", width=400, height=300)


def test_png_and_svg_of_every_figure(tmp_path: Path, chromium: str) -> None:
    paths = write_images({"a": _figure(), "b": _figure()}, tmp_path / "figs", ["png", "svg"])
    assert sorted(p.name for p in paths) == ["a.png", "a.svg", "b.png", "b.svg"]
    png = (tmp_path / "figs" / "a.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (800, 600)  # the layout's 400 × 300 at scale 2
    svg = (tmp_path / "figs" / "b.svg").read_text()
    assert svg.lstrip().startswith("<svg") and "a tiny front" in svg


def test_one_image_by_suffix(tmp_path: Path, chromium: str) -> None:
    assert write_image(_figure(), tmp_path / "x.svg").read_text().lstrip().startswith("<svg")
    with pytest.raises(FrontierError, match=r"x\.jpg: give a file ending in \.png or \.svg"):
        write_image(_figure(), tmp_path / "x.jpg")


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FrontierError, match="format: 'pdf' is not supported"):
        write_images({"a": _figure()}, tmp_path, ["pdf"])
    assert list(tmp_path.iterdir()) == []


def test_no_browser_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    with pytest.raises(FrontierError) as err:
        write_image(_figure(), tmp_path / "x.png")
    assert str(err.value) == NOT_FOUND
    assert "install Debian's chromium" in NOT_FOUND and "BROWSER_PATH" in NOT_FOUND
    assert not (tmp_path / "x.png").exists()
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "nope"))
    with pytest.raises(FrontierError, match=r"^BROWSER_PATH: .*nope is not an executable file"):
        find_browser()


def test_browser_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "my-chrome"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("BROWSER_PATH", str(fake))
    assert find_browser() == str(fake)
