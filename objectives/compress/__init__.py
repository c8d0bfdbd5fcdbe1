"""Compression of a trained model: pruning (unstructured or structured), quantization, and the
packed file of the compressed weights (``objectives.compress.packing``)."""

from objectives.compress.plan import apply_pruning, bits_by_layer, replay_pruning
from objectives.compress.prune import prunable_layers, prune_magnitude
from objectives.compress.quantize import bake, fake_quantize
from objectives.compress.structured import prune_structured

__all__ = [
    "apply_pruning",
    "bake",
    "bits_by_layer",
    "fake_quantize",
    "prunable_layers",
    "prune_magnitude",
    "prune_structured",
    "replay_pruning",
]
