import torch
from torch import nn

from objectives import metrics
from objectives.data import Split


def _tiny() -> nn.Module:
    # conv 1->2 k3 (18 w + 2 b) on 4x4 -> 2x4x4, flatten 32 -> linear 3 (96 w + 3 b)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Flatten(), nn.Linear(32, 3))
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(1.0)
        model[0].weight[0].zero_()  # 9 zeros
    return model


def test_nonzero_params() -> None:
    assert metrics.nonzero_params(_tiny()) == 18 - 9 + 2 + 96 + 3


def test_size_bytes_hand_computed() -> None:
    model = _tiny()
    # 4 bits: conv 9 nonzero * 4 bits + 2 scales * 32 bits; linear 96 * 4 + 3 scales * 32;
    # biases 5 * 32 bits.
    expected_bits = 9 * 4 + 2 * 32 + 96 * 4 + 3 * 32 + 5 * 32
    assert metrics.size_bytes(model, 4) == (expected_bits + 7) // 8
    assert metrics.size_bytes(model, 32) == (9 + 2 + 96 + 3) * 4
    per_layer = {"0": 8, "2": 2}
    expected = 9 * 8 + 2 * 32 + 96 * 2 + 3 * 32 + 5 * 32
    assert metrics.size_bytes(model, per_layer) == (expected + 7) // 8


def test_macs_hand_computed() -> None:
    # conv: 2*4*4 outputs * (1*3*3); linear: 3 outputs * 32 inputs
    assert metrics.macs(_tiny(), (1, 4, 4)) == 32 * 9 + 3 * 32


def test_accuracy_and_latency() -> None:
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    assert metrics.accuracy(model, Split(x, torch.tensor([0, 1, 1, 1]))) == 0.75
    assert metrics.latency_ms(model, (2,), reps=3, warmup=1) > 0
