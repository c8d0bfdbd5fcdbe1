import optuna
import pytest

from spaces import create_space


def _params(options: dict[str, object], n: int = 12) -> list[tuple[dict[str, object], object]]:
    space = create_space("cnn", options)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    out = []
    for _ in range(n):
        trial = study.ask()
        spec = space.sample(trial)
        out.append((dict(trial.params), spec))
        study.tell(trial, 0.0)
    return out


def test_per_layer_params_exist_only_when_used() -> None:
    opts = {"min_depth": 1, "max_depth": 3, "per_layer_prune": True, "per_layer_bits": True,
            "prune_method": ["unstructured", "structured"], "bits": [4, 8, 32]}
    for params, spec in _params(opts):
        assert "prune_ratio" not in params and "bits" not in params
        for i in range(4):
            assert (f"prune_ratio_{i}" in params) == (i < spec.depth)
            assert (f"bits_{i}" in params) == (i < spec.depth + 1)
        assert len(spec.compress.layer_ratios) == spec.depth
        assert len(spec.compress.layer_bits) == spec.depth + 1
        assert spec.compress.method == params["prune_method"]


def test_defaults_keep_distillation_and_activation_quant_off() -> None:
    for params, spec in _params({}, n=4):
        assert {"kd_weight", "kd_temperature", "act_bits", "prune_method"}.isdisjoint(params)
        assert {"lr", "weight_decay", "schedule"} <= set(params)
        assert spec.train.kd_weight == 0.0 and spec.compress.act_bits == 32
        assert spec.compress.layer_bits == () and spec.compress.layer_ratios == ()


def test_kd_temperature_is_a_parameter_only_when_distilling() -> None:
    for params, spec in _params({"kd_weight": [0.0, 0.5], "kd_temperature": [2.0, 4.0]}):
        assert ("kd_temperature" in params) == (spec.train.kd_weight > 0)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"prune_method": ["sideways"]}, "space.prune_method"),
        ({"act_bits": [1]}, "space.act_bits"),
        ({"kd_weight": 1.5}, "space.kd_weight"),
        ({"kd_temperature": 0.0}, "space.kd_temperature"),
        ({"per_layer_bits": "yes"}, "space.per_layer_bits"),
        ({"per_layer_prune": 1}, "space.per_layer_prune"),
        ({"weight_decay": -1.0}, "space.weight_decay"),
    ],
)
def test_bad_knobs_name_the_field(options: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}:"):
        create_space("cnn", options)
