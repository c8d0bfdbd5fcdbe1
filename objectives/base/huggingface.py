"""A base from a local Hugging Face folder: ``AutoModelForSequenceClassification`` reads it
with ``local_files_only=True`` (never a download). ``transformers`` is an optional extra,
imported only here and only when such a base is loaded."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["HuggingFaceBase", "load_huggingface"]


class HuggingFaceBase(nn.Module):
    """A ``transformers`` sequence classifier as a module from token ids to logits.

    ``forward(x)`` feeds ``x`` as ``input_ids`` (float ids, as a data source's ``(x, y)`` arrays
    arrive, are cast back to integers) and returns ``logits``. ``pretrained`` is the
    ``transformers`` model itself (``save_pretrained``, its ``config``)."""

    def __init__(self, pretrained: nn.Module) -> None:
        super().__init__()
        self.pretrained = pretrained

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = x.long() if x.is_floating_point() else x
        logits: torch.Tensor = self.pretrained(input_ids=ids).logits
        return logits


@contextlib.contextmanager
def _quiet(logging: Any) -> Iterator[None]:
    """transformers' warnings ("newly initialized weights") and progress bars off, then back."""
    level, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(level)
        if bars:
            logging.enable_progress_bar()


def load_huggingface(folder: Path, num_classes: int, *, new_head: bool) -> HuggingFaceBase:
    """The sequence classifier in ``folder``, in eval mode on the CPU. With ``new_head`` its
    classifier is rebuilt for ``num_classes`` when its width differs (transformers'
    ``ignore_mismatched_sizes``). Raises ValueError naming ``base.huggingface``."""
    if not folder.is_dir():
        raise ValueError(f"base.huggingface: {folder} is not a folder; give the folder "
                         "save_pretrained wrote")
    if not (folder / "config.json").is_file():
        raise ValueError(f"base.huggingface: {folder} has no config.json; give the folder "
                         "save_pretrained wrote (config.json and the weights)")
    try:
        import transformers
        from transformers.utils import logging
    except ImportError:
        raise ValueError("base.huggingface: needs the transformers package; pip install "
                         "'frontier[transformers]'") from None
    extra: dict[str, Any] = {"num_labels": num_classes, "ignore_mismatched_sizes": True} \
        if new_head else {}
    try:
        with _quiet(logging):
            model = transformers.AutoModelForSequenceClassification.from_pretrained(
                str(folder), local_files_only=True, **extra)
    except Exception as err:  # transformers raises OSError, ValueError, KeyError...
        reason = (str(err).splitlines() or [""])[0][:200]
        raise ValueError(f"base.huggingface: {folder} does not load as a sequence classifier "
                         f"({type(err).__name__}: {reason}); save it with "
                         "save_pretrained") from None
    return HuggingFaceBase(model.float().cpu()).eval()
