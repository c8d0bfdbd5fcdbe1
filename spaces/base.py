"""The space of a compress-mode study: candidates derived from the study's trained base model.

The base (``[base]``, loaded by ``objectives.base.load_base``) is handed to the space before any
trial (:meth:`BaseSpace.use_base`), with the units that can be dropped whole. A candidate is the
base's own architecture and trained weights plus what the trial samples:

- ``drop_i`` (with ``drop_blocks = true``): each removable unit kept or dropped, written into
  ``CompressSpec.steps["drop_units"]`` for the depth step (``objectives.compress.depth``);
- the usual compression knobs (``prune_ratio``, per group with ``per_layer_prune``; ``bits``,
  per layer with ``per_layer_bits``; ``act_bits``; ``rank_ratio``; ``prune_method``), counted
  on the base as built;
- the fine-tune knobs (``lr``, ``weight_decay``, ``schedule``; ``kd_weight`` distils from the
  base itself).

:meth:`BaseSpace.build` returns a copy of the base: the pipeline compresses and fine-tunes it,
no candidate trains from scratch (``[budget] epochs = 0``).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from torch import nn

from spaces.domain import Choice, suggest
from spaces.knobs import Knobs
from spaces.layers import prunable_layers, ratio_targets
from spaces.options import parse_options
from spaces.space import Space, register_space
from spaces.spec import CompressSpec, TrainSpec

__all__ = ["DROP_KEY", "BaseSpace", "BaseSpec"]

#: The ``CompressSpec.steps`` key of the units a candidate drops (the depth step reads it).
DROP_KEY = "drop_units"
_OPTIONS = ("drop_blocks",)


@dataclass(frozen=True)
class BaseSpec:
    """One candidate derived from the base: its compression (dropped units included in
    ``compress.steps``) and fine-tune knobs; the architecture is the base's."""

    compress: CompressSpec = field(default_factory=CompressSpec)
    train: TrainSpec = field(default_factory=TrainSpec)


@register_space("base")
class BaseSpace(Space):
    """Candidates derived from a trained base model (see the module docstring)."""

    spec_type = BaseSpec
    knobs: Knobs

    def __init__(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        """Options as a mapping or keywords: the knobs, and ``drop_blocks`` (true: search which
        removable units to drop)."""
        self.options, self.knobs, opts = parse_options(self.name, options, kwargs, _OPTIONS)
        drop = opts.get("drop_blocks", False)
        if not isinstance(drop, bool):
            raise ValueError(f"space.drop_blocks: expected true or false, got {drop!r}")
        self.drop_blocks = drop
        self.model: nn.Module | None = None
        self.units: tuple[str, ...] = ()

    def use_base(self, model: nn.Module, units: Sequence[str] = ()) -> None:
        """Derive candidates from ``model`` (trained, on the data's device); ``units``: the
        names of its removable units (searched when ``drop_blocks`` is on)."""
        self.model = model.eval()
        self.units = tuple(units) if self.drop_blocks else ()

    def base(self) -> nn.Module:
        """The base model (RuntimeError before :meth:`use_base`)."""
        if self.model is None:
            raise RuntimeError("space 'base': no base model yet; mode = \"compress\" hands it "
                               "over before any trial (BaseSpace.use_base)")
        return self.model

    def teacher(self) -> nn.Module:
        """The base is every candidate's distillation teacher."""
        return self.base()

    def sample(self, trial: optuna.Trial) -> BaseSpec:
        """Draw a BaseSpec; the only place this space calls ``trial.suggest_*``."""
        drops = [u for i, u in enumerate(self.units)
                 if suggest(trial, f"drop_{i}", Choice((False, True)))]
        compress, train = self.knobs.sample(trial, *self.layer_counts(None))
        if drops:
            compress = dataclasses.replace(compress, steps={**compress.steps, DROP_KEY: drops})
        return BaseSpec(compress, train)

    def layer_counts(self, spec: Any) -> tuple[int, int]:
        """``(ratio targets, prunable layers)`` of the base as built (what per-layer knobs
        name; a dropped unit's layers are skipped when they are compressed)."""
        if not (self.knobs.per_layer_prune or self.knobs.per_layer_bits):
            return 0, 0
        model = self.base()
        return len(ratio_targets(model)), len(prunable_layers(model))

    def build(self, spec: BaseSpec, input_shape: tuple[int, ...], num_classes: int
              ) -> nn.Module:
        """A copy of the base, trained weights included (``spec`` is applied by the
        compression steps)."""
        return copy.deepcopy(self.base())
