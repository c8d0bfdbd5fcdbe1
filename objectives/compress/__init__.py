"""Compression of a trained model as pluggable steps (``objectives.compress.steps``): depth
trimming, pruning (unstructured or structured), low-rank factorisation and quantization,
planned per candidate by ``objectives.compress.plan``, and the packed file of the compressed
weights (``objectives.compress.packing``). Importing this package registers the built-in steps."""

# Registers the built-in steps. Within a stage steps run in registration order, so depth
# trimming comes first (no later step works on a dropped unit), then structured pruning
# (Torch-Pruning names layers as built), then low-rank factorisation.
# isort: off
from objectives.compress import prune, depth, structured, lowrank, quantize
# isort: on
from objectives.compress.plan import (
    Plan,
    apply_steps,
    bits_by_layer,
    plan_for,
    replay_steps,
    resolve_targets,
)
from objectives.compress.prune import prunable_layers, prune_magnitude
from objectives.compress.quantize import bake, fake_quantize
from objectives.compress.steps import (
    COMPRESSORS,
    Compressor,
    StepContext,
    list_compressors,
    register_compressor,
)
from objectives.compress.structured import prune_structured

__all__ = [
    "COMPRESSORS",
    "Compressor",
    "Plan",
    "StepContext",
    "apply_steps",
    "bake",
    "bits_by_layer",
    "depth",
    "fake_quantize",
    "list_compressors",
    "lowrank",
    "plan_for",
    "prunable_layers",
    "prune",
    "prune_magnitude",
    "prune_structured",
    "quantize",
    "register_compressor",
    "replay_steps",
    "resolve_targets",
    "structured",
]
