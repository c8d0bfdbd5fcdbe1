"""A model folder's ``huggingface/`` subfolder: the model as ``save_pretrained`` writes it.

Written by ``export`` for models that are ``transformers`` ``PreTrainedModel`` s (the
``transformer`` space's ``spaces.encoder.FrontierEncoder``): ``config.json`` (with the pruned
heads and FFN neurons of every layer) and ``model.safetensors`` (the compressed weights, at
float32). ``FrontierEncoder.from_pretrained(folder)``, or ``transformers.AutoModel`` once
``spaces.encoder`` is imported, rebuilds the model; no pickle is involved.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from torch import nn

from search.safe_files import write_bytes

__all__ = ["PRETRAINED_DIR", "is_pretrained", "load_pretrained", "write_pretrained"]

#: The subfolder of a model folder that ``from_pretrained`` reads.
PRETRAINED_DIR = "huggingface"


def is_pretrained(model: nn.Module) -> bool:
    """Whether ``model`` is a ``transformers`` model that ``save_pretrained`` can write."""
    return callable(getattr(model, "save_pretrained", None)) and hasattr(model, "config")


@contextlib.contextmanager
def _no_progress_bars() -> Iterator[None]:
    """transformers' progress bars off (they write to stderr), then as they were."""
    from transformers.utils import logging

    was_on = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            logging.enable_progress_bar()


def write_pretrained(model: nn.Module, out: Path) -> Path:
    """Write ``model.save_pretrained`` into ``out / huggingface`` file by file through
    ``search.safe_files`` (atomically, never through a symlink). Returns the folder."""
    folder = out / PRETRAINED_DIR
    with tempfile.TemporaryDirectory() as tmp, _no_progress_bars():
        model.save_pretrained(tmp)  # type: ignore[operator]
        for path in sorted(Path(tmp).iterdir()):
            write_bytes(folder / path.name, path.read_bytes())
    return folder


def load_pretrained(folder: str | Path) -> Any:
    """The model ``folder`` (a ``huggingface/`` subfolder) holds, through
    ``FrontierEncoder.from_pretrained``, in eval mode on the CPU."""
    from spaces.encoder import FrontierEncoder

    with _no_progress_bars():
        return FrontierEncoder.from_pretrained(str(folder)).eval()
