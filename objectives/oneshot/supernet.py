"""The weight-sharing supernet of a ``cnn`` space (Once-for-All / BigNAS style).

:class:`SuperCNN` holds the space's largest candidate (deepest, widest, largest kernel, batch
norm on), built by the space itself so its parameter names are those of every stand-alone
candidate. A sub-network uses the first ``depth`` blocks, each block's first ``width`` output
channels (and the previous block's first channels as input), the centre crop of the kernel, the
first ``width`` batch-norm affines and the head's columns of the last block's first channels
(Flatten is channel-major: column = channel · P + position, so they are the first width · P).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from objectives.oneshot.calibrate import recalibrate_bn
from objectives.oneshot.slicing import copy_sliced, crop
from spaces.cnn import CNNSpace, CNNSpec
from spaces.domain import domain_values

__all__ = ["SuperCNN", "pool_plan"]

#: (conv, max-pool, adaptive average pool) by the number of spatial dimensions.
_OPS: dict[int, tuple[Any, Any, Any]] = {
    1: (F.conv1d, F.max_pool1d, F.adaptive_avg_pool1d),
    2: (F.conv2d, F.max_pool2d, F.adaptive_avg_pool2d),
}


def pool_plan(input_shape: tuple[int, ...], depth: int) -> tuple[tuple[bool, ...], tuple[int, ...]]:
    """Which of ``depth`` blocks max-pool, and the adaptive-pool output size, by the rule of
    ``CNNSpace.build``: pool while the map is ≥ 4, then average-pool to min(size, 2)."""
    size, pools = list(input_shape[1:]), []
    for _ in range(depth):
        pools.append(min(size) >= 4)
        if pools[-1]:
            size = [s // 2 for s in size]
    return tuple(pools), tuple(min(s, 2) for s in size)


class SuperCNN(nn.Module):
    """All candidates of a ``cnn`` space in one set of weights; ``forward(x, spec)`` runs one."""

    def __init__(self, space: CNNSpace, input_shape: tuple[int, ...], num_classes: int) -> None:
        super().__init__()
        if any(not v for v in domain_values(space.batch_norm)):
            raise ValueError("space.batch_norm: one-shot mode needs batch_norm = [true] (every "
                             "sub-network shares batch-norm layers); drop false from the choices")
        kernels = sorted(int(k) for k in domain_values(space.kernels))
        if any(k % 2 == 0 for k in kernels):
            raise ValueError(f"space.kernels: one-shot mode crops the largest kernel to each "
                             f"smaller one and needs odd sizes, got {kernels}")
        if len(input_shape) not in (2, 3):
            raise ValueError(f"cnn: input_shape must be (C, H, W) or (C, L), got {input_shape}")
        low, high = (int(v) for v in domain_values(space.depth))
        plans = {pool_plan(input_shape, d)[1] for d in range(low, high + 1)}
        if len(plans) > 1:
            raise ValueError(f"input shape {tuple(input_shape)}: the pooled map size differs "
                             f"between depths {low} and {high} ({sorted(plans)}), so the head "
                             "cannot be shared; one-shot mode does not support this input shape")
        self.space, self.input_shape, self.num_classes = space, tuple(input_shape), num_classes
        self.depths = (low, high)
        self.widths = tuple(sorted(int(w) for w in domain_values(space.widths)))
        self.kernels = tuple(kernels)
        self._pools, self._pooled = pool_plan(self.input_shape, high)
        self.net = space.build(self.largest(), self.input_shape, num_classes)

    def largest(self) -> CNNSpec:
        """The deepest, widest candidate with the largest kernel."""
        return CNNSpec((self.widths[-1],) * self.depths[1], self.kernels[-1], True)

    def smallest(self) -> CNNSpec:
        """The shallowest, narrowest candidate with the smallest kernel."""
        return CNNSpec((self.widths[0],) * self.depths[0], self.kernels[0], True)

    def sample(self, gen: torch.Generator) -> CNNSpec:
        """A random candidate: depth uniform in the range, each width and the kernel uniform
        over their choices (compress and train knobs left at their defaults)."""
        def pick(n: int) -> int:
            return int(torch.randint(n, (1,), generator=gen))

        low, high = self.depths
        depth = low + pick(high - low + 1)
        widths = tuple(self.widths[pick(len(self.widths))] for _ in range(depth))
        return CNNSpec(widths, self.kernels[pick(len(self.kernels))], True)

    def check(self, spec: CNNSpec) -> None:
        """Raise ValueError unless ``spec`` is a sub-network of this supernet."""
        if not spec.batch_norm:
            raise ValueError("spec.batch_norm: one-shot sub-networks always have batch norm")
        if not 1 <= spec.depth <= self.depths[1]:
            raise ValueError(f"spec.widths: depth {spec.depth} is outside 1..{self.depths[1]}")
        if pool_plan(self.input_shape, spec.depth)[1] != self._pooled:
            raise ValueError(f"spec.widths: depth {spec.depth} pools the input "
                             f"{self.input_shape} to another size than the supernet")
        if any(not 1 <= w <= self.widths[-1] for w in spec.widths):
            raise ValueError(f"spec.widths: {spec.widths} must lie in 1..{self.widths[-1]}")
        if spec.kernel % 2 == 0 or not 1 <= spec.kernel <= self.kernels[-1]:
            raise ValueError(f"spec.kernel: {spec.kernel} must be odd and at most "
                             f"{self.kernels[-1]}")

    def forward(self, x: torch.Tensor, spec: CNNSpec) -> torch.Tensor:
        """The logits of the sub-network ``spec`` on ``x``. Batch norm always uses the batch's
        statistics (the supernet keeps none per sub-network): to evaluate a candidate, use
        :meth:`extract` and ``recalibrate_bn``."""
        self.check(spec)
        conv, max_pool, avg_pool = _OPS[len(self.input_shape) - 1]
        dims, k = len(self.input_shape) - 1, spec.kernel
        param = self.net.get_parameter
        channels = self.input_shape[0]
        for i, width in enumerate(spec.widths):
            weight = crop(param(f"0.{i}.0.weight"), (width, channels, *(k,) * dims))
            x = conv(x, weight, None, padding=k // 2)
            x = F.batch_norm(x, None, None, param(f"0.{i}.1.weight")[:width],
                             param(f"0.{i}.1.bias")[:width], training=True,
                             eps=self._eps(i))
            x = F.relu(x)
            if self._pools[i]:
                x = max_pool(x, 2)
            channels = width
        x = avg_pool(x, self._pooled).flatten(1)
        head = channels * math.prod(self._pooled)
        return F.linear(x, param("3.weight")[:, :head], param("3.bias"))

    def _eps(self, i: int) -> float:
        norm = self.net.get_submodule(f"0.{i}.1")
        assert isinstance(norm, nn.modules.batchnorm._BatchNorm)
        return norm.eps

    def extract(self, spec: CNNSpec) -> nn.Module:
        """The stand-alone model of ``spec`` (``space.build``, exactly as a trial builds it; the
        spec's compress and train knobs are kept for the caller) with the sliced weights copied
        in and fresh batch-norm statistics (mean 0, variance 1): recalibrate before evaluating.
        On the supernet's device."""
        self.check(spec)
        device = self.net.get_parameter("3.weight").device
        model = self.space.build(spec, self.input_shape, self.num_classes).to(device)
        copy_sliced(model, self.net)
        return model

    def inherit(self, spec: CNNSpec, calibration: torch.Tensor | None
                ) -> Callable[[nn.Module], None]:
        """An ``init`` hook for ``objectives.pipeline.evaluate``: copies the sliced weights of
        ``spec`` into the freshly built model and, given ``calibration`` (training inputs on
        the model's device), recalibrates its batch-norm statistics on them."""
        self.check(spec)

        def init(model: nn.Module) -> None:
            copy_sliced(model, self.net)
            if calibration is not None:
                recalibrate_bn(model, calibration)

        return init
