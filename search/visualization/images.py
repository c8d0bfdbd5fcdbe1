"""PNG/SVG files of plotly figures through kaleido, for papers and slides.

Kaleido drives the Chrome/Chromium that :func:`search.visualization.browser.find_browser` finds
(Debian's ``chromium`` or ``BROWSER_PATH``); it is never asked to download one, and MathJax
(which it would fetch from a CDN) is off, so exports work offline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from search.errors import FrontierError
from search.visualization.browser import find_browser

__all__ = ["FORMATS", "write_image", "write_images"]

FORMATS = ("png", "svg")
#: Size of an exported figure when its layout sets none, in CSS pixels (PNG is ``scale``× that).
DEFAULT_SIZE = (1000, 600)


def _kaleido() -> Any:
    try:
        import kaleido
    except ImportError as err:
        raise FrontierError("kaleido is not installed: pip install 'kaleido>=1' (it exports "
                            "PNG/SVG with Chrome/Chromium)") from err
    return kaleido


def write_images(figures: Mapping[str, go.Figure], out_dir: str | Path,
                 formats: Sequence[str] = ("png",), *, scale: float = 2.0) -> list[Path]:
    """Write ``out_dir/<name>.<format>`` for every figure and format in one browser session."""
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise FrontierError(f"format: {bad[0]!r} is not supported; choose from {list(FORMATS)}")
    out = Path(out_dir)
    jobs = [(fig, out / f"{name}.{fmt}", fmt) for name, fig in figures.items() for fmt in formats]
    return _render(jobs, scale)


def write_image(fig: go.Figure, path: str | Path, *, scale: float = 2.0) -> Path:
    """Write one figure; the format comes from the suffix of ``path`` (.png or .svg)."""
    p = Path(path)
    fmt = p.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise FrontierError(f"{path}: give a file ending in .png or .svg")
    return _render([(fig, p, fmt)], scale)[0]


def _render(jobs: list[tuple[go.Figure, Path, str]], scale: float) -> list[Path]:
    browser = find_browser()  # before importing kaleido: the clearer message comes first
    kaleido = _kaleido()
    specs = []
    for fig, path, fmt in jobs:
        path.parent.mkdir(parents=True, exist_ok=True)
        width = fig.layout.width or DEFAULT_SIZE[0]
        height = fig.layout.height or DEFAULT_SIZE[1]
        specs.append({"fig": fig, "path": path,
                      "opts": {"format": fmt, "width": width, "height": height, "scale": scale}})
    try:
        kaleido.write_fig_from_object_sync(specs, kopts={"path": browser, "mathjax": False})
    except Exception as err:  # kaleido's errors are of many types; report which export failed
        raise FrontierError(f"{browser}: kaleido could not export {jobs[0][1]}"
                            f"{' and the rest' if len(jobs) > 1 else ''}: "
                            f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"
                            ) from err
    missing = [str(p) for _, p, _ in jobs if not p.is_file()]
    if missing:
        raise FrontierError(f"{browser}: kaleido wrote no {missing[0]}")
    return [p for _, p, _ in jobs]
