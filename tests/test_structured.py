import itertools

import pytest
import torch
from torch import nn

from objectives.classification import evaluate
from objectives.metrics import nonzero_params
from objectives.structured import keep_count, rank_filters, shrink
from spaces import CNNSpec, CompressSpec, create_space
from spaces.channels import ChannelGroup


def _convs(model: nn.Module) -> list[nn.Conv2d]:
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize("ratio", [0.3, 0.5, 0.8])
def test_shrink_keeps_round_fraction_of_filters(ratio: float) -> None:
    torch.manual_seed(0)
    widths = (8, 12, 6)
    model = create_space("cnn").build(CNNSpec(widths), (1, 8, 8), 10)
    with torch.no_grad():  # trained-like: no parameter entry is exactly zero (BN biases start at 0)
        for p in model.parameters():
            p.uniform_(0.1, 1.0)
    report = shrink(model, ratio)
    kept = [max(1, round((1 - ratio) * c)) for c in widths]
    assert [c.out_channels for c in _convs(model)] == kept
    assert [r[2] for r in report] == kept
    # the next conv's inputs, the batch norms and the head shrank with them
    assert [c.in_channels for c in _convs(model)] == [1, *kept[:-1]]
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert [b.num_features for b in bns] == kept
    head = model.get_submodule("3")
    assert isinstance(head, nn.Linear) and head.in_features == kept[-1] * 4
    assert model(torch.randn(3, 1, 8, 8)).shape == (3, 10)
    assert nonzero_params(model) == sum(p.numel() for p in model.parameters())
    channels = [1, *kept]
    by_hand = sum(9 * i * o + 2 * o for i, o in itertools.pairwise(channels))
    assert sum(p.numel() for p in model.parameters()) == by_hand + kept[-1] * 4 * 10 + 10


def test_per_layer_ratios_and_outputs_of_kept_filters_survive() -> None:
    torch.manual_seed(0)
    model = create_space("cnn").build(CNNSpec((8, 8), batch_norm=False), (1, 8, 8), 10)
    conv0 = model.get_submodule("0.0.0")
    assert isinstance(conv0, nn.Conv2d)
    x = torch.randn(2, 1, 8, 8)
    before = conv0(x)
    keep = rank_filters(conv0.weight, keep_count(8, 0.5))
    shrink(model, [0.5, 0.25])
    assert [c.out_channels for c in _convs(model)] == [4, 6]
    assert torch.allclose(model.get_submodule("0.0.0")(x), before[:, keep])


def test_l1_and_l2_rank_differently_on_a_hand_set_weight() -> None:
    w = torch.zeros(3, 1, 2, 2)
    w[0] = torch.tensor([[1.0, 1.0], [1.0, 1.0]])  # L1 4, L2 2
    w[1] = torch.tensor([[3.0, 0.0], [0.0, 0.0]])  # L1 3, L2 3
    w[2] = torch.tensor([[0.5, 0.0], [0.0, 0.0]])  # smallest by both
    assert rank_filters(w, 1, "l1").tolist() == [0]
    assert rank_filters(w, 1, "l2").tolist() == [1]
    assert rank_filters(w, 2, "l1").tolist() == [0, 1]
    with pytest.raises(ValueError, match=r"^norm:"):
        rank_filters(w, 1, "l3")


class _Block(nn.Module):
    """A hand-written residual BasicBlock: only conv1's output channels form a group."""

    def __init__(self, c: int, inner: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, inner, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(inner)
        self.conv2 = nn.Conv2d(inner, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))


class _ResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 6, 3, padding=1)
        self.block = _Block(6, 10)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(6, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.block(self.stem(x))).flatten(1))

    def channel_groups(self) -> list[ChannelGroup]:
        # stem and block outputs are tied by the addition: not groups
        return [ChannelGroup("block.conv1", "block.bn1", ("block.conv2",))]


def test_residual_rule_prunes_only_a_block_internal_channels() -> None:
    torch.manual_seed(0)
    model = _ResNet()
    shrink(model, 0.5)
    assert (model.block.conv1.out_channels, model.block.bn1.num_features,
            model.block.conv2.in_channels) == (5, 5, 5)
    assert model.stem.out_channels == 6 and model.block.conv2.out_channels == 6
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_model_without_groups_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^prune_method:"):
        shrink(nn.Sequential(nn.Conv2d(1, 2, 3)), 0.5)


def test_structured_evaluate_measures_the_smaller_model(digits, tiny_budget) -> None:  # type: ignore[no-untyped-def]
    space = create_space("cnn")
    spec = CNNSpec((16, 16), compress=CompressSpec(prune_ratio=0.5, method="structured"))
    measured, model = evaluate(space, spec, digits, tiny_budget, seed=0)
    assert [c.out_channels for c in _convs(model)] == [8, 8]
    dense, _ = evaluate(space, CNNSpec((16, 16)), digits, tiny_budget, seed=0)
    # params counts nonzero entries; the shrunk full-precision model has (almost surely) none
    # that are exactly zero, so it equals the sum of numel of its parameters
    assert measured.params == sum(p.numel() for p in model.parameters())
    assert measured.params < dense.params / 2 and measured.macs < dense.macs / 2
    assert 0.4 < measured.pruned_fraction < 0.8
    assert measured.val_accuracy > 0.3 and measured.latency_ms > 0


def test_resnet_blocks_shrink_only_their_internal_channels() -> None:
    from spaces.resnet import ResNetSpec

    space = create_space("resnet", {"prune_method": ["unstructured", "structured"]})
    model = space.build(ResNetSpec((8, 16), (2, 1), (1, 2), 1), (3, 32, 32), 10)
    before = {n: m.out_channels for n, m in model.named_modules()
              if isinstance(m, torch.nn.Conv2d)}
    report = shrink(model, 0.5)
    assert [r[0] for r in report] == ["stages.0.0.conv1.conv", "stages.0.1.conv1.conv",
                                      "stages.1.0.conv1.conv"]
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Conv2d):
            expected = round(before[name] / 2) if name.endswith("conv1.conv") else before[name]
            assert m.out_channels == expected, name  # block outputs (added to shortcuts) stay
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(0.5)
    assert nonzero_params(model) == sum(p.numel() for p in model.parameters())
    with pytest.raises(ValueError, match=r"^space\.prune_method: the mobilenet space"):
        create_space("mobilenet", {"prune_method": ["structured"]})
