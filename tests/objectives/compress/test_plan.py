import torch
from torch import nn

from objectives.compress.plan import bits_by_layer
from objectives.compress.prune import prunable_layers
from objectives.compress.quantize import ActFakeQuant
from objectives.metrics import size_bytes
from objectives.pipeline import evaluate
from spaces import CNNSpec, CompressSpec, create_space


def _hand_model() -> nn.Sequential:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 3))
    with torch.no_grad():
        model[0].weight.fill_(0.5)
        model[0].weight[0, 0, 0].zero_()
        model[0].weight[1, 0, 2, 2] = 0.0  # 4 zeros: 18 - 4 = 14 nonzero conv weights
        model[0].bias.copy_(torch.tensor([1.0, 0.0]))  # 1 nonzero bias
        model[2].weight.fill_(0.25)
        model[2].weight[:, :4].zero_()  # 12 of 24 nonzero
        model[2].bias.fill_(2.0)  # 3 nonzero
    return model


def test_per_layer_bits_size_is_hand_computed() -> None:
    model = _hand_model()
    # The packed file, record by record (objectives.compress.packing): a kind byte; quantized:
    # a bits byte and a float32 scale per output channel; then the cheaper of dense codes and
    # a bitmap with the nonzero codes (bit-packed, rounded up to whole bytes).
    def codes(numel: int, nonzero: int, bits: int) -> int:
        return min(numel * bits, numel + nonzero * bits) // 8 + (
            min(numel * bits, numel + nonzero * bits) % 8 > 0)

    conv4 = 1 + 1 + 2 * 4 + codes(18, 14, 4)  # 19: dense 72 bits beats a 74-bit bitmap
    conv32 = 1 + codes(18, 14, 32)  # 60: 18-bit bitmap + 14 floats
    conv_bias = 1 + codes(2, 1, 32)  # 6: one zero bias left out behind a 2-bit bitmap
    lin8 = 1 + 1 + 3 * 4 + codes(24, 12, 8)  # 29: half pruned, the bitmap wins
    lin4 = 1 + 1 + 3 * 4 + codes(24, 12, 4)  # 23
    lin_bias = 1 + codes(3, 3, 32)  # 13
    assert size_bytes(model, {"0": 4, "2": 8}) == conv4 + conv_bias + lin8 + lin_bias == 67
    assert size_bytes(model, {"0": 32, "2": 8}) == conv32 + conv_bias + lin8 + lin_bias
    assert size_bytes(model, 4) == conv4 + conv_bias + lin4 + lin_bias


def test_layer_bits_map_follows_prunable_layer_order() -> None:
    model = create_space("cnn").build(CNNSpec((4, 8)), (1, 8, 8), 10)
    c = CompressSpec(layer_bits=(2, 4, 8))
    assert bits_by_layer(model, c) == {"0.0.0": 2, "0.1.0": 4, "3": 8}
    assert bits_by_layer(model, CompressSpec(bits=6)) == dict.fromkeys(("0.0.0", "0.1.0", "3"), 6)


def test_mixed_precision_candidate_uses_each_layers_bits(digits, tiny_budget) -> None:  # type: ignore[no-untyped-def]
    spec = CNNSpec((4, 8), compress=CompressSpec(layer_bits=(2, 3, 8), act_bits=4))
    measured, model = evaluate(create_space("cnn"), spec, digits, tiny_budget, seed=0)
    layers = prunable_layers(model)
    for layer, bits in zip(layers.values(), (2, 3, 8), strict=True):
        for channel in layer.weight.detach():
            assert channel.unique().numel() <= 2**bits
    assert measured.size_bytes == size_bytes(model, {"0.0.0": 2, "0.1.0": 3, "3": 8})
    # activation fake-quant stays on: every prunable layer sees at most 2^4 input values
    seen: list[int] = []
    for layer in layers.values():
        quant = layer.get_submodule("input_quant")
        assert isinstance(quant, ActFakeQuant) and float(quant.amax) > 0
        assert not list(quant.parameters())  # buffers only: activations add nothing to size
        layer.register_forward_hook(lambda _m, args, _o: seen.append(args[0].unique().numel()))
    model(digits.val.x[:64])
    assert len(seen) == 3 and max(seen) <= 2**4
    assert measured.val_accuracy > 0.2
