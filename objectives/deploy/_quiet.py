"""Shared plumbing of the deploy modules: the optional ONNX packages and a quiet console."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import logging
import warnings
from collections.abc import Iterator
from types import ModuleType

__all__ = ["PACKAGES", "MissingOnnx", "missing_packages", "quiet", "require"]

INSTALL_HINT = "ONNX export needs the onnx extra: pip install 'frontier[onnx]'"
#: The packages of the onnx extra.
PACKAGES = ("onnx", "onnxscript", "onnxruntime")


class MissingOnnx(ModuleNotFoundError):
    """onnx, onnxscript or onnxruntime is not installed."""


def missing_packages() -> list[str]:
    """The packages of the onnx extra that are not installed (none imported to find out)."""
    return [name for name in PACKAGES if importlib.util.find_spec(name) is None]


def require(name: str) -> ModuleType:
    """Import ``name`` (a module of the onnx extra), or raise :class:`MissingOnnx` with the
    one-line install hint."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        raise MissingOnnx(f"{INSTALL_HINT} (missing: {err.name or name})",
                          name=err.name) from None


@contextlib.contextmanager
def quiet() -> Iterator[io.StringIO]:
    """Silence what the exporter and the quantizer write: prints, warnings and log records
    (torch's own handlers included; ``logging.disable`` is process-wide and restored on exit).
    Yields the captured text, e.g. to add to an error."""
    captured = io.StringIO()
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with (warnings.catch_warnings(), contextlib.redirect_stdout(captured),
              contextlib.redirect_stderr(captured)):
            warnings.simplefilter("ignore")
            yield captured
    finally:
        logging.disable(previous)
