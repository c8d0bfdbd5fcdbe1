"""Batch augmentations as pure tensor functions ``(x, generator) -> x`` (no PIL, no DataLoader).

They run on whatever device the batch is on; random draws come from the CPU ``generator`` the
training loop already seeds, so an augmented run is as reproducible as a plain one. A config
names one (``[dataset] augment = "crop_flip"``); add your own with
:func:`register_augmentation`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from spaces.registry import Registry

__all__ = ["AUGMENTS", "Augment", "augment_fn", "crop_flip", "list_augmentations",
           "register_augmentation"]

#: ``(batch N×C×H×W, generator) -> augmented batch`` of the same shape.
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


#: Augmentations by the name a config gives; ``"none"`` is None (no augmentation).
AUGMENTS: Registry[Augment | None] = Registry("augmentation", "dataset.augment")
AUGMENTS.add("none", None)
#: ``@register_augmentation("mine")`` above ``def mine(x, generator) -> x``.
register_augmentation = AUGMENTS.register
#: The registered augmentation names, sorted.
list_augmentations = AUGMENTS.names


def crop_flip(x: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Random crop after zero-padding by ``padding`` px, then a random horizontal flip (p=½);
    one draw per image. Zero is the training mean, since the data are standardised."""
    n, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    top = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator)
    left = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator)
    flip = torch.rand((n, 1), generator=generator) < 0.5
    cols = torch.arange(w)
    cols = left + torch.where(flip, cols.flip(0), cols)  # the flip is folded into the gather
    rows = top + torch.arange(h)
    device = x.device
    rows, cols = rows.to(device), cols.to(device)
    batch = torch.arange(n, device=device)[:, None, None, None]
    channel = torch.arange(x.shape[1], device=device)[None, :, None, None]
    return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


AUGMENTS.add("crop_flip", crop_flip)  # not @register_augmentation, which would retype it


def augment_fn(name: str) -> Augment | None:
    """The augmentation called ``name`` (None for ``"none"``)."""
    return AUGMENTS[name]
