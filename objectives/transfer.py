"""Transfer learning from a local checkpoint file (never downloaded): load what fits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

__all__ = ["Transfer", "load_matching"]


@dataclass(frozen=True)
class Transfer:
    """``[transfer]`` of a study: ``checkpoint`` is a state-dict file on disk ("" = off)."""

    checkpoint: str = ""


def load_matching(model: nn.Module, path: str | Path) -> tuple[list[str], list[str]]:
    """Copy into ``model`` every tensor of the state dict at ``path`` whose name and shape fit.

    Returns ``(loaded, skipped)`` names: ``skipped`` lists the checkpoint's tensors that are
    missing from the model or have another shape. Read with ``torch.load(weights_only=True)``;
    a file holding ``{"state_dict": ...}`` or ``{"model": ...}`` is unwrapped.
    """
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    if isinstance(state, dict):
        for key in ("state_dict", "model"):
            if isinstance(state.get(key), dict):
                state = state[key]
    if not isinstance(state, dict):
        raise ValueError(f"transfer.checkpoint: {path} does not hold a state dict")
    own = model.state_dict()
    fitting = {k: v for k, v in state.items()
               if isinstance(v, torch.Tensor) and k in own and own[k].shape == v.shape}
    model.load_state_dict(fitting, strict=False)
    return sorted(fitting), sorted(k for k in state if k not in fitting)
