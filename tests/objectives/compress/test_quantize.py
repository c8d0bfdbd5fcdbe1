import pytest
import torch

from objectives.compress.quantize import fake_quantize, quantize_codes
from objectives.data import TensorData


@pytest.mark.parametrize("bits", [2, 3, 4, 6, 8])
def test_quantized_tensor_holds_at_most_2_pow_b_values(bits: int) -> None:
    torch.manual_seed(bits)
    w = torch.randn(16, 8, 3, 3)
    codes, scale = quantize_codes(w, bits)
    assert codes.unique().numel() <= 2**bits
    assert int(codes.abs().max()) <= 2 ** (bits - 1) - 1
    q = fake_quantize(w, bits)
    for channel in q:  # one scale per output channel
        assert channel.unique().numel() <= 2**bits
    torch.testing.assert_close(q, codes.float() * scale.view(-1, 1, 1, 1))
    assert (q - w).abs().max() <= scale.max() / 2 + 1e-6


def test_zero_stays_zero_and_full_precision_is_identity() -> None:
    w = torch.randn(4, 10)
    w[:, ::2] = 0
    assert torch.all(fake_quantize(w, 3)[:, ::2] == 0)
    assert fake_quantize(w, 32) is w
    zero_channel = torch.zeros(2, 5)
    assert torch.all(fake_quantize(zero_channel, 4) == 0)


def test_straight_through_gradient() -> None:
    w = torch.randn(4, 6, requires_grad=True)
    (fake_quantize(w, 2) * torch.arange(6.0)).sum().backward()
    assert w.grad is not None
    torch.testing.assert_close(w.grad, torch.arange(6.0).expand(4, 6))


def test_activation_ranges_are_observed_without_a_qat_phase(digits: TensorData) -> None:
    """With qat_epochs = 0 nothing trains the activation quantizers; one pass of training
    inputs records their ranges, instead of leaving them at 0 (a scale of 1: plain rounding)."""
    from objectives.compress.quantize import ActFakeQuant
    from objectives.pipeline import Budget, evaluate
    from spaces import CNNSpec, CompressSpec, create_space

    spec = CNNSpec((8,), compress=CompressSpec(bits=8, act_bits=4))
    budget = Budget(epochs=1, finetune_epochs=0, qat_epochs=0, latency_reps=0)
    _, model = evaluate(create_space("cnn"), spec, digits, budget)
    quants = [m for m in model.modules() if isinstance(m, ActFakeQuant)]
    assert quants and all(float(q.amax) > 0 for q in quants)
