import pytest
import torch

from objectives.compress.prune import prunable_layers, prune_magnitude
from objectives.compress.quantize import attach, bake
from objectives.train import train
from spaces import CNNSpec, create_space


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_space("cnn").build(CNNSpec((8, 16, 16)), (1, 8, 8), 10)


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.37, 0.5, 0.9])
def test_pruning_hits_the_ratio_of_prunable_weights(ratio: float) -> None:
    model = _model()
    masks = prune_magnitude(model, ratio)
    weights = [m.weight for m in prunable_layers(model).values()]
    total = sum(w.numel() for w in weights)
    zeros = sum(int((w == 0).sum()) for w in weights)
    assert abs(zeros / total - ratio) <= 0.01
    assert sum(int((m == 0).sum()) for m in masks.values()) == zeros


def test_pruning_removes_the_smallest_magnitudes() -> None:
    model = _model()
    before = torch.cat([m.weight.detach().abs().flatten()
                        for m in prunable_layers(model).values()])
    prune_magnitude(model, 0.5)
    after = torch.cat([m.weight.detach().flatten() for m in prunable_layers(model).values()])
    kept = before[after != 0]
    dropped = before[after == 0]
    assert kept.min() >= dropped.max()


def test_fine_tuning_holds_the_mask(digits) -> None:  # type: ignore[no-untyped-def]
    model = _model()
    masks = prune_magnitude(model, 0.6)
    attach(model, masks)
    train(model, digits.train, epochs=2, lr=0.01, weight_decay=1e-4)
    bake(model)
    for name, layer in prunable_layers(model).items():
        assert torch.all(layer.weight[masks[name] == 0] == 0)
        assert not hasattr(layer, "parametrizations")
