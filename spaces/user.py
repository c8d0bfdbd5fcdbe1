"""Define-by-run model builders: a user's ``build(trial, input_shape, num_classes) -> nn.Module``
as a space.

The builder calls ``trial.suggest_*`` itself, as an Optuna objective does. Sampling runs it on
the live trial: the parameters it suggested are the architecture (the Spec), and the usual
compression and training knobs of the ``[space]`` table are sampled after it. Building replays
the builder on those parameters through Optuna's ``FixedTrial``, so any process rebuilds the
same model from the stored Spec. The builder is stored as an import string (see
:mod:`spaces.locate`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna
from torch import nn

from spaces.knobs import Knobs, knob_names
from spaces.layers import layer_counts
from spaces.locate import locate, ref_of
from spaces.options import parse_options
from spaces.space import Space, register_space
from spaces.spec import CompressSpec, TrainSpec

__all__ = ["Builder", "ModelSpace", "ModelSpec", "NotAModule", "check_builder"]

#: ``build(trial, input_shape, num_classes) -> nn.Module``
Builder = Callable[[Any, tuple[int, ...], int], nn.Module]

_PER_LAYER = re.compile(r"^(?:prune_ratio|bits)_\d+$")


@dataclass(frozen=True)
class ModelSpec:
    """One candidate of a user builder: the parameters it suggested, and the knobs."""

    params: dict[str, Any]
    compress: CompressSpec = field(default_factory=CompressSpec)
    train: TrainSpec = field(default_factory=TrainSpec)


class NotAModule(ValueError):
    """The builder returned something that is not an ``nn.Module``."""


def _call(ref: str, builder: Builder, trial: Any, input_shape: tuple[int, ...],
          num_classes: int) -> nn.Module:
    """Run the builder; any exception or a non-module result is a ValueError naming ``ref``."""
    try:
        model = builder(trial, tuple(input_shape), num_classes)
    except optuna.TrialPruned:
        raise
    except Exception as err:
        params = getattr(trial, "params", {})
        raise ValueError(f"space.model: {ref} raised {type(err).__name__}: {err} (parameters "
                         f"{params})") from err
    if not isinstance(model, nn.Module):
        raise NotAModule(f"space.model: {ref} returned {type(model).__name__}, not a "
                         "torch.nn.Module; return the model it builds")
    return model


@register_space("model")
class ModelSpace(Space):
    """A user's define-by-run builder (``[space] model = "module:function"``) plus the knobs.

    ``bind(input_shape, num_classes)`` must be called before ``sample``: the builder needs the
    data's shape to build the candidate whose layers the per-layer knobs count.
    """

    spec_type = ModelSpec
    knobs: Knobs  # parse_options gives them

    def __init__(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        """Options as a mapping or keywords: ``ModelSpace(model=build, bits=[4, 8])``, where
        ``model`` is the builder or its import string (``options`` keeps the string)."""
        merged = {**(options or {}), **kwargs}
        if callable(merged.get("model")):
            merged["model"] = ref_of(merged["model"], "space.model")
        self.options, self.knobs, opts = parse_options(self.name, merged, {}, ("model",))
        ref = opts.get("model")
        if not isinstance(ref, str):
            raise ValueError("space.model: give the builder as an import string, e.g. model = "
                             "\"my_models:build\" (or \"path/to/file.py:build\")")
        self.ref = ref
        builder = locate(ref, "space.model")
        if not callable(builder):
            raise ValueError(f"space.model: {ref} is a {type(builder).__name__}, not a function "
                             "build(trial, input_shape, num_classes)")
        self.builder: Builder = builder

    def sample(self, trial: optuna.Trial) -> ModelSpec:
        """Run the builder on ``trial`` on the meta device (its suggestions are the Spec's
        ``params``; the model's layers are what the per-layer knobs count), then sample the
        knobs."""
        shape = self.data_shape
        if shape is None:
            raise RuntimeError("ModelSpace.sample: call bind(input_shape, num_classes) first")
        n_groups, n_layers = layer_counts(lambda: _call(self.ref, self.builder, trial, *shape))
        params = dict(trial.params)
        clash = sorted(p for p in params if p in knob_names() or _PER_LAYER.match(p))
        if clash:
            raise ValueError(f"space.model: {self.ref} suggests {clash[0]!r}, a name Frontier's "
                             "knobs use; rename that parameter")
        compress, train = self.knobs.sample(trial, n_groups=n_groups, n_layers=n_layers)
        return ModelSpec(params, compress, train)

    def build(self, spec: ModelSpec, input_shape: tuple[int, ...], num_classes: int
              ) -> nn.Module:
        """Replay the builder on the Spec's parameters (``optuna.trial.FixedTrial``)."""
        return _call(self.ref, self.builder, optuna.trial.FixedTrial(dict(spec.params)),
                     input_shape, num_classes)


def check_builder(space: ModelSpace, input_shape: tuple[int, ...], num_classes: int,
                  tries: int = 3) -> nn.Module:
    """Build candidates of ``space`` on a throwaway in-memory study (random sampler, seeds 0,
    1, ...) until one builds, so that a builder that cannot build at all, or returns something
    that is not a module, is reported before any trial runs. A builder that fails only on some
    candidates passes; those candidates fail as trials, with their reason stored."""
    first: ValueError | None = None
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "new study created in memory"
    try:
        studies = [optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
                   for seed in range(tries)]
    finally:
        optuna.logging.set_verbosity(verbosity)
    for study in studies:
        try:
            return _call(space.ref, space.builder, study.ask(), input_shape, num_classes)
        except ValueError as err:
            if isinstance(err, NotAModule):  # a bug, whatever the candidate
                raise
            first = first or err
    assert first is not None
    raise first
