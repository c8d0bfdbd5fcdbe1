"""A model folder written by ``frontier export`` read back without the study: the Spec
(``spec.json``) rebuilt in its space with the options of ``model.json``, its structure steps
replayed, and the packed weights of ``weights.safetensors`` loaded bit-identically. Only
``spaces`` and ``objectives`` are needed, so a base can be such a folder, and
``search.results.model_folder.load`` reads folders through this module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from objectives.compress.packing import is_packed, load_packed
from objectives.compress.plan import replay_steps
from spaces.space import create_space, load_spec
from spaces.spec import Spec

__all__ = ["MODEL_FILES", "OLD_WEIGHTS", "load_folder", "rebuild"]

#: What a model folder needs to be rebuilt (``export`` writes more).
MODEL_FILES = ("spec.json", "model.json", "weights.safetensors")
#: What model folders written before the packed format hold instead of weights.safetensors.
OLD_WEIGHTS = "state_dict.pt"


def rebuild(spec_text: str, space: str, options: dict[str, Any], input_shape: tuple[int, ...],
            num_classes: int) -> tuple[nn.Module, Spec]:
    """The model of a stored Spec, with the shapes its structure steps left (fresh weights).
    Raises ValueError when the Spec is of another space than ``space``."""
    name, spec = load_spec(spec_text)
    if name != space:
        raise ValueError(f"spec.json: the spec is of space {name!r}, model.json says "
                         f"{space!r}; re-export the trial")
    model = create_space(space, options).build(spec, tuple(input_shape), num_classes)
    # a structured trial's weights are smaller: give the fresh model their shapes and bits
    return replay_steps(model, spec.compress, tuple(input_shape)), spec


def _file(model_dir: str | Path, name: str) -> Path:
    path = Path(model_dir) / name
    if not path.is_file():
        raise ValueError(f"{path}: missing; a model folder written by `frontier export` "
                         f"holds {', '.join(MODEL_FILES)}")
    return path


def load_folder(model_dir: str | Path) -> nn.Module:
    """The exported model of ``model_dir`` on the CPU in eval mode, with the weights of
    ``weights.safetensors`` (a folder written before the packed format: ``state_dict.pt``,
    read with ``weights_only=True``). Raises ValueError naming the file that is missing or
    unreadable."""
    meta = json.loads(_file(model_dir, "model.json").read_text())
    model, _ = rebuild(_file(model_dir, "spec.json").read_text(), meta["space"],
                       meta.get("space_options", {}), tuple(meta["input_shape"]),
                       int(meta["num_classes"]))
    old = Path(model_dir) / OLD_WEIGHTS
    if old.is_file() and not (Path(model_dir) / "weights.safetensors").exists():
        state = torch.load(old, map_location="cpu", weights_only=True)
    else:
        path = _file(model_dir, "weights.safetensors")
        if not is_packed(path):
            raise ValueError(f"{path}: not a Frontier packed weights file; re-export the trial")
        try:
            state = load_packed(path, model.state_dict())
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
    model.load_state_dict(state)
    return model.cpu().eval()
