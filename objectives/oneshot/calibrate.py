"""Batch-norm recalibration: a sub-network cut out of a supernet inherits its weights but no
statistics (the supernet's batches mixed many widths), so its running means and variances are
re-estimated on a few training inputs before it is evaluated."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["recalibrate_bn"]


@torch.no_grad()
def recalibrate_bn(model: nn.Module, inputs: torch.Tensor, batch_size: int = 256) -> None:
    """Re-estimate every batch norm's running statistics of ``model`` on ``inputs`` (on the
    model's device): statistics reset, ``momentum=None`` (an exact average over the batches),
    one forward pass in train mode in near-equal batches of at most ``batch_size``. Momentum
    and every module's train/eval mode are restored. No parameter changes."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    if len(inputs) == 0:
        raise ValueError("recalibrate_bn: no calibration inputs")
    if batch_size < 1:
        raise ValueError(f"recalibrate_bn: batch_size must be >= 1, got {batch_size}")
    modes = [(m, m.training) for m in model.modules()]
    momenta = [m.momentum for m in norms]
    try:
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None
        model.train()
        # near-equal chunks: no tiny last batch (a batch of 1 has no variance)
        for chunk in torch.tensor_split(inputs, math.ceil(len(inputs) / batch_size)):
            model(chunk)
    finally:
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
        for module, training in modes:
            module.training = training
