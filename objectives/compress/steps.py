"""Compression as pluggable steps: the :class:`Compressor` contract and its registry.

A compression method is one module holding one :class:`Compressor` subclass, registered with
:func:`register_compressor`. The pipeline, early stopping and export ask the registered steps
(``objectives.compress.plan``); none of them compares method names. A step declares:

- ``name``: written once, by the registration;
- ``stage``: ``"structure"`` (changes the model's shapes, e.g. removes channels or factorises
  layers: replayed on a freshly built model when a stored model reloads), ``"sparsity"`` (zeros
  weights; the masks it returns are held while fine-tuning) or ``"precision"`` (sets weight bits:
  fake-quantized while fine-tuning, packed at those bits in ``size_bytes``). Steps run in this
  stage order, then in registration order;
- ``phase``: the fine-tune phase that repairs it, ``"prune"`` (``Budget.finetune_epochs``) or
  ``"qat"`` (``Budget.qat_epochs``);
- ``knobs``: the knobs it adds to every space (``spaces.knobs.StepKnob``: ``[space] <knob>``,
  sampled into ``CompressSpec.steps``); built-in steps read the CompressSpec's own fields.

Its hooks, all optional but ``active``: ``apply`` compresses a trained model in place,
``replay`` gives a fresh model the shapes ``apply`` gave, ``bits`` states weight bits per layer
(the size accounting: zeros and smaller tensors are counted by the packed file itself),
``enter_phase`` runs when its fine-tune phase begins, ``must_train`` says the phase cannot be
skipped. What a step adds to the packed size is what it leaves in the state dict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar, TypeVar

import torch
from torch import nn

from spaces.knobs import STEP_KNOBS, StepKnob
from spaces.registry import Registry
from spaces.spec import CompressSpec

__all__ = ["COMPRESSORS", "PHASES", "STAGES", "Compressor", "Phase", "StepContext", "Targets",
           "list_compressors", "register_compressor"]

#: Stages in the order their steps run.
STAGES = ("structure", "sparsity", "precision")


@dataclass(frozen=True)
class Phase:
    """A fine-tune phase: the Budget field that gives its epochs, whether it keeps the
    candidate's weight decay, and the offset of its seed from the candidate's."""

    epochs_field: str
    weight_decay: bool
    seed_offset: int


#: Fine-tune phases in the order they run (both at ``Budget.finetune_lr_scale`` × lr, cosine).
PHASES = {"prune": Phase("finetune_epochs", True, 1), "qat": Phase("qat_epochs", False, 2)}


@dataclass(frozen=True)
class Targets:
    """The Spec's per-layer lists named on the model as built: ratio by ratio-target layer and
    bits by prunable layer (empty: the global value everywhere). A layer a step created inside
    a named one (e.g. the factors of a factorised layer) takes its ancestor's value."""

    ratios: Mapping[str, float]
    bits: Mapping[str, int]

    def ratio_of(self, layer: str) -> float | None:
        """The per-layer ratio of ``layer`` or of its nearest named ancestor (None: none)."""
        return _inherited(self.ratios, layer)

    def bits_of(self, layer: str, default: int) -> int:
        """The per-layer bits of ``layer`` or of its nearest named ancestor, else ``default``."""
        found = _inherited(self.bits, layer)
        return default if found is None else int(found)


def _inherited(values: Mapping[str, float] | Mapping[str, int], layer: str) -> float | None:
    name = layer
    while True:
        if name in values:
            return values[name]
        if "." not in name:
            return None
        name = name.rsplit(".", 1)[0]


@dataclass(frozen=True)
class StepContext:
    """What a step may need besides the model and its CompressSpec."""

    input_shape: tuple[int, ...]
    targets: Targets
    #: Training inputs for calibration (activation ranges), taken on first call.
    calibration: Callable[[], torch.Tensor] | None = None


class Compressor:
    """One compression method (see the module docstring). Hooks do nothing by default."""

    name: ClassVar[str] = ""
    stage: ClassVar[str] = "structure"
    phase: ClassVar[str] = "prune"
    knobs: ClassVar[tuple[StepKnob, ...]] = ()

    def active(self, c: CompressSpec) -> bool:
        """Whether ``c`` switches this step on."""
        raise NotImplementedError

    def apply(self, model: nn.Module, c: CompressSpec, ctx: StepContext
              ) -> Mapping[str, torch.Tensor] | None:
        """Compress trained ``model`` in place; a sparsity step returns its masks by layer."""
        return None

    def replay(self, model: nn.Module, c: CompressSpec, ctx: StepContext) -> None:
        """Give freshly built ``model`` the shapes :meth:`apply` gave (structure steps)."""

    def bits(self, model: nn.Module, c: CompressSpec, ctx: StepContext) -> dict[str, int]:
        """Weight bits by prunable layer name that this step sets (precision steps)."""
        return {}

    def enter_phase(self, model: nn.Module, c: CompressSpec, ctx: StepContext, *,
                    trains: bool) -> None:
        """Called as this step's fine-tune phase begins (``trains``: whether it trains)."""

    def must_train(self, c: CompressSpec) -> bool:
        """Whether this step's phase must train even when compression cost nothing."""
        return False


C = TypeVar("C", bound=type[Compressor])

#: Step name -> its Compressor class.
COMPRESSORS: Registry[type[Compressor]] = Registry("compressor", "compress")
_ORDER: list[str] = []  # registration order (the Registry lists names sorted)


def register_compressor(name: str) -> Callable[[C], C]:
    """Class decorator: register the class as step ``name``, and its knobs."""

    def add(cls: C) -> C:
        if cls.stage not in STAGES or cls.phase not in PHASES:
            raise ValueError(f"compressor {name!r}: stage must be one of {STAGES} and phase one "
                             f"of {tuple(PHASES)}")
        cls.name = name
        COMPRESSORS.add(name, cls)
        for knob in cls.knobs:
            STEP_KNOBS.add(knob.name, knob)
        if name not in _ORDER:
            _ORDER.append(name)
        return cls

    return add


def list_compressors() -> list[str]:
    """Registered step names in the order they run (stage, then registration)."""
    return sorted(_ORDER, key=lambda n: (STAGES.index(COMPRESSORS[n].stage), _ORDER.index(n)))
