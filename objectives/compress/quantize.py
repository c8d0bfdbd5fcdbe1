"""Weight quantization: per-channel symmetric scales, fake quantization with a straight-through
estimator (``torch.fake_quantize_per_channel_affine``) for quantization-aware fine-tuning, and
its step (``bits``, ``layer_bits``, ``act_bits``; fine-tuned in the "qat" phase)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch.nn.utils import parametrize

from objectives.compress.steps import Compressor, StepContext, register_compressor
from spaces.layers import prunable_layers
from spaces.spec import CompressSpec

__all__ = [
    "ActFakeQuant",
    "MaskedFakeQuant",
    "Quantization",
    "attach",
    "attach_act_quant",
    "bake",
    "fake_quantize",
    "observe_ranges",
    "planned_bits",
    "quantize_codes",
    "record_bits",
    "set_bits",
]

FULL_PRECISION = 32


def _scales(weight: torch.Tensor, bits: int) -> torch.Tensor:
    qmax = 2 ** (bits - 1) - 1
    amax = weight.detach().abs().flatten(1).amax(dim=1)
    return torch.where(amax > 0, amax / qmax, torch.ones_like(amax)).float()


def quantize_codes(weight: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer codes in [-(2^(b-1)-1), 2^(b-1)-1] and per-output-channel scales of ``weight``."""
    qmax = 2 ** (bits - 1) - 1
    scale = _scales(weight, bits)
    shape = (-1,) + (1,) * (weight.dim() - 1)
    codes = torch.clamp(torch.round(weight / scale.view(shape)), -qmax, qmax).to(torch.int32)
    return codes, scale


def fake_quantize(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """Quantize-dequantize ``weight`` per output channel; gradients pass straight through."""
    if bits >= FULL_PRECISION:
        return weight
    qmax = 2 ** (bits - 1) - 1
    scale = _scales(weight, bits)
    zero = torch.zeros_like(scale, dtype=torch.int32)
    return torch.fake_quantize_per_channel_affine(weight, scale, zero, 0, -qmax, qmax)


class MaskedFakeQuant(nn.Module):
    """Parametrization ``w -> fake_quantize(w * mask, bits)``: holds the pruning mask and, once
    ``bits`` < 32, simulates the quantized weight during fine-tuning."""

    mask: torch.Tensor

    def __init__(self, mask: torch.Tensor, bits: int = FULL_PRECISION) -> None:
        super().__init__()
        self.register_buffer("mask", mask)
        self.bits = bits
        #: The bits this weight is compressed to in the end (``bits`` is 32 until QAT).
        self.planned = bits

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return fake_quantize(weight * self.mask, self.bits)


def attach(model: nn.Module, masks: Mapping[str, torch.Tensor],
           bits: int | Mapping[str, int] = FULL_PRECISION) -> dict[str, MaskedFakeQuant]:
    """Register a MaskedFakeQuant on the weight of each layer named in ``masks``, at ``bits``
    (one width for all, or per layer name; names not in the mapping stay at 32)."""
    modules = dict(model.named_modules())
    hooks: dict[str, MaskedFakeQuant] = {}
    for name, mask in masks.items():
        b = bits if isinstance(bits, int) else bits.get(name, FULL_PRECISION)
        hook = MaskedFakeQuant(mask.to(modules[name].weight.device), b)
        parametrize.register_parametrization(modules[name], "weight", hook)
        hooks[name] = hook
    return hooks


def planned_bits(model: nn.Module) -> dict[str, int]:
    """The bits each prunable layer of a compressed ``model`` is packed at, by name: those its
    :class:`MaskedFakeQuant` plans, or after :func:`bake` those it recorded (``packed_bits``).
    Empty for a model the pipeline did not compress."""
    bits = {}
    for name, m in prunable_layers(model).items():
        if parametrize.is_parametrized(m, "weight"):
            hook = getattr(m, "parametrizations").weight[0]  # noqa: B009
            if isinstance(hook, MaskedFakeQuant):
                bits[name] = hook.planned
        elif isinstance(getattr(m, "packed_bits", None), int):
            bits[name] = int(getattr(m, "packed_bits"))  # noqa: B009
    return bits


def record_bits(layer: nn.Module, bits: int) -> None:
    """Record on ``layer`` the bits its weight is packed at (read by :func:`planned_bits`)."""
    setattr(layer, "packed_bits", bits)  # noqa: B010  (a plain attribute, not a submodule)


def set_bits(hooks: Mapping[str, MaskedFakeQuant], bits: int | Mapping[str, int]) -> None:
    """Set the weight bit width of attached parametrizations (one for all, or per layer)."""
    for name, hook in hooks.items():
        hook.bits = bits if isinstance(bits, int) else bits.get(name, FULL_PRECISION)


class ActFakeQuant(nn.Module):
    """Fake-quantizes a layer's input at ``bits`` with one symmetric per-tensor scale taken from
    a running max of ``|x|`` (updated in training mode, frozen in eval); STE gradients.

    Installed as a child ``input_quant`` of the layer and called from a forward pre-hook, so it
    moves with the model (``.to``), is kept in its state dict and stays on for evaluation.
    """

    amax: torch.Tensor

    def __init__(self, bits: int, momentum: float = 0.1) -> None:
        super().__init__()
        self.bits, self.momentum = bits, momentum
        self.register_buffer("amax", torch.zeros(()))  # 0: not observed yet

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            current = x.detach().abs().amax().float()
            blended = torch.lerp(self.amax, current, self.momentum)
            self.amax.copy_(torch.where(self.amax > 0, blended, current))
        qmax = 2 ** (self.bits - 1) - 1
        zero = torch.zeros((1,), dtype=torch.int32, device=x.device)
        return torch.fake_quantize_per_tensor_affine(x, self.scale().reshape(1), zero, -qmax,
                                                     qmax)

    def scale(self) -> torch.Tensor:
        """The per-tensor scale: the observed ``amax`` over ``qmax`` (1 before any)."""
        qmax = 2 ** (self.bits - 1) - 1
        return torch.where(self.amax > 0, self.amax / qmax, torch.ones_like(self.amax))


def _quantize_input(module: nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    quant = module.get_submodule("input_quant")
    return (quant(args[0]), *args[1:])


def attach_act_quant(model: nn.Module, bits: int, names: list[str]) -> dict[str, ActFakeQuant]:
    """Fake-quantize the input of each layer in ``names`` at ``bits`` (see :class:`ActFakeQuant`).
    Activations are not stored, so this changes accuracy and the int8 path, never size_bytes."""
    quants: dict[str, ActFakeQuant] = {}
    for name in names:
        layer = model.get_submodule(name)
        quant = ActFakeQuant(bits).to(next(layer.parameters()).device)
        layer.add_module("input_quant", quant)
        layer.register_forward_pre_hook(_quantize_input)
        quants[name] = quant
    return quants


@torch.no_grad()
def observe_ranges(model: nn.Module, quants: Mapping[str, ActFakeQuant],
                   inputs: torch.Tensor) -> None:
    """Record the activation ranges of ``quants`` from one forward pass of ``inputs`` (the
    model in eval mode, only the quantizers observing): for a model no QAT phase trains."""
    was_training = model.training
    model.eval()
    for q in quants.values():
        q.train()
    try:
        model(inputs.to(next(model.parameters()).device))
    finally:
        model.train(was_training)


def bake(model: nn.Module) -> None:
    """Replace every parametrized weight by its masked, quantized value (plain tensors again);
    each layer keeps its planned bits as the attribute ``packed_bits``.
    A masked negative weight is -0.0; it is stored as +0.0 (the same number), so that a zero
    has one bit pattern and the packed file (``objectives.compress.packing``) leaves it out."""
    for module in list(model.modules()):
        if parametrize.is_parametrized(module, "weight"):
            hook = getattr(module, "parametrizations").weight[0]  # noqa: B009
            if isinstance(hook, MaskedFakeQuant):
                record_bits(module, hook.planned)
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
            weight = module.weight
            assert isinstance(weight, torch.Tensor)
            with torch.no_grad():
                weight.add_(0.0)


@register_compressor("quantization")
class Quantization(Compressor):
    """Weights at ``bits`` (or ``layer_bits`` per prunable layer, the head included; a layer
    a structure step made inside one takes its bits), fake-quantized during the "qat" phase and
    packed at those bits; ``act_bits`` < 32 adds :class:`ActFakeQuant` on every prunable
    layer's input, whose ranges only a trained phase (or one calibration pass) observes."""

    stage = "precision"
    phase = "qat"

    def active(self, c: CompressSpec) -> bool:
        return c.quantized

    def bits(self, model: nn.Module, c: CompressSpec, ctx: StepContext) -> dict[str, int]:
        return {n: ctx.targets.bits_of(n, c.bits) for n in prunable_layers(model)}

    def enter_phase(self, model: nn.Module, c: CompressSpec, ctx: StepContext, *,
                    trains: bool) -> None:
        if c.act_bits >= FULL_PRECISION:
            return
        quants = attach_act_quant(model, c.act_bits, list(prunable_layers(model)))
        if not trains and ctx.calibration is not None:  # no QAT observes the ranges: one pass
            observe_ranges(model, quants, ctx.calibration())

    def must_train(self, c: CompressSpec) -> bool:
        return c.act_bits < FULL_PRECISION
