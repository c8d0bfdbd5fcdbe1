"""The base of a compress-mode study: loaded from ``[base]`` and handed to the ``base`` space."""

from __future__ import annotations

from torch import nn

from objectives.compress.depth import removable_units
from objectives.data import TensorData
from objectives.data.batches import first_inputs
from search.config import StudyConfig
from search.errors import ConfigError
from spaces.base import BaseSpace
from spaces.space import Space

__all__ = ["attach_base"]


def attach_base(space: Space, cfg: StudyConfig, data: TensorData, base: nn.Module) -> None:
    """Hand the study's loaded base to ``space`` on the data's device, with its removable
    units (found only when the space searches them; ``[base] trim`` names more)."""
    if not isinstance(space, BaseSpace):
        raise ConfigError(f"space.name: mode = \"compress\" derives every candidate from "
                          f"[base]; use the space \"base\" (or leave [space] name out), not "
                          f"{space.name!r}")
    model = base.to(data.device)
    units: list[str] = []
    if space.drop_blocks:
        example = first_inputs(data.train, 2).to(data.device)
        units = removable_units(model, example, named=cfg.base.trim)
    space.use_base(model, units)
