import dataclasses
import itertools

import optuna
import pytest
import torch
import torchvision
from torch import nn

from objectives.compress.plan import apply_compression, ratio_targets, replay_steps
from objectives.compress.structured import keep_count, output_layers, prune_structured
from objectives.metrics import nonzero_params
from objectives.pipeline import Budget, evaluate, project_compressed
from spaces import CNNSpec, CompressSpec, create_space
from spaces.layers import ratio_targets as structured_targets
from spaces.resnet import ResNetSpec


def _convs(model: nn.Module) -> list[nn.Conv2d]:
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)]


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "mobilenet_v3_small"])
def test_torchvision_models_shrink_with_the_ratio(name: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    counts = []
    for ratio in (0.0, 0.3, 0.5, 0.7):
        model = getattr(torchvision.models, name)(weights=None, num_classes=10)
        if ratio:
            groups = prune_structured(model, torch.zeros(1, 3, 32, 32), ratio)
            assert groups and all(g.after == keep_count(g.before, ratio) for g in groups)
        counts.append(_params(model))
        assert model.training  # the mode it came in
        assert model(x).shape == (2, 10)  # the classifier's output width is unchanged
    assert counts == sorted(counts, reverse=True) and len(set(counts)) == len(counts)
    assert counts[-1] < 0.2 * counts[0]


def test_efficientnet_prunes_through_squeeze_excitation() -> None:
    model = torchvision.models.efficientnet_b0(weights=None, num_classes=10).eval()
    before = _params(model)
    prune_structured(model, torch.zeros(1, 3, 32, 32), 0.5)
    assert _params(model) < 0.4 * before
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


@pytest.mark.parametrize("ratio", [0.3, 0.5, 0.8])
def test_cnn_keeps_round_fraction_of_filters(ratio: float) -> None:
    torch.manual_seed(0)
    widths = (8, 12, 6)
    model = create_space("cnn").build(CNNSpec(widths), (1, 8, 8), 10)
    with torch.no_grad():  # trained-like: no parameter entry is exactly zero (BN biases start at 0)
        for p in model.parameters():
            p.uniform_(0.1, 1.0)
    report = prune_structured(model, torch.zeros(1, 1, 8, 8), ratio)
    kept = [keep_count(c, ratio) for c in widths]
    assert kept == [max(1, round((1 - ratio) * c)) for c in widths]
    assert [c.out_channels for c in _convs(model)] == kept
    assert [(g.layer, g.after) for g in report] == list(zip(["0.0.0", "0.1.0", "0.2.0"], kept,
                                                            strict=True))
    # the next conv's inputs, the batch norms and the head shrank with them
    assert [c.in_channels for c in _convs(model)] == [1, *kept[:-1]]
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert [b.num_features for b in bns] == kept
    head = model.get_submodule("3")
    assert isinstance(head, nn.Linear) and head.in_features == kept[-1] * 4
    assert model(torch.randn(3, 1, 8, 8)).shape == (3, 10)
    assert nonzero_params(model) == _params(model)
    channels = [1, *kept]
    by_hand = sum(9 * i * o + 2 * o for i, o in itertools.pairwise(channels))
    assert _params(model) == by_hand + kept[-1] * 4 * 10 + 10


def test_per_layer_ratios_and_outputs_of_kept_filters_survive() -> None:
    torch.manual_seed(0)
    model = create_space("cnn").build(CNNSpec((8, 8), batch_norm=False), (1, 8, 8), 10)
    assert structured_targets(model) == ratio_targets(model) == ["0.0.0", "0.1.0"]
    x = torch.randn(2, 1, 8, 8)
    before = model.get_submodule("0.0.0")(x)
    prune_structured(model, torch.zeros(1, 1, 8, 8), [0.5, 0.25])
    assert [c.out_channels for c in _convs(model)] == [4, 6]
    after = model.get_submodule("0.0.0")(x)
    # every kept filter computes what it did before pruning
    same = [[torch.allclose(after[:, i], before[:, j]) for j in range(8)] for i in range(4)]
    assert all(sum(row) == 1 for row in same)


def test_plain_mlp_prunes_hidden_features_only() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(),
                          nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 10))
    assert structured_targets(model) == ["1", "4"]  # every linear layer but the last
    prune_structured(model, torch.zeros(1, 64), [0.5, 0.25])
    widths = [(m.in_features, m.out_features) for m in model if isinstance(m, nn.Linear)]
    assert widths == [(64, 16), (16, 12), (12, 10)]
    assert model.get_submodule("2").num_features == 16
    assert model(torch.randn(5, 64)).shape == (5, 10)


class _Residual(nn.Module):
    """A stem, one residual block, a concatenation, a grouped conv and a Conv1d-free head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.conv1 = nn.Conv2d(8, 12, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(12)
        self.conv2 = nn.Conv2d(12, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.side = nn.Conv2d(8, 4, 1)
        self.grouped = nn.Conv2d(12, 12, 3, padding=1, groups=2)  # reads cat(block, side)
        self.depthwise = nn.Conv2d(12, 12, 3, padding=1, groups=12)
        self.head = nn.Linear(12, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stem(x)
        b = torch.relu(s + self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(s))))))
        y = self.depthwise(self.grouped(torch.cat([b, self.side(b)], 1)))
        out: torch.Tensor = self.head(y.mean((2, 3)))
        return out


def test_residual_concat_grouped_and_depthwise_convs_stay_consistent() -> None:
    torch.manual_seed(0)
    model = _Residual()
    report = {g.layer: (g.before, g.after) for g in prune_structured(
        model, torch.zeros(1, 1, 8, 8), 0.5)}
    # stem and block output are tied by the addition: one group, named by the stem
    assert report["stem"] == (8, 4) and report["conv1"] == (12, 6)
    assert model.stem.out_channels == model.conv2.out_channels == model.bn2.num_features == 4
    assert model.conv1.out_channels == model.conv2.in_channels == 6
    assert model.side.in_channels == 4
    cat = model.stem.out_channels + model.side.out_channels
    assert model.grouped.in_channels == cat
    assert model.depthwise.in_channels == model.depthwise.out_channels == model.depthwise.groups
    assert model.head.out_features == 10
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_conv1d_models_prune() -> None:
    model = nn.Sequential(nn.Conv1d(2, 16, 3, padding=1), nn.BatchNorm1d(16), nn.ReLU(),
                          nn.Conv1d(16, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool1d(1),
                          nn.Flatten(), nn.Linear(16, 4))
    prune_structured(model, torch.zeros(1, 2, 20), [0.5, 0.75])
    assert [m.out_channels for m in model if isinstance(m, nn.Conv1d)] == [8, 4]
    assert model(torch.randn(3, 2, 20)).shape == (3, 4)


def test_channels_last_training_model_keeps_its_mode_and_statistics() -> None:
    torch.manual_seed(0)
    model = create_space("cnn").build(CNNSpec((8, 8)), (1, 8, 8), 10)
    model = model.to(memory_format=torch.channels_last).train()
    bn = model.get_submodule("0.0.1")
    assert isinstance(bn, nn.BatchNorm2d)
    with torch.no_grad():
        bn.running_mean.copy_(torch.arange(8.0))  # type: ignore[union-attr]
    x = torch.zeros(1, 1, 8, 8).contiguous(memory_format=torch.channels_last)
    prune_structured(model, x, 0.5)
    assert model.training
    kept = bn.running_mean.tolist()  # type: ignore[union-attr]
    assert len(kept) == 4 and set(kept) <= set(range(8))  # sliced, never updated by the trace
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_output_layers_are_those_as_wide_as_the_output() -> None:
    model = torchvision.models.mobilenet_v3_small(weights=None, num_classes=10)
    x = torch.zeros(1, 3, 32, 32)
    assert output_layers(model, x) == output_layers(model, x, num_classes=10) == ["classifier.3"]


def test_bad_ratios_name_the_field() -> None:
    model = create_space("cnn").build(CNNSpec((8, 8)), (1, 8, 8), 10)
    x = torch.zeros(1, 1, 8, 8)
    with pytest.raises(ValueError, match=r"^layer_ratios: 1 ratios for 2 layers"):
        prune_structured(model, x, [0.5])
    with pytest.raises(ValueError, match=r"^prune_ratio: 1\.0 is out of range"):
        prune_structured(model, x, 1.0)
    with pytest.raises(ValueError, match=r"^layer_ratios: '0\.0\.1' is not a conv or linear"):
        prune_structured(model, x, {"0.0.1": 0.5})
    with pytest.raises(ValueError, match=r"^layer_ratios: 3 ratios for 2 layers"):
        apply_compression(model, CompressSpec(method="structured", layer_ratios=(0.1, 0.2, 0.3)),
                      (1, 8, 8))


class _HardCoded(nn.Module):
    """A forward that hard-codes its conv's width: pruning cannot keep it running."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 16, 3, padding=1)
        self.head = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        out: torch.Tensor = self.head(y.reshape(y.shape[0], 16, -1).mean(2))
        return out


def test_a_model_that_breaks_under_pruning_is_reported() -> None:
    with pytest.raises(ValueError, match=r"^prune_method: _HardCoded no longer runs after"):
        prune_structured(_HardCoded(), torch.zeros(1, 1, 8, 8), 0.5)


def _sampled(name: str, options: dict[str, object], shape: tuple[int, ...], seed: int = 0
             ) -> tuple[object, nn.Module]:
    space = create_space(name, {**options, "prune_method": ["structured"]})
    spec = space.sample(optuna.create_study(
        sampler=optuna.samplers.RandomSampler(seed=seed)).ask())
    return spec, space.build(spec, shape, 10)


@pytest.mark.parametrize(("name", "options"), [
    ("cnn", {"max_depth": 3}),
    ("resnet", {"max_stages": 2, "blocks": [1, 2]}),
    ("mobilenet", {"max_stages": 3, "head_width": 32}),
    ("mlp", {"max_depth": 2, "widths": [16, 32]}),
])
@pytest.mark.parametrize("per_layer", [False, True])
def test_builtin_spaces_prune_structurally(name: str, options: dict[str, object],
                                           per_layer: bool) -> None:
    torch.manual_seed(0)
    shape = (1, 8, 8) if name in ("cnn", "mlp") else (3, 16, 16)
    opts = {**options, "prune_ratio": [0.5], "per_layer_prune": per_layer}
    spec, model = _sampled(name, opts, shape)
    c = spec.compress  # type: ignore[attr-defined]
    assert c.method == "structured"
    assert len(c.layer_ratios) == (len(ratio_targets(model)) if per_layer else 0)
    before = _params(model)
    masks = apply_compression(model, c, shape)
    assert _params(model) < 0.6 * before
    assert all(bool(m.all()) for m in masks.values())
    assert model(torch.randn(2, *shape)).shape == (2, 10)


def test_structured_evaluate_measures_the_smaller_model(digits, tiny_budget) -> None:  # type: ignore[no-untyped-def]
    space = create_space("cnn")
    spec = CNNSpec((16, 16), compress=CompressSpec(prune_ratio=0.5, method="structured"))
    measured, model = evaluate(space, spec, digits, tiny_budget, seed=0)
    assert [c.out_channels for c in _convs(model)] == [8, 8]
    dense, _ = evaluate(space, CNNSpec((16, 16)), digits, tiny_budget, seed=0)
    # params counts nonzero entries; the shrunk full-precision model has (almost surely) none
    # that are exactly zero, so it equals the sum of numel of its parameters
    assert measured.params == _params(model)
    assert measured.params < dense.params / 2 and measured.macs < dense.macs / 2
    assert 0.4 < measured.pruned_fraction < 0.8
    assert measured.val_accuracy > 0.3 and measured.latency_ms > 0


def test_projection_at_a_channels_last_checkpoint_matches(digits) -> None:  # type: ignore[no-untyped-def]
    space = create_space("cnn")
    spec = CNNSpec((8, 16), compress=CompressSpec(prune_ratio=0.5, method="structured", bits=4))
    budget = Budget(epochs=2, finetune_epochs=0, qat_epochs=0, latency_reps=0)
    seen: list[dict[str, float]] = []

    def at_epoch(phase: str, _epoch: int, model: nn.Module) -> None:
        if phase == "train":  # inside train(): channels-last weights, no_grad projection
            seen.append(project_compressed(model, spec, digits.input_shape, pruned=False))
            assert [c.out_channels for c in _convs(model)] == [8, 16]  # a copy was pruned

    measured, _ = evaluate(space, spec, digits, budget, seed=0, on_epoch=at_epoch)
    assert seen[-1] == {"params": measured.params, "size_bytes": measured.size_bytes}


def test_resnet_space_prunes_residual_and_internal_channels() -> None:
    space = create_space("resnet", {"prune_method": ["unstructured", "structured"]})
    model = space.build(ResNetSpec((8, 16), (2, 1), (1, 2), 1), (3, 32, 32), 10)
    before = {n: m.out_channels for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    apply_compression(model, CompressSpec(prune_ratio=0.5, method="structured"), (3, 32, 32))
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):  # channels tied by additions shrink together
            assert m.out_channels == before[name] // 2, name
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_replay_gives_a_fresh_model_the_pruned_shapes() -> None:
    space = create_space("mobilenet", {"prune_method": ["structured"], "per_layer_prune": True})
    spec = space.sample(optuna.create_study(
        sampler=optuna.samplers.RandomSampler(seed=3)).ask())
    c = spec.compress
    shape = (3, 16, 16)
    torch.manual_seed(0)
    trained = space.build(spec, shape, 10)
    with torch.no_grad():  # other weights pick other channels, never other shapes
        for p in trained.parameters():
            p.normal_()
    apply_compression(trained, c, shape)
    fresh = replay_steps(space.build(spec, shape, 10), c, shape)
    fresh.load_state_dict(trained.state_dict())
    x = torch.randn(2, *shape)
    assert torch.allclose(fresh.eval()(x), trained.eval()(x))
    unstructured = dataclasses.replace(c, method="unstructured")
    full = space.build(spec, shape, 10)
    assert _params(replay_steps(full, unstructured, shape)) > _params(trained)
