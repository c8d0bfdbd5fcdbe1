"""A base's checkpoint loaded into the model its builder made, every mismatch named: missing
and unexpected keys, tensors of another shape. With ``transfer_epochs`` the head (the last
module holding parameters) may differ: it keeps its fresh weights, to be fine-tuned."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from objectives.transfer import read_state_dict

__all__ = ["head_name", "load_checkpoint"]

#: How many names an error lists before "and N more".
SHOWN = 4


def head_name(model: nn.Module) -> str:
    """The name of the last module (in registration order) that holds parameters of its own:
    the classifier head of the usual network ("" when the model itself is that module)."""
    owners = [name for name, m in model.named_modules()
              if any(True for _ in m.parameters(recurse=False))]
    return owners[-1] if owners else ""


def _names(keys: Sequence[str]) -> str:
    shown = ", ".join(keys[:SHOWN])
    return shown + (f" (and {len(keys) - SHOWN} more)" if len(keys) > SHOWN else "")


def _in_head(key: str, head: str) -> bool:
    return not head or key.startswith(head + ".")


def load_checkpoint(model: nn.Module, path: str | Path, *, head_free: bool = False) -> None:
    """Load the state dict at ``path`` into ``model``. Raises ValueError naming
    ``base.checkpoint`` for a file that is no state dict, for missing or unexpected keys, and
    for tensors whose shape differs from the model's, except, with ``head_free``, those of the
    head (:func:`head_name`), which keep the model's fresh weights."""
    state = {k: v for k, v in read_state_dict(path, "base.checkpoint").items()
             if isinstance(v, torch.Tensor)}
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        parts = [f"{label} {_names(keys)}" for label, keys in
                 (("missing keys", missing), ("unexpected keys", unexpected)) if keys]
        raise ValueError(f"base.checkpoint: {path} does not fit the model base.model builds: "
                         f"{'; '.join(parts)}; build the architecture the checkpoint was saved "
                         "from")
    head = head_name(model)
    wrong = [k for k in own if own[k].shape != state[k].shape
             and not (head_free and _in_head(k, head))]
    if wrong:
        shapes = [f"{k} {tuple(state[k].shape)} in the file, {tuple(own[k].shape)} in the model"
                  for k in wrong]
        raise ValueError(f"base.checkpoint: {path} has tensors of other shapes: "
                         f"{_names(shapes)}; build the same architecture (or set [base] "
                         "transfer_epochs when only the head's width differs)")
    fitting = {k: v for k, v in state.items() if own[k].shape == v.shape}
    model.load_state_dict(fitting, strict=False)
