import torch

from objectives.compress.int8 import compare_int8, int8_weight_layers, to_int8
from objectives.pipeline import Budget, evaluate
from spaces import CNNSpec, CompressSpec, create_space


def test_int8_export_matches_the_fake_quant_estimate(digits) -> None:  # type: ignore[no-untyped-def]
    spec = CNNSpec((8, 16), compress=CompressSpec(prune_ratio=0.3, bits=8))
    budget = Budget(epochs=3, finetune_epochs=1, qat_epochs=1, latency_reps=0)
    _, model = evaluate(create_space("cnn"), spec, digits, budget, seed=0)
    int8 = to_int8(model, digits.train.x[:256])
    layers = int8_weight_layers(int8)
    assert set(layers) == {"0.0.0", "0.1.0", "3"}  # both convs and the head
    assert set(layers.values()) == {torch.qint8}
    assert int8(digits.val.x[:4]).shape == (4, 10)
    cmp = compare_int8(model, digits.test, digits.train.x[:256], digits.input_shape, reps=5)
    assert cmp.fake_quant_accuracy > 0.8
    assert abs(cmp.int8_accuracy - cmp.fake_quant_accuracy) <= 0.03
    assert cmp.int8_layers == 3 and cmp.int8_latency_ms > 0 and cmp.float_latency_ms > 0


def test_int8_export_drops_activation_fake_quant(digits) -> None:  # type: ignore[no-untyped-def]
    spec = CNNSpec((4,), compress=CompressSpec(bits=8, act_bits=8))
    budget = Budget(epochs=1, finetune_epochs=0, qat_epochs=1, latency_reps=0)
    _, model = evaluate(create_space("cnn"), spec, digits, budget, seed=0)
    int8 = to_int8(model, digits.train.x[:128])
    assert not any(n.endswith("input_quant") for n, _ in int8.named_modules())
    assert model.get_submodule("0.0.0.input_quant") is not None  # the original is untouched
