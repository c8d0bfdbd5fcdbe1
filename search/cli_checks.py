"""What the commands check before they write anything: flag values, where outputs go, image
suffixes, the browser. Every check raises a one-line :class:`~search.errors.ConfigError`
naming the flag (or the stored field) and creates nothing, so a command that fails leaves the
folder as it found it.

A path read from a stored study (its ``output_dir``, or ``runs/<name>``) decides where a
command writes only when it stays inside the current folder (:func:`check_inside`): a shared
storage must not make ``pareto`` write anywhere. ``--out`` overrides it.
"""

from __future__ import annotations

from pathlib import Path

from search.config import StudyConfig
from search.errors import ConfigError
from search.safe_files import check_inside, check_out_dir
from search.visualization.browser import find_browser
from search.visualization.images import check_exporter

__all__ = ["at_least", "exporter", "file_target", "image_file", "out_file", "out_folder",
           "tracker_folder"]


def at_least(value: int | None, flag: str, low: int = 1) -> int | None:
    """``value`` of an integer flag, which must be ``>= low`` when given."""
    if value is not None and value < low:
        raise ConfigError(f"{flag}: {value} must be >= {low}")
    return value


def _stored_dir(cfg: StudyConfig) -> Path:
    return check_inside(cfg.out_dir, "output_dir")


def out_folder(given: str | None, cfg: StudyConfig, *, stored: bool) -> Path:
    """The output folder: ``--out`` when given, else the config's (for a ``stored`` config
    only inside the current folder); a folder that exists or can be created."""
    if given:
        return check_out_dir(given, "--out")
    if stored:
        return check_out_dir(_stored_dir(cfg), "output_dir")
    return check_out_dir(cfg.out_dir, "study.output_dir")


def file_target(path: str | Path, field: str, suffix: str | None = None) -> Path:
    """``path`` as a file to write: the right ``suffix``, not a folder, in a folder that
    exists or can be created."""
    p = Path(path)
    if suffix is not None and p.suffix.lower() != suffix:
        raise ConfigError(f"{field}: {p} does not end in {suffix}; give a {suffix} file")
    if p.is_dir():
        raise ConfigError(f"{field}: {p} is a folder; give a file path")
    check_out_dir(p.parent, field)
    return p


def out_file(given: str | None, cfg: StudyConfig, name: str) -> Path:
    """The HTML file of ``plot`` / ``report``: ``--out``, else ``name`` in the study's stored
    output folder (inside the current folder only)."""
    if given:
        return file_target(given, "--out")
    return file_target(_stored_dir(cfg) / name, "output_dir")


def image_file(given: str | None, flag: str, fmt: str) -> Path | None:
    """``--png FILE`` / ``--svg FILE`` / ``--screenshot FILE``: a ``.fmt`` file, or None."""
    return None if given is None else file_target(given, flag, f".{fmt}")


def exporter(*, images: bool, screenshot: bool) -> None:
    """The browser (and kaleido, for ``images``) that the requested exports need."""
    if images:
        check_exporter()
    elif screenshot:
        find_browser()


def tracker_folder(cfg: StudyConfig, given: str | None) -> None:
    """The TensorBoard folder, when one is set, must be a folder that can be written."""
    if cfg.logging.tensorboard:
        check_out_dir(cfg.logging.tensorboard,
                      "--tensorboard" if given else "logging.tensorboard")
