"""How an input is cut into patches (tokens): shared by the transformer space, which checks a
candidate's patch size, and its model (``spaces.encoder``), which embeds the patches."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["token_shape"]


def token_shape(input_shape: Sequence[int], patch: int) -> tuple[int, int]:
    """(tokens, features per token) of an input cut into patches; ValueError naming
    ``space.patches`` when ``patch`` does not divide a length (or the input is not 1-D/2-D)."""
    shape = list(input_shape)
    if len(shape) == 1:
        shape = [1, *shape]
    if len(shape) not in (2, 3):
        raise ValueError(f"transformer: input_shape must be (L,), (C, L) or (C, H, W), got "
                         f"{tuple(input_shape)}")
    channels, *lengths = shape
    if patch < 1 or any(n % patch for n in lengths):
        what = "steps" if len(lengths) == 1 else "pixels"
        raise ValueError(f"space.patches: patch {patch} does not divide the input's "
                         f"{'x'.join(map(str, lengths))} {what}; choose patches that divide it")
    return math.prod(n // patch for n in lengths), channels * patch ** len(lengths)
