import json

import optuna
import pytest
import torch

from spaces import CNNSpec, CompressSpec, create_space, load_spec, spec_json


def test_conditional_width_params_exist_only_when_used() -> None:
    space = create_space("cnn", {"min_depth": 1, "max_depth": 4})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen_depths = set()
    for _ in range(40):
        trial = study.ask()
        spec = space.sample(trial)
        seen_depths.add(spec.depth)
        assert trial.params["depth"] == spec.depth
        for i in range(4):
            assert (f"width_{i}" in trial.params) == (i < spec.depth)
        study.tell(trial, 0.0)
    assert seen_depths == {1, 2, 3, 4}


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("widths", [(4,), (8, 16), (4, 8, 16, 32)])
def test_build_runs_on_any_input(shape: tuple[int, int, int], widths: tuple[int, ...]) -> None:
    space = create_space("cnn")
    for bn in (True, False):
        model = space.build(CNNSpec(widths, kernel=3, batch_norm=bn), shape, 7)
        assert model(torch.zeros(2, *shape)).shape == (2, 7)
        convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
        assert [c.out_channels for c in convs] == list(widths)


def test_spec_round_trips_json() -> None:
    space = create_space("cnn")
    spec = CNNSpec((4, 8), kernel=5, batch_norm=False, compress=CompressSpec(0.5, 3))
    name, back = load_spec(spec_json(space, spec))
    assert name == "cnn" and back == spec
    assert isinstance(back.widths, tuple)
    compress = json.loads(spec_json(space, spec))["compress"]
    assert (compress["prune_ratio"], compress["bits"]) == (0.5, 3)
    old = json.loads(spec_json(space, spec))
    old["compress"] = {"prune_ratio": 0.5, "bits": 3}  # a Spec stored before per-layer knobs
    assert load_spec(json.dumps(old))[1] == spec


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"widths": []}, "space.widths"),
        ({"max_depth": 0}, "space.max_depth"),
        ({"bits": [1, 4]}, "space.bits"),
        ({"prune_ratio": 1.0}, "space.prune_ratio"),
        ({"kernels": [2]}, "space.kernels"),
        ({"colour": "red"}, "space.colour"),
        ({"min_depth": 3, "max_depth": 2}, "space.min_depth"),
        ({"schedule": ["warp"]}, "space.schedule"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}:"):
        create_space("cnn", options)


def test_unknown_space_lists_known_ones() -> None:
    with pytest.raises(ValueError, match=r"space.name: unknown space 'nope'.*'cnn'"):
        create_space("nope")
