import math

from objectives.classification import Budget, evaluate
from objectives.metrics import nonzero_params
from objectives.prune import prunable_layers
from spaces import CNNSpec, CompressSpec, create_space


def test_objective_on_a_tiny_budget(digits, tiny_budget) -> None:  # type: ignore[no-untyped-def]
    space = create_space("cnn")
    spec = CNNSpec((8, 16), compress=CompressSpec(prune_ratio=0.5, bits=4))
    measured, model = evaluate(space, spec, digits, tiny_budget, seed=0)
    assert measured.params == nonzero_params(model)
    assert abs(measured.pruned_fraction - 0.5) < 0.01
    assert 0.3 < measured.val_accuracy <= 1.0 and 0.3 < measured.test_accuracy <= 1.0
    assert measured.size_bytes < measured.params * 4
    assert measured.macs > 0 and measured.train_seconds > 0 and measured.latency_ms > 0
    for layer in prunable_layers(model).values():
        for channel in layer.weight.detach():
            assert channel.unique().numel() <= 2**4


def test_full_precision_unpruned_candidate(digits, tiny_budget) -> None:  # type: ignore[no-untyped-def]
    space = create_space("cnn")
    measured, model = evaluate(space, CNNSpec((4,)), digits, tiny_budget)
    total = sum(p.numel() for p in model.parameters())
    assert measured.params == nonzero_params(model) <= total
    assert measured.pruned_fraction == 0.0
    assert measured.size_bytes == measured.params * 4


def test_same_seed_same_result(digits) -> None:  # type: ignore[no-untyped-def]
    space = create_space("cnn")
    spec = CNNSpec((4, 8), compress=CompressSpec(0.3, 3))
    budget = Budget(epochs=1, finetune_epochs=1, qat_epochs=1, latency_reps=0)
    a, _ = evaluate(space, spec, digits, budget, seed=5)
    b, _ = evaluate(space, spec, digits, budget, seed=5)
    assert (a.val_accuracy, a.params, a.size_bytes) == (b.val_accuracy, b.params, b.size_bytes)
    assert math.isnan(a.latency_ms)
