"""A transformer encoder space on Hugging Face ``transformers`` (``spaces.encoder``).

Searched: ``depth`` (encoder layers), ``hidden`` (hidden size), ``heads`` (attention heads),
``intermediate`` (FFN neurons) and ``patch`` (steps or pixels per token), plus the usual
knobs. Structured pruning removes attention heads and FFN neurons
(``FrontierEncoder.prune_structure``); unstructured pruning and per-channel quantization reach
every ``nn.Linear``. Works on sequences ``(L,)`` / ``(C, L)`` and images ``(C, H, W)``.
Needs the ``transformers`` extra (``pip install 'frontier[transformers]'``); it is imported
only when a model is built, so the other spaces never pay for it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna
from torch import nn

from spaces.domain import Choice, domain_values, suggest
from spaces.knobs import Knobs
from spaces.options import count_range, int_choices, parse_options
from spaces.patches import token_shape
from spaces.space import Space, register_space
from spaces.spec import CompressSpec, TrainSpec

__all__ = ["TransformerSpace", "TransformerSpec"]

_OPTIONS = ("min_depth", "max_depth", "hidden_sizes", "heads", "intermediate_sizes", "patches")


@dataclass(frozen=True)
class TransformerSpec:
    """One encoder candidate: layers, hidden size, heads, FFN neurons, patch size and knobs."""

    depth: int
    hidden: int
    heads: int
    intermediate: int
    patch: int
    compress: CompressSpec = field(default_factory=CompressSpec)
    train: TrainSpec = field(default_factory=TrainSpec)


def missing_transformers() -> bool:
    """Whether the ``transformers`` package is not installed."""
    return importlib.util.find_spec("transformers") is None


@register_space("transformer")
class TransformerSpace(Space):
    """Patch embedding → BERT encoder layers → mean token → linear head (``spaces.encoder``)."""

    spec_type = TransformerSpec
    knobs: Knobs  # parse_options gives them

    def __init__(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        """Options as a mapping or keywords (``TransformerSpace(max_depth=2)``); see
        ``CNNSpace``. Every hidden size must be a multiple of every head count."""
        if missing_transformers():
            raise ValueError(f"space.name: the {self.name} space needs the transformers "
                             "package; pip install 'frontier[transformers]'")
        self.options, self.knobs, opts = parse_options(self.name, options, kwargs,
                                                       _OPTIONS)
        self.knobs.require(self.name, per_layer_prune=False, per_layer_bits=False)
        if any(b != 32 for b in domain_values(self.knobs.act_bits)):
            raise ValueError("space.act_bits: not supported by the transformer space (its "
                             "exported model reloads with from_pretrained, which has no "
                             "activation quantizers); leave act_bits at 32")
        self.depth = count_range(opts, "min_depth", "max_depth", (1, 3))
        self.hidden: Choice = int_choices("hidden_sizes", opts.get("hidden_sizes", [16, 32, 64]))
        self.heads: Choice = int_choices("heads", opts.get("heads", [1, 2, 4]))
        self.intermediate: Choice = int_choices(
            "intermediate_sizes", opts.get("intermediate_sizes", [32, 64, 128]))
        self.patches: Choice = int_choices("patches", opts.get("patches", [2, 4]))
        for h in self.hidden.values:
            bad = [n for n in self.heads.values if int(h) % int(n)]
            if bad:
                raise ValueError(f"space.heads: hidden size {h} is not a multiple of {bad[0]} "
                                 "heads; use hidden_sizes that every head count divides")

    def check_input(self, input_shape: tuple[int, ...], num_classes: int) -> None:
        """Raise ValueError (naming ``space.patches``) unless every patch size cuts inputs of
        ``input_shape`` into whole patches; run before any trial."""
        for patch in self.patches.values:
            token_shape(input_shape, int(patch))

    def sample(self, trial: optuna.Trial) -> TransformerSpec:
        """Draw a TransformerSpec; the only place this space calls ``trial.suggest_*``."""
        depth = int(suggest(trial, "depth", self.depth))
        hidden = int(suggest(trial, "hidden", self.hidden))
        heads = int(suggest(trial, "heads", self.heads))
        intermediate = int(suggest(trial, "intermediate", self.intermediate))
        patch = int(suggest(trial, "patch", self.patches))
        arch = TransformerSpec(depth, hidden, heads, intermediate, patch)
        compress, train = self.knobs.sample(trial, *self.layer_counts(arch))
        return dataclasses.replace(arch, compress=compress, train=train)

    def build(self, spec: TransformerSpec, input_shape: tuple[int, ...],
              num_classes: int) -> nn.Module:
        """A ``spaces.encoder.FrontierEncoder`` for ``spec`` (weights initialised from the
        torch seed, nothing downloaded)."""
        from spaces.encoder import FrontierEncoder, FrontierEncoderConfig

        tokens, _ = token_shape(input_shape, spec.patch)
        config = FrontierEncoderConfig(
            input_shape=list(input_shape), patch=spec.patch, hidden_size=spec.hidden,
            num_hidden_layers=spec.depth, num_attention_heads=spec.heads,
            intermediate_size=spec.intermediate, num_labels=num_classes, vocab_size=1,
            type_vocab_size=1, max_position_embeddings=tokens, hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0, layer_norm_eps=1e-5)  # type: ignore[call-arg]
        return FrontierEncoder(config)
