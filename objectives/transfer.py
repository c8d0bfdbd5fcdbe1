"""Transfer learning from a local checkpoint file (never downloaded): load what fits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

__all__ = ["Transfer", "load_matching", "read_state_dict"]


@dataclass(frozen=True)
class Transfer:
    """``[transfer]`` of a study: ``checkpoint`` is a state-dict file on disk ("" = off); a
    relative path in a study file is found next to the study file, then in the current folder,
    and stored as an absolute path."""

    checkpoint: str = ""


def load_matching(model: nn.Module, path: str | Path) -> tuple[list[str], list[str]]:
    """Copy into ``model`` every tensor of the state dict at ``path`` whose name and shape fit.

    Returns ``(loaded, skipped)`` names: ``skipped`` lists the checkpoint's tensors that are
    missing from the model or have another shape. Read with ``torch.load(weights_only=True)``;
    a file holding ``{"state_dict": ...}`` or ``{"model": ...}`` is unwrapped.
    """
    state = read_state_dict(path, "transfer.checkpoint")
    own = model.state_dict()
    fitting = {k: v for k, v in state.items()
               if isinstance(v, torch.Tensor) and k in own and own[k].shape == v.shape}
    model.load_state_dict(fitting, strict=False)
    return sorted(fitting), sorted(k for k in state if k not in fitting)


def read_state_dict(path: str | Path, field: str) -> dict[str, torch.Tensor]:
    """The state dict in the file at ``path``, read with ``torch.load(weights_only=True)`` on the
    CPU; a file holding ``{"state_dict": ...}`` or ``{"model": ...}`` is unwrapped. Raises
    ValueError naming ``field`` when the file is missing, cannot be read weights-only, or holds
    no tensors by name."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{field}: {p} is not a file; give the path of a state dict saved on "
                         "this machine")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle errors, a zip that is no torch file, a text file...
        reason = (str(err).splitlines() or [""])[0][:160]
        raise ValueError(f"{field}: {p} is not a state dict torch.load reads weights-only "
                         f"({type(err).__name__}: {reason}); save it with "
                         "torch.save(model.state_dict(), path)") from None
    if isinstance(state, dict):
        for key in ("state_dict", "model"):
            if isinstance(state.get(key), dict):
                state = state[key]
    if not isinstance(state, dict) or not any(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise ValueError(f"{field}: {p} does not hold a state dict (tensors by name); save it "
                         "with torch.save(model.state_dict(), path)")
    return state
