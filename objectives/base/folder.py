"""A model folder written by ``frontier export``, read back without the study: the Spec
(``spec.json``) rebuilt in its space with the options of ``model.json``, its structure steps
replayed, and the packed weights of ``weights.safetensors`` loaded bit-identically. Only
``spaces`` and ``objectives`` are needed, so a base can be such a folder
(``objectives.base.load.load_folder`` puts these pieces together, a compress-mode candidate's
own base included), and ``search.results.model_folder.load`` reads folders through it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from objectives.base.config import BaseConfig
from objectives.compress.packing import is_packed, load_packed
from objectives.compress.plan import replay_steps
from spaces.base import BaseSpace
from spaces.space import create_space, load_spec
from spaces.spec import Spec

__all__ = ["MODEL_FILES", "OLD_WEIGHTS", "base_of_meta", "load_weights", "read_meta", "read_spec",
           "rebuild"]

#: What a model folder needs to be rebuilt (``export`` writes more).
MODEL_FILES = ("spec.json", "model.json", "weights.safetensors")
#: What model folders written before the packed format hold instead of weights.safetensors.
OLD_WEIGHTS = "state_dict.pt"


def rebuild(spec_text: str, space: str, options: dict[str, Any], input_shape: tuple[int, ...],
            num_classes: int, base: nn.Module | None = None) -> tuple[nn.Module, Spec]:
    """The model of a stored Spec, with the shapes its structure steps left (fresh weights).
    A compress-mode candidate (the space ``base``) is rebuilt from its study's ``base``
    model (loaded by ``objectives.base.load_base``). Raises ValueError when the Spec is of
    another space than ``space``."""
    name, spec = load_spec(spec_text)
    if name != space:
        raise ValueError(f"spec.json: the spec is of space {name!r}, model.json says "
                         f"{space!r}; re-export the trial")
    family = create_space(space, options)
    if isinstance(family, BaseSpace):
        if base is None:
            raise ValueError("model.json: a compress-mode candidate needs its study's [base] "
                             "to be rebuilt; re-export the trial")
        family.use_base(base)
    model = family.build(spec, tuple(input_shape), num_classes)
    # a structured trial's weights are smaller: give the fresh model their shapes and bits
    return replay_steps(model, spec.compress, tuple(input_shape)), spec


def base_of_meta(meta: dict[str, Any]) -> BaseConfig | None:
    """The ``[base]`` a ``model.json`` records (a compress-mode candidate's), else None."""
    stored = meta.get("base")
    return BaseConfig(**stored) if isinstance(stored, dict) else None


def _file(model_dir: str | Path, name: str) -> Path:
    path = Path(model_dir) / name
    if not path.is_file():
        raise ValueError(f"{path}: missing; a model folder written by `frontier export` "
                         f"holds {', '.join(MODEL_FILES)}")
    return path


def read_meta(model_dir: str | Path) -> dict[str, Any]:
    """The folder's ``model.json``."""
    meta: dict[str, Any] = json.loads(_file(model_dir, "model.json").read_text())
    return meta


def read_spec(model_dir: str | Path) -> str:
    """The folder's ``spec.json`` text."""
    return _file(model_dir, "spec.json").read_text()


def load_weights(model_dir: str | Path, model: nn.Module) -> None:
    """Load the folder's ``weights.safetensors`` into rebuilt ``model`` (a folder written
    before the packed format: ``state_dict.pt``, read with ``weights_only=True``)."""
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
