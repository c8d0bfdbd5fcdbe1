import torch
from torch import nn

from objectives import metrics
from objectives.compress.packing import pack, unpack
from objectives.compress.prune import prunable_layers
from objectives.compress.quantize import attach, bake, fake_quantize
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


def _quantized(bits: int | dict[str, int]) -> nn.Module:
    """_tiny() with its conv and linear weights on their ``bits`` grid, as a trial stores them."""
    model = _tiny()
    with torch.no_grad():
        for name, b in metrics.weight_bits(model, bits).items():
            w = model.get_parameter(name)
            w.copy_(fake_quantize(w, b))
    return model


def _file_bytes(model: nn.Module, bits: int | dict[str, int]) -> int:
    data = pack(model.state_dict(), metrics.weight_bits(model, bits))
    return len(data) - (8 + int.from_bytes(data[:8], "little"))  # less the safetensors header


def test_size_bytes_is_the_packed_file_it_describes() -> None:
    for bits in (2, 4, 8, 32, {"0": 8, "2": 2}):
        model = _quantized(bits)
        assert metrics.size_bytes(model, bits) == _file_bytes(model, bits)
        assert torch.equal(unpack(pack(model.state_dict(), metrics.weight_bits(model, bits)),
                                  model.state_dict())["2.weight"], model[2].weight)
    sizes = [metrics.size_bytes(_quantized(b), b) for b in (2, 4, 8, 32)]
    assert sizes == sorted(sizes) and len(set(sizes)) == 4
    # 32 bits: 9 + 96 nonzero weights and 5 biases at 4 bytes each, plus a conv bitmap and headers
    assert (9 + 96 + 5) * 4 < sizes[-1] < (9 + 96 + 5) * 4 + 16
    # 4 bits: the 105 weight codes take 53 bytes, 5 scales 20, biases 20: about 93 bytes
    assert 93 <= sizes[1] < 93 + 16


def test_zeros_cost_their_index() -> None:
    model = _quantized(4)
    dense = metrics.size_bytes(model, 4)
    with torch.no_grad():
        model[2].weight[:, ::2] = 0.0  # half the linear weights pruned
    sparse = metrics.size_bytes(model, 4)
    assert sparse < dense  # 48 codes of 4 bits dropped ...
    assert sparse > dense - 48 * 4 // 8  # ... but a 96-bit bitmap now says where the rest are


def test_size_bytes_before_and_after_bake() -> None:
    model = _quantized(4)
    masks = {name: (layer.weight != 0).float() for name, layer in prunable_layers(model).items()}
    attach(model, masks, 4)
    before = metrics.size_bytes(model, 4)
    assert "0.weight" in metrics.effective_state(model)
    bake(model)
    assert metrics.size_bytes(model, 4) == before


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
