"""Compression and training knobs shared by every space: their domains and their sampling.

Per-layer knobs are conditional: with ``per_layer_prune = true`` a space whose models have ``k``
ratio targets (``objectives.compress.plan.ratio_targets``: every conv layer, or for a model
without convs every linear layer but the last) suggests ``prune_ratio_0 … prune_ratio_{k-1}``
instead of ``prune_ratio``; with ``per_layer_bits = true`` it suggests ``bits_0 … bits_{k}``
(the head included) instead of ``bits``. Fixed domains (a scalar or a one-element list) are never
suggested.

Compression steps registered beyond pruning and quantization (``objectives.compress.steps``)
declare their knobs as :class:`StepKnob` entries of :data:`STEP_KNOBS`; they are read from the
same ``[space]`` table, suggested after the knobs above, and land in ``CompressSpec.steps``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna

from spaces.domain import Choice, Domain, Range, domain_values, parse_domain, suggest
from spaces.registry import Registry
from spaces.spec import PRUNE_METHODS, SCHEDULES, CompressSpec, TrainSpec

__all__ = ["KNOB_NAMES", "STEP_KNOBS", "Knobs", "StepKnob", "knob_names"]

#: Knob name -> kind of its values (domains); ``per_layer_*`` are plain booleans.
_KINDS: dict[str, type] = {
    "prune_ratio": float, "bits": int, "prune_method": str, "act_bits": int,
    "lr": float, "weight_decay": float, "schedule": str,
    "kd_weight": float, "kd_temperature": float,
}
_FLAGS = ("per_layer_prune", "per_layer_bits")
KNOB_NAMES = (*_KINDS, *_FLAGS)


@dataclass(frozen=True)
class StepKnob:
    """A knob a registered compression step adds: ``[space] <name>`` holds its domain
    (``default`` when absent), ``valid`` says which values are allowed (``rule`` tells the user
    which), and at ``off`` the step does nothing (the Spec then leaves the knob out)."""

    name: str
    kind: type
    default: Domain
    valid: Callable[[Any], bool]
    rule: str
    off: Any


#: Knob name -> :class:`StepKnob`; filled by ``objectives.compress.steps.register_compressor``.
STEP_KNOBS: Registry[StepKnob] = Registry("compression knob", "space")


def knob_names() -> tuple[str, ...]:
    """Every knob name a ``[space]`` table may hold: the built-in ones and registered steps'."""
    return (*KNOB_NAMES, *STEP_KNOBS)


def _bits_ok(b: int) -> bool:
    return 2 <= b <= 16 or b == 32


@dataclass(frozen=True)
class Knobs:
    """Domains of the knobs every Spec carries (see :class:`CompressSpec`, :class:`TrainSpec`)."""

    prune_ratio: Domain = field(default_factory=lambda: Range(0.0, 0.9))
    bits: Domain = field(default_factory=lambda: Choice((2, 3, 4, 6, 8, 32)))
    prune_method: Domain = field(default_factory=lambda: Choice(("unstructured",)))
    act_bits: Domain = field(default_factory=lambda: Choice((32,)))
    lr: Domain = field(default_factory=lambda: Range(1e-3, 3e-2, log=True))
    weight_decay: Domain = field(default_factory=lambda: Range(1e-5, 1e-3, log=True))
    schedule: Domain = field(default_factory=lambda: Choice(SCHEDULES))
    kd_weight: Domain = field(default_factory=lambda: Choice((0.0,)))
    kd_temperature: Domain = field(default_factory=lambda: Choice((4.0,)))
    per_layer_prune: bool = False
    per_layer_bits: bool = False
    #: Domains of the registered steps' knobs (:data:`STEP_KNOBS`) given in ``[space]``.
    steps: dict[str, Domain] = field(default_factory=dict)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Knobs:
        """Take the knob keys out of ``options`` (mutated) and validate them."""
        parsed: dict[str, Any] = {k: parse_domain(f"space.{k}", options.pop(k), kind=kind)
                                  for k, kind in _KINDS.items() if k in options}
        for flag in _FLAGS:
            if flag in options:
                value = options.pop(flag)
                if not isinstance(value, bool):
                    raise ValueError(f"space.{flag}: expected true or false, got {value!r}")
                parsed[flag] = value
        parsed["steps"] = {k: parse_domain(f"space.{k}", options.pop(k), kind=STEP_KNOBS[k].kind)
                           for k in STEP_KNOBS if k in options}
        knobs = cls(**parsed)
        knobs.validate()
        return knobs

    def validate(self) -> None:
        """Raise ValueError naming the first knob whose domain is out of range."""
        checks: list[tuple[str, Domain, Any, str]] = [
            ("prune_ratio", self.prune_ratio, lambda r: 0.0 <= r < 1.0,
             "is out of range; use values in [0, 1) (1 would remove every weight)"),
            ("bits", self.bits, _bits_ok,
             "is out of range; use 2 to 16 bits, or 32 for full precision"),
            ("act_bits", self.act_bits, _bits_ok,
             "is out of range; use 2 to 16 bits, or 32 for full-precision activations"),
            ("prune_method", self.prune_method, lambda m: m in PRUNE_METHODS,
             f"is not a pruning method; choose from {PRUNE_METHODS}"),
            ("lr", self.lr, lambda v: v > 0, "must be positive"),
            ("weight_decay", self.weight_decay, lambda v: v >= 0, "must be >= 0"),
            ("schedule", self.schedule, lambda s: s in SCHEDULES,
             f"is not a schedule; choose from {SCHEDULES}"),
            ("kd_weight", self.kd_weight, lambda w: 0.0 <= w <= 1.0,
             "is out of range; use values in [0, 1] (0 turns distillation off)"),
            ("kd_temperature", self.kd_temperature, lambda t: t > 0, "must be positive"),
        ]
        for name in STEP_KNOBS:
            knob = STEP_KNOBS[name]
            checks.append((name, self.step_domain(knob), knob.valid,
                           f"is out of range; {knob.rule}"))
        for name, domain, ok, message in checks:
            for value in domain_values(domain):
                if not ok(value):
                    raise ValueError(f"space.{name}: {value!r} {message}")

    def step_domain(self, knob: StepKnob) -> Domain:
        """The domain of a registered step's knob: as given in ``[space]``, else its default."""
        return self.steps.get(knob.name, knob.default)

    def sample_steps(self, trial: optuna.Trial) -> dict[str, Any]:
        """Suggest every registered step's knob; those at their ``off`` value are left out."""
        values = {name: suggest(trial, name, self.step_domain(STEP_KNOBS[name]))
                  for name in STEP_KNOBS}
        return {k: v for k, v in values.items() if v != STEP_KNOBS[k].off}

    def require(self, space: str, *, per_layer_prune: bool, per_layer_bits: bool) -> None:
        """Refuse per-layer knobs ``space`` cannot honour (instead of silently falling back)."""
        if not per_layer_prune and self.per_layer_prune:
            raise ValueError(f"space.per_layer_prune: not supported by the {space} space; "
                             "use the global prune_ratio")
        if not per_layer_bits and self.per_layer_bits:
            raise ValueError(f"space.per_layer_bits: not supported by the {space} space; "
                             "use the global bits")

    def sample(self, trial: optuna.Trial, n_groups: int = 0, n_layers: int = 0
               ) -> tuple[CompressSpec, TrainSpec]:
        """Suggest the knobs of one trial for a model with ``n_groups`` ratio targets (see the
        module docstring) and ``n_layers`` prunable layers in all (the head included)."""
        method = str(suggest(trial, "prune_method", self.prune_method))
        if self.per_layer_prune and n_groups > 0:
            ratio = 0.0
            ratios = tuple(float(suggest(trial, f"prune_ratio_{i}", self.prune_ratio))
                           for i in range(n_groups))
        else:
            ratio, ratios = float(suggest(trial, "prune_ratio", self.prune_ratio)), ()
        if self.per_layer_bits and n_layers > 0:
            bits = 32
            layer_bits = tuple(int(suggest(trial, f"bits_{i}", self.bits))
                               for i in range(n_layers))
        else:
            bits, layer_bits = int(suggest(trial, "bits", self.bits)), ()
        compress = CompressSpec(
            prune_ratio=ratio, bits=bits, method=method, layer_ratios=ratios,
            layer_bits=layer_bits, act_bits=int(suggest(trial, "act_bits", self.act_bits)),
            steps=self.sample_steps(trial),
        )
        kd_weight = float(suggest(trial, "kd_weight", self.kd_weight))
        train = TrainSpec(
            lr=float(suggest(trial, "lr", self.lr)),
            weight_decay=float(suggest(trial, "weight_decay", self.weight_decay)),
            schedule=str(suggest(trial, "schedule", self.schedule)),
            kd_weight=kd_weight,
            # the temperature only matters (and is only a parameter) when distilling
            kd_temperature=float(suggest(trial, "kd_temperature", self.kd_temperature))
            if kd_weight > 0 else 4.0,
        )
        return compress, train
