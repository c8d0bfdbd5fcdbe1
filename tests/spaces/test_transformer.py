"""The transformer space: sampling and building on sequences and images, head and FFN pruning
by the ratio, compression of every Linear, and an exported pruned model that ``from_pretrained``
reloads with its accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import torch
from torch import nn

from objectives.compress.plan import apply_compression, replay_steps
from objectives.data import TensorData
from objectives.metrics import accuracy, macs
from search.cli import main
from spaces.layers import keep_count, prunable_layers
from spaces.space import create_space
from spaces.spec import CompressSpec
from spaces.transformer import TransformerSpec

pytest.importorskip("transformers")
from spaces.encoder import FrontierEncoder


def _build(spec: TransformerSpec, shape: tuple[int, ...], classes: int = 10) -> FrontierEncoder:
    torch.manual_seed(0)
    model = create_space("transformer").build(spec, shape, classes)
    assert isinstance(model, FrontierEncoder)
    return model


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _expected(tokens: int, features: int, hidden: int, heads: list[int], size: int,
              neurons: list[int], classes: int) -> tuple[int, int]:
    """(parameters, MACs) of an encoder, by hand: embedding, positions and its norm; per layer
    q/k/v/out projections, two norms, the FFN; the head. MACs add the attention products."""
    params = features * hidden + hidden + tokens * hidden + 2 * hidden
    flops = tokens * features * hidden
    for h, n in zip(heads, neurons, strict=True):
        inner = h * size
        params += 3 * (hidden * inner + inner) + inner * hidden + hidden + 4 * hidden
        params += hidden * n + n + n * hidden + hidden
        flops += tokens * (4 * hidden * inner + 2 * hidden * n) + 2 * tokens ** 2 * inner
    return params + hidden * classes + classes, flops + hidden * classes


@pytest.mark.parametrize(("shape", "tokens", "features"), [
    ((40,), 10, 4), ((2, 40), 10, 8), ((1, 8, 8), 4, 16), ((3, 16, 16), 16, 48)])
def test_samples_and_builds_on_sequences_and_images(shape: tuple[int, ...], tokens: int,
                                                    features: int) -> None:
    space = create_space("transformer", {"patches": [4], "max_depth": 2})
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1)).ask()
    spec = space.sample(trial)
    assert set(trial.params) >= {"depth", "hidden", "heads", "intermediate"}  # patch: fixed
    model = _build(spec, shape, 7)
    assert model.tokens == tokens and model.embed.in_features == features
    assert model(torch.randn(3, *shape)).shape == (3, 7)
    size = spec.hidden // spec.heads
    heads, neurons = [spec.heads] * spec.depth, [spec.intermediate] * spec.depth
    params, flops = _expected(tokens, features, spec.hidden, heads, size, neurons, 7)
    assert _count(model) == params and macs(model, shape) == flops
    again = _build(spec, shape, 7)  # the same weights under the same seed
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 again.state_dict().values(), strict=True))


@pytest.mark.parametrize("ratio", [0.25, 0.5, 0.75])
def test_head_and_ffn_pruning_follow_the_ratio(ratio: float) -> None:
    spec = TransformerSpec(2, 32, 4, 64, 2, CompressSpec(prune_ratio=ratio, method="structured"))
    model = _build(spec, (1, 8, 8))
    x = torch.randn(5, 1, 8, 8)
    apply_compression(model, spec.compress, (1, 8, 8))
    heads, neurons = [keep_count(4, ratio)] * 2, [keep_count(64, ratio)] * 2
    assert model.config.layer_heads == heads and model.config.layer_intermediate == neurons
    params, flops = _expected(16, 4, 32, heads, 8, neurons, 10)
    assert _count(model) == params and macs(model, (1, 8, 8)) == flops
    assert model(x).shape == (5, 10) and torch.isfinite(model(x)).all()
    fresh = replay_steps(_build(spec, (1, 8, 8)), spec.compress, (1, 8, 8))
    assert {k: v.shape for k, v in fresh.state_dict().items()} == \
        {k: v.shape for k, v in model.state_dict().items()}  # stored weights load


def test_the_weakest_heads_and_neurons_go() -> None:
    spec = TransformerSpec(1, 16, 4, 8, 4, CompressSpec(prune_ratio=0.5, method="structured"))
    model = _build(spec, (1, 8, 8))
    attn, layer = model.layers[0].attention, model.layers[0]
    with torch.no_grad():  # heads 1 and 2 (rows 4..11) and neurons 0, 5, 6, 7 weakest
        for lin in (attn.self.query, attn.self.key, attn.self.value):
            lin.weight[4:12] *= 1e-3
            lin.bias[4:12] *= 1e-3
        attn.output.dense.weight[:, 4:12] *= 1e-3
        keep = [1, 2, 3, 4]
        kept_rows = layer.intermediate.dense.weight[keep].clone()
        for n in (0, 5, 6, 7):
            layer.intermediate.dense.weight[n] *= 1e-3
            layer.output.dense.weight[:, n] *= 1e-3
        kept_query = torch.cat([attn.self.query.weight[0:4], attn.self.query.weight[12:16]])
    model.prune_structure(0.5)
    assert torch.equal(attn.self.query.weight, kept_query)
    assert torch.equal(layer.intermediate.dense.weight, kept_rows)


def test_every_linear_is_pruned_and_quantized(digits: TensorData) -> None:
    from objectives.pipeline import Budget, evaluate

    spec = TransformerSpec(1, 16, 2, 32, 4, CompressSpec(prune_ratio=0.5, bits=4))
    space = create_space("transformer")
    measured, model = evaluate(space, spec, digits,
                               Budget(epochs=1, finetune_epochs=1, qat_epochs=1, latency_reps=1))
    layers = prunable_layers(model)
    assert len(layers) == 1 + 6 + 1  # embedding, q/k/v/out, FFN in/out, head
    assert sum(int((m.weight == 0).sum()) for m in layers.values()) >= \
        0.5 * sum(m.weight.numel() for m in layers.values()) - 1
    for name, m in layers.items():  # per output channel at most 2^4 - 1 levels
        levels = [len(torch.unique(row)) for row in m.weight]
        assert max(levels) <= 15, name
    assert 0 < measured.val_accuracy <= 1 and measured.size_bytes < measured.params * 4


TOML = """
[study]
name = "tr"
n_trials = 2
seed = 0
objectives = ["val_accuracy", "params"]

[budget]
epochs = 3
finetune_epochs = 1
qat_epochs = 1
latency_reps = 1

[space]
name = "transformer"
max_depth = 2
hidden_sizes = [16]
heads = [4]
intermediate_sizes = [32]
patches = [2]
prune_method = "structured"
prune_ratio = 0.5
bits = 6
lr = 0.003
"""


def test_an_exported_pruned_model_reloads_with_from_pretrained(workdir: Path,
                                                                digits: TensorData) -> None:
    from transformers import AutoModel

    (workdir / "tr.toml").write_text(TOML)
    assert main(["run", "tr.toml", "--quiet"]) == 0
    assert main(["export", "--study", "tr", "--trial", "1", "--out", "ex", "--int8"]) == 0
    folder = workdir / "ex" / "huggingface"
    config = json.loads((folder / "config.json").read_text())
    assert config["layer_heads"] == [2] * config["num_hidden_layers"]
    assert config["layer_intermediate"] == [16] * config["num_hidden_layers"]
    stored = json.loads((workdir / "ex" / "metrics.json").read_text())["metrics"]
    int8 = json.loads((workdir / "ex" / "int8.json").read_text())  # ONNX Runtime QDQ int8
    assert int8["torch_accuracy"] == pytest.approx(stored["test_accuracy"], abs=1e-6)
    assert abs(int8["accuracy"] - stored["test_accuracy"]) <= 0.03
    for cls in (FrontierEncoder, AutoModel):
        reloaded = cls.from_pretrained(str(folder)).eval()
        assert isinstance(reloaded, FrontierEncoder)
        assert abs(accuracy(reloaded, digits.test) - stored["test_accuracy"]) <= 1e-6
        assert sum(int(torch.count_nonzero(p)) for p in reloaded.parameters()) == \
            stored["params"]


@pytest.mark.parametrize(("options", "field"), [
    ({"hidden_sizes": [16, 24], "heads": [1, 16]}, "space.heads"),
    ({"act_bits": [8, 32]}, "space.act_bits"),
    ({"per_layer_prune": True}, "space.per_layer_prune"),
])
def test_options_it_cannot_honour_are_refused(options: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        create_space("transformer", options)


def test_a_patch_that_does_not_divide_the_input_is_one_line(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "tr.toml").write_text(TOML.replace("patches = [2]", "patches = [2, 3]"))
    assert main(["run", "tr.toml", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("frontier: error: space.patches: patch 3 does not divide") and \
        "\n" not in err
    assert not (workdir / "runs").exists()
