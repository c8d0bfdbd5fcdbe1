"""The rules of ``[study] mode = "compress"`` and its ``[base]`` table, as data: one
``(ok, field, message)`` triple per rule, checked by ``search.config`` when a config is built
(the base's files are checked where the study runs: ``objectives.base.check_base``)."""

from __future__ import annotations

from typing import Any

__all__ = ["compress_checks"]


def compress_checks(cfg: Any) -> list[tuple[bool, str, str]]:
    """``(ok, field, message)`` for ``mode = "compress"`` and its ``[base]`` table."""
    if cfg.mode != "compress":
        return [(not cfg.base.is_set, "base", "[base] is read in mode = \"compress\" only; set "
                 "mode = \"compress\" under [study], or remove [base]")]
    return [
        (cfg.base.is_set, "base", "mode = \"compress\" compresses a trained model; add a [base] "
         "table naming it: model (a builder \"module:function\"), huggingface or export"),
        (not cfg.transfer.checkpoint, "transfer.checkpoint", "compress candidates start from "
         "the base's weights; remove it (the base's own checkpoint is [base] checkpoint)"),
        *((False, name, message) for name, message in cfg.base.problems()),
    ]
