"""PNG/SVG files of plotly figures through kaleido, for papers and slides.

Kaleido drives the Chrome/Chromium that :func:`search.visualization.browser.find_browser` finds
(Debian's ``chromium`` or ``BROWSER_PATH``); it is never asked to download one, and MathJax
(which it would fetch from a CDN) is off, so exports work offline. Kaleido renders into a
temporary folder; the files are then written with :func:`search.safe_files.write_bytes`
(atomic, never through a symlink), and only once every figure has rendered.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from search.errors import FrontierError
from search.safe_files import write_bytes
from search.visualization.browser import find_browser

__all__ = ["FORMATS", "check_exporter", "render", "write_image", "write_images"]

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


def check_exporter() -> str:
    """The browser kaleido will use; a one-line FrontierError when it or kaleido is missing.
    Writes nothing: commands call it before they write any file."""
    browser = find_browser()  # before importing kaleido: the clearer message comes first
    _kaleido()
    return browser


def render(jobs: Sequence[tuple[go.Figure, str, Path]], *, scale: float = 2.0) -> list[bytes]:
    """The bytes of each ``(figure, format, path)`` job, rendered in one browser session;
    ``path`` only names the job in error messages. Writes nothing where the user looks."""
    if not jobs:
        return []
    browser = check_exporter()
    kaleido = _kaleido()
    with tempfile.TemporaryDirectory(prefix="frontier-images-") as tmp:
        specs = []
        for i, (fig, fmt, _) in enumerate(jobs):
            width = fig.layout.width or DEFAULT_SIZE[0]
            height = fig.layout.height or DEFAULT_SIZE[1]
            specs.append({"fig": fig, "path": Path(tmp) / f"{i}.{fmt}", "opts": {
                "format": fmt, "width": width, "height": height, "scale": scale}})
        try:
            kaleido.write_fig_from_object_sync(specs, kopts={"path": browser, "mathjax": False})
        except Exception as err:  # kaleido's errors are of many types; say which export failed
            raise FrontierError(f"{browser}: kaleido could not export {jobs[0][2]}"
                                f"{' and the rest' if len(jobs) > 1 else ''}: "
                                f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"
                                ) from err
        out = []
        for spec, (_, _, path) in zip(specs, jobs, strict=True):
            if not spec["path"].is_file():
                raise FrontierError(f"{browser}: kaleido wrote no {path}")
            out.append(spec["path"].read_bytes())
    return out


def _write(jobs: Sequence[tuple[go.Figure, str, Path]], scale: float) -> list[Path]:
    data = render(jobs, scale=scale)
    return [write_bytes(path, content) for (_, _, path), content in zip(jobs, data, strict=True)]


def write_images(figures: Mapping[str, go.Figure], out_dir: str | Path,
                 formats: Sequence[str] = ("png",), *, scale: float = 2.0) -> list[Path]:
    """Write ``out_dir/<name>.<format>`` for every figure and format in one browser session."""
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise FrontierError(f"format: {bad[0]!r} is not supported; choose from {list(FORMATS)}")
    out = Path(out_dir)
    return _write([(fig, fmt, out / f"{name}.{fmt}") for name, fig in figures.items()
                   for fmt in formats], scale)


def write_image(fig: go.Figure, path: str | Path, *, scale: float = 2.0) -> Path:
    """Write one figure; the format comes from the suffix of ``path`` (.png or .svg)."""
    p = Path(path)
    fmt = p.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise FrontierError(f"{path}: give a file ending in .png or .svg")
    return _write([(fig, fmt, p)], scale)[0]
