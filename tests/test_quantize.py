import pytest
import torch

from objectives.compress.quantize import fake_quantize, quantize_codes


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
