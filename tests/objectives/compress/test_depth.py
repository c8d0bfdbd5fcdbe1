"""Depth trimming (objectives.compress.depth): which units a model can lose, dropping them
(params and MACs against hand counts), the step with other steps' per-layer knobs, and a study
whose candidates drop a unit, exported and reloaded."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import optuna
import pytest
import torch
from torch import nn
from torchvision.models import resnet18

from objectives.compress.depth import DepthTrimming, drop_units, removable_units
from objectives.compress.plan import apply_compression, bits_by_layer, resolve_targets
from objectives.data import TensorData
from objectives.metrics import macs
from objectives.pipeline import Budget, evaluate
from spaces import create_space
from spaces.spec import CompressSpec, spec_from_dict, spec_to_dict
from tests.conftest import ENV, tiny_toml
from tests.search.test_cli import cli

RESNET_INPUT = (3, 32, 32)
# torchvision's BasicBlock(c, c) without downsample: conv3x3 c->c, BN, conv3x3 c->c, BN (no
# conv biases): 18c² + 4c parameters. At 32×32 the stem (stride 2, max-pool) leaves 8×8 for
# layer1, then 4×4, 2×2, 1×1: every such block costs 2 · (c·s²) · 9c = 4,718,592 MACs.
BLOCK_WIDTH = {"layer1.0": 64, "layer1.1": 64, "layer2.1": 128, "layer3.1": 256, "layer4.1": 512}
BLOCK_MACS = 4_718_592


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _resnet() -> nn.Module:
    torch.manual_seed(0)
    return resnet18(num_classes=10).eval()


def test_a_resnets_removable_units_are_its_blocks_with_an_identity_shortcut() -> None:
    # layer2.0, layer3.0 and layer4.0 halve the map and widen it: a downsample shortcut
    units = removable_units(_resnet(), torch.zeros(1, *RESNET_INPUT))
    assert units == list(BLOCK_WIDTH)


@pytest.mark.parametrize("dropped", [("layer1.0",), ("layer2.1", "layer4.1"),
                                     tuple(BLOCK_WIDTH)])
def test_dropped_blocks_take_away_their_params_and_macs(dropped: tuple[str, ...]) -> None:
    model, before = _resnet(), _resnet()
    drop_units(model, dropped)
    assert all(isinstance(model.get_submodule(n), nn.Identity) for n in dropped)
    assert model(torch.randn(2, *RESNET_INPUT)).shape == (2, 10)
    hand = sum(18 * c * c + 4 * c for c in (BLOCK_WIDTH[n] for n in dropped))
    assert _params(model) == _params(before) - hand
    assert macs(model, RESNET_INPUT) == macs(before, RESNET_INPUT) - BLOCK_MACS * len(dropped)


def _stack() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),                       # 0: widens: kept
        nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),    # 2: removable
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),                       # 5: removable
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(8, 10), nn.ReLU(), nn.Linear(10, 10), nn.ReLU(),      # 11: removable
        nn.Linear(10, 10),                                              # 13: the head
    ).eval()


def test_a_stacks_shape_keeping_layers_are_found_but_not_its_first_conv_or_head() -> None:
    x = torch.zeros(1, 3, 6, 6)
    assert removable_units(_stack(), x) == ["2", "5", "11"]  # BN and ReLU hold no layer
    assert removable_units(_stack(), x, named=["3"]) == ["2", "3", "5", "11"]
    with pytest.raises(ValueError, match=r"^drop_units: '13' cannot be removed from Sequential: "
                                         r"it is the model's head"):
        removable_units(_stack(), x, named=["13"])
    model = _stack()
    drop_units(model, ["2", "5", "11"])
    assert model(torch.randn(2, 3, 6, 6)).shape == (2, 10)
    assert _params(model) == _params(_stack()) - 2 * (8 * 8 * 9 + 8) - (10 * 10 + 10)


def test_a_unit_that_does_not_exist_is_named() -> None:
    with pytest.raises(ValueError, match=r"^drop_units: 'layer9\.0' is not a module of ResNet; "
                                         r".*'layer1\.0'"):
        removable_units(_resnet(), torch.zeros(1, *RESNET_INPUT), named=["layer9.0"])
    with pytest.raises(ValueError, match=r"^drop_units: 'nope' is not a module of Sequential; .*"
                                         r"removable_units"):
        drop_units(_stack(), ["nope"])


class _ReadsItsFirstBlock(nn.Module):
    """A ModuleList of shape-keeping blocks whose forward also reads ``blocks[0].weight``."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Linear(4, 6)
        self.blocks = nn.ModuleList(nn.Linear(6, 6) for _ in range(3))
        self.head = nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x) * self.blocks[0].weight.mean()
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def test_units_whose_removal_breaks_the_forward_are_left_out() -> None:
    model, x = _ReadsItsFirstBlock(), torch.zeros(1, 4)
    assert removable_units(model, x) == ["blocks.1", "blocks.2"]
    with pytest.raises(ValueError, match=r"^drop_units: 'blocks\.0' cannot be removed .*: the "
                                         r"model then fails \(AttributeError"):
        removable_units(model, x, named=["blocks.0"])
    drop_units(model, ["blocks.2", "blocks.1"])  # a ModuleList item: Identity in its place
    assert [type(b) for b in model.blocks] == [nn.Linear, nn.Identity, nn.Identity]
    assert model(torch.randn(3, 4)).shape == (3, 2)


def test_a_unit_inside_a_dropped_one_is_skipped() -> None:
    model = _resnet()
    drop_units(model, ["layer1.0.conv1", "layer1.0"])
    assert isinstance(model.get_submodule("layer1.0"), nn.Identity)


def test_the_step_reads_a_list_of_names_that_round_trips_through_json() -> None:
    c = CompressSpec(steps={"drop_units": ["layer1.0", "layer2.1"]})
    back = spec_from_dict(CompressSpec, json.loads(json.dumps(spec_to_dict(c))))
    assert back == c and back.steps["drop_units"] == ["layer1.0", "layer2.1"]
    step = DepthTrimming()
    assert step.active(c) and not step.active(CompressSpec(steps={"drop_units": []}))
    with pytest.raises(ValueError, match=r"^steps\.drop_units: 'layer1\.0' is not a list"):
        step.active(CompressSpec(steps={"drop_units": "layer1.0"}))


SHAPE = (1, 8, 8)


def _cnn() -> nn.Module:
    space = create_space("cnn", {"max_depth": 2, "widths": [8]})
    torch.manual_seed(0)
    return space.build(space.spec_type(widths=(8, 8)), SHAPE, 10).eval()


def test_other_steps_per_layer_knobs_skip_the_layers_of_dropped_units() -> None:
    # layers as built: 0.0.0 (conv 1->8), 0.1.0 (conv 8->8, dropped), 3 (the head)
    assert removable_units(_cnn(), torch.zeros(1, *SHAPE)) == ["0.1.0"]
    drop = {"drop_units": ["0.1.0"]}
    c = CompressSpec(prune_ratio=0.5, method="structured", layer_ratios=(0.5, 0.5), steps=drop)
    model = _cnn()
    apply_compression(model, c, SHAPE)
    assert model.get_submodule("0.0.0").out_channels == 4
    assert model(torch.randn(2, *SHAPE)).shape == (2, 10)
    only_dropped = CompressSpec(prune_ratio=0.5, method="structured", layer_ratios=(0.0, 0.5),
                                steps=drop)  # the only pruned layer is gone: nothing pruned
    model = _cnn()
    apply_compression(model, only_dropped, SHAPE)
    assert model.get_submodule("0.0.0").out_channels == 8
    bits = CompressSpec(bits=8, layer_bits=(4, 2, 8), steps=drop)
    model = _cnn()
    apply_compression(model, bits, SHAPE)
    assert bits_by_layer(model, bits, resolve_targets(_cnn(), bits)) == {"0.0.0": 4, "3": 8}


def test_a_candidate_that_drops_a_unit_trains_and_counts_what_is_left(
        digits: TensorData) -> None:
    space = create_space("cnn", {"max_depth": 2, "widths": [16]})
    drop = CompressSpec(steps={"drop_units": ["0.1.0"]})
    spec = space.spec_type(widths=(16, 16), compress=drop)
    budget = Budget(epochs=4, finetune_epochs=2, qat_epochs=0, latency_reps=0,
                    skip_finetune=False)
    measured, model = evaluate(space, spec, digits, budget, seed=0)
    built = space.build(spec, digits.input_shape, 10)
    conv = 16 * 16 * 9  # 0.1.0: conv 16->16, 3×3, no bias (batch norm), on a 4×4 map
    assert isinstance(model.get_submodule("0.1.0"), nn.Identity)
    assert _params(model) == _params(built) - conv
    assert measured.params == sum(int(torch.count_nonzero(p)) for p in model.parameters())
    assert measured.macs == macs(built, digits.input_shape) - 16 * 4 * 4 * 16 * 9
    assert measured.epochs_run == 6  # the "prune" phase fine-tunes what is left
    unrepaired, _ = evaluate(space, spec, digits, replace(budget, finetune_epochs=0), seed=0)
    assert measured.val_accuracy > unrepaired.val_accuracy + 0.05


# A space whose candidates all drop block 1's conv: what a compress-mode space writes.
DROPPING = """
import dataclasses
from spaces.cnn import CNNSpace
from spaces.space import register_space

@register_space("dropcnn")
class DropCNN(CNNSpace):
    def sample(self, trial):
        spec = super().sample(trial)
        steps = {**spec.compress.steps, "drop_units": ["0.1.0"]}
        return dataclasses.replace(spec, compress=dataclasses.replace(spec.compress, steps=steps))
"""

RELOAD = """
import json, sys
from torch import nn
import dropping  # registers the space, as a user's own code would
from objectives.data import load_dataset
from objectives.metrics import accuracy
from search.results.model_folder import dataset_of, load
folder = sys.argv[1]
model = load(folder)
print(json.dumps({"accuracy": accuracy(model, load_dataset(dataset_of(folder)).test),
                  "dropped": isinstance(model.get_submodule("0.1.0"), nn.Identity)}))
"""


def test_a_study_that_drops_units_exports_and_reloads(tmp_path: Path) -> None:
    (tmp_path / "dropping.py").write_text(DROPPING)
    toml = tiny_toml("depth", n_trials=2, extra='imports = ["dropping.py"]').replace(
        'name = "cnn"\nmax_depth = 2\nwidths = [4, 8]',
        'name = "dropcnn"\nmin_depth = 2\nmax_depth = 2\nwidths = [8]')
    assert 'name = "dropcnn"' in toml
    (tmp_path / "s.toml").write_text(toml)
    res = cli("run", "s.toml", "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    study = optuna.load_study(study_name="depth", storage=f"sqlite:///{tmp_path}/runs/frontier.db")
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert done
    best = max(done, key=lambda t: t.user_attrs["metrics"]["test_accuracy"])
    assert json.loads(best.user_attrs["spec"])["compress"]["steps"]["drop_units"] == ["0.1.0"]
    res = cli("export", "--study", "depth", "--trial", str(best.number), "--out", "m",
              cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    got = subprocess.run([sys.executable, "-c", RELOAD, str(tmp_path / "m")], cwd=tmp_path,
                         env=ENV, capture_output=True, text=True, timeout=300)
    assert got.returncode == 0, got.stderr
    reloaded = json.loads(got.stdout.strip().splitlines()[-1])
    assert reloaded["dropped"]
    assert reloaded["accuracy"] == pytest.approx(best.user_attrs["metrics"]["test_accuracy"],
                                                 abs=1e-6)
