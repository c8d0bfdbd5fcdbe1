"""Low-rank factorisation (objectives.compress.lowrank): truncated SVD of Linear and Conv layers,
the rank_ratio knob, and the step end to end in a study whose export reloads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import torch
from torch import nn

from objectives.compress.lowrank import factorise, rank_of
from objectives.compress.plan import apply_compression
from objectives.data import TensorData
from objectives.metrics import macs
from objectives.pipeline import Budget, evaluate
from spaces import create_space
from spaces.spec import CompressSpec
from tests.conftest import ENV, tiny_toml
from tests.search.test_cli import cli


def test_a_linear_layer_becomes_its_best_rank_r_approximation() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(12, 6)
    pair = factorise(layer, 3)
    first, second = pair[0], pair[1]
    assert isinstance(first, nn.Linear) and isinstance(second, nn.Linear)
    assert (first.in_features, first.out_features, first.bias) == (12, 3, None)
    assert (second.in_features, second.out_features) == (3, 6)
    u, s, vh = torch.linalg.svd(layer.weight.detach(), full_matrices=False)
    best = u[:, :3] @ torch.diag(s[:3]) @ vh[:3]
    assert torch.allclose(second.weight @ first.weight, best, atol=1e-5)
    x = torch.randn(5, 12)
    full = factorise(layer, 6)  # full rank: the same function
    assert torch.allclose(full(x), layer(x), atol=1e-5)


@pytest.mark.parametrize("conv", [nn.Conv2d(4, 8, 3, stride=2, padding=1),
                                  nn.Conv1d(4, 8, 5, padding=2, dilation=1)])
def test_a_conv_becomes_a_thin_conv_then_a_1x1(conv: nn.Conv1d | nn.Conv2d) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 4, *(9,) * (conv.weight.dim() - 2))
    fan_in = 4 * int(torch.tensor(conv.kernel_size).prod())
    full = factorise(conv, 8)  # rank min(8, fan_in) = 8: exact
    assert torch.allclose(full(x), conv(x), atol=1e-5)
    pair = factorise(conv, 2)
    assert pair[0].weight.shape == (2, 4, *conv.kernel_size)
    assert pair[1].weight.shape[:2] == (8, 2)
    assert pair[1].kernel_size == (1,) * len(conv.kernel_size)
    assert sum(p.numel() for p in pair.parameters()) == 2 * fan_in + 8 * 2 + 8  # + bias
    assert pair(x).shape == conv(x).shape


def test_only_layers_that_shrink_are_factorised() -> None:
    assert rank_of(nn.Linear(64, 64), 0.25) == 16  # 16 · 128 < 64 · 64
    assert rank_of(nn.Linear(64, 64), 0.5) is None  # 32 · 128 = 64 · 64: no saving
    assert rank_of(nn.Linear(64, 10), 0.01) == 1  # at least rank 1
    assert rank_of(nn.Conv2d(8, 8, 3, groups=8), 0.1) is None  # depthwise: kept


def test_the_knob_is_sampled_into_the_spec_and_checked() -> None:
    space = create_space("cnn", {"max_depth": 1, "widths": [8], "rank_ratio": [0.25, 1.0]})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    specs = []
    for _ in range(12):
        trial = study.ask()
        specs.append(space.sample(trial))
        assert "rank_ratio" in trial.params
    assert {s.compress.steps.get("rank_ratio", 1.0) for s in specs} == {0.25, 1.0}
    assert {json.dumps(s.compress.steps) for s in specs} == {"{}", '{"rank_ratio": 0.25}'}
    plain = create_space("cnn", {"max_depth": 1, "widths": [8]})
    trial = study.ask()
    assert plain.sample(trial).compress.steps == {} and "rank_ratio" not in trial.params
    with pytest.raises(ValueError, match=r"^space\.rank_ratio: 1\.5 is out of range; use values "
                                         r"in \(0, 1\]"):
        create_space("cnn", {"rank_ratio": [0.5, 1.5]})


def test_a_factorised_candidate_trains_and_counts_its_factors(digits: TensorData) -> None:
    space = create_space("cnn", {"max_depth": 2, "widths": [16]})
    spec = space.spec_type(widths=(16, 16), compress=CompressSpec(steps={"rank_ratio": 0.25}))
    budget = Budget(epochs=2, finetune_epochs=1, qat_epochs=0, latency_reps=0,
                    skip_finetune=False)
    measured, model = evaluate(space, spec, digits, budget, seed=0)
    # conv 1->16 (fan-in 9) stays whole: rank 2·(9+16) = 50 < 144 factorises; the rest by hand
    expect = space.build(spec, digits.input_shape, 10)
    apply_compression(expect, spec.compress, digits.input_shape)
    assert measured.params == sum(int(torch.count_nonzero(p)) for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == \
        sum(p.numel() for p in expect.parameters())
    assert measured.macs == macs(expect, digits.input_shape)
    assert measured.epochs_run == 3 and measured.pruned_fraction > 0.5
    assert measured.val_accuracy > 0.3


RELOAD = """
import json, sys
from objectives.data import load_dataset
from objectives.metrics import accuracy
from search.results.model_folder import dataset_of, load
folder = sys.argv[1]
print(json.dumps({"accuracy": accuracy(load(folder), load_dataset(dataset_of(folder)).test)}))
"""


def test_rank_ratio_searched_in_a_study_exports_and_reloads(tmp_path: Path) -> None:
    toml = tiny_toml("lr", n_trials=4).replace(
        'bits = [4, 32]', 'bits = [4, 32]\nrank_ratio = [0.25, 0.5]\nper_layer_bits = true')
    (tmp_path / "s.toml").write_text(toml)
    res = cli("run", "s.toml", "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    study = optuna.load_study(study_name="lr", storage=f"sqlite:///{tmp_path}/runs/frontier.db")
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert done and all("rank_ratio" in t.params for t in done)
    best = max(done, key=lambda t: t.user_attrs["metrics"]["test_accuracy"])
    assert json.loads(best.user_attrs["spec"])["compress"]["steps"] == \
        {"rank_ratio": best.params["rank_ratio"]}
    res = cli("export", "--study", "lr", "--trial", str(best.number), "--out", "m", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    got = subprocess.run([sys.executable, "-c", RELOAD, str(tmp_path / "m")], cwd=tmp_path,
                         env=ENV, capture_output=True, text=True, timeout=300)
    assert got.returncode == 0, got.stderr
    stored = best.user_attrs["metrics"]["test_accuracy"]
    assert json.loads(got.stdout.strip().splitlines()[-1])["accuracy"] == \
        pytest.approx(stored, abs=1e-6)
