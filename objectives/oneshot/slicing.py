"""Weight sharing by slicing: a sub-network's tensor is a corner of the supernet's one.

Channel dimensions (the first two of a conv weight, the only one of a batch-norm affine, both
of a linear weight) keep their *first* entries; kernel dimensions (dims 2 and on of a conv
weight) keep their *centre* ``k × k`` (or ``k``) crop. A stand-alone model built by the space
has the supernet's parameter names, so a whole model is filled by name (:func:`copy_sliced`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["copy_sliced", "crop", "reset_bn_stats"]


def crop(source: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """The slice of ``source`` with ``shape``: leading entries on dims 0 and 1, the centred
    crop on dims 2 and on (kernels). A view; ValueError if ``shape`` does not fit."""
    if source.ndim != len(shape) or any(t > s or t < 1 for s, t in zip(source.shape, shape,
                                                                         strict=True)):
        raise ValueError(f"cannot slice a tensor of shape {tuple(source.shape)} to "
                         f"{tuple(shape)}")
    index: list[slice] = []
    for dim, (have, want) in enumerate(zip(source.shape, shape, strict=True)):
        if dim >= 2:
            if (have - want) % 2:
                raise ValueError(f"cannot centre a kernel of {want} in one of {have}: both "
                                 "must be odd")
            start = (have - want) // 2
        else:
            start = 0
        index.append(slice(start, start + want))
    return source[tuple(index)]


def reset_bn_stats(model: nn.Module) -> None:
    """Reset every batch norm's running statistics (mean 0, variance 1, no batches seen)."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()


@torch.no_grad()
def copy_sliced(model: nn.Module, source: nn.Module) -> None:
    """Fill every parameter of ``model`` with the slice (:func:`crop`) of ``source``'s parameter
    of the same name, then reset ``model``'s batch-norm statistics (they belonged to no
    sub-network). ValueError when a name is missing from ``source`` or a shape does not fit."""
    for name, param in model.named_parameters():
        try:
            full = source.get_parameter(name)
        except AttributeError:
            raise ValueError(f"the supernet has no parameter {name!r}: the model is not one of "
                             "its sub-networks") from None
        try:
            param.copy_(crop(full, param.shape))
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
    reset_bn_stats(model)
