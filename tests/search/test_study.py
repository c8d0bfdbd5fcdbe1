"""``search.Study``: from TOML and from Python, optimize to a target (resumable, never over),
the front, the outputs; ``StudyConfig.to_toml``; spaces built from keyword arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState
from torch import nn

from search import (
    CNNSpace,
    DataConfig,
    FrontierError,
    MLPSpace,
    MobileNetSpace,
    ResNetSpace,
    SamplerConfig,
    SpaceConfig,
    Study,
    StudyConfig,
    create_space,
    load_config,
)
from search.results.pareto import front_trials
from search.storage.studies import FINISHED
from spaces import ModelSpace
from tests.conftest import TINY, tiny_toml

STUDIES = Path(__file__).resolve().parents[2] / "studies"
QUIET = {"log": "quiet"}


def build(trial: optuna.Trial, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """A tiny define-by-run builder."""
    hidden = trial.suggest_categorical("hidden", [4, 8])
    return nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(),
                         nn.Linear(hidden, num_classes))


def load() -> tuple[Any, Any]:
    """A user's data: the digits as arrays."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images[:, None] / 16).astype("float32"), d.target


def _finished(study: Study) -> int:
    return len(study.optuna.get_trials(states=FINISHED))


def test_a_toml_study_optimizes_resumes_and_never_overshoots(workdir: Path) -> None:
    (workdir / "s.toml").write_text(tiny_toml("tiny", n_trials=3))
    study = Study.from_toml("s.toml")
    assert study.optimize(**QUIET) == 3 and _finished(study) == 3
    again = Study.from_toml("s.toml")  # another process would do the same
    assert again.optimize(**QUIET) == 3 and len(again.optuna.trials) == 3  # at its target
    assert again.optimize(5, **QUIET) == 5 and _finished(again) == 5  # a higher target
    assert len(again.optuna.get_trials(states=(TrialState.RUNNING,))) == 0
    front = again.front()
    assert isinstance(front, pd.DataFrame) and not front.empty
    assert list(front["trial"]) == [t.number for t in front_trials(again.optuna)]
    assert {"val_accuracy", "params", "spec"} <= set(front.columns)
    assert len(again.trials()) == 5
    paths = again.write_outputs()  # the config's out_dir: runs/tiny
    assert {p.name for p in paths.values()} == {"pareto.csv", "pareto.json", "trials.csv",
                                                "pareto.html"}
    assert all(p.is_file() and p.resolve().parent == (workdir / "runs" / "tiny").resolve()
               for p in paths.values())
    other = again.write_outputs(workdir / "elsewhere")
    assert all(p.parent == workdir / "elsewhere" for p in other.values())


def test_a_python_study_with_keywords_then_loaded_and_exported(workdir: Path) -> None:
    storage = f"sqlite:///{workdir / 's.db'}"
    study = Study("py", space=CNNSpace(max_depth=2, widths=[4, 8], bits=[4, 32]), data="digits",
                  budget=TINY, n_trials=2, sampler=SamplerConfig(population_size=4),
                  storage=storage)
    assert not (workdir / "s.db").exists()  # nothing written before the study is used
    assert study.config.space == SpaceConfig("cnn", {"max_depth": 2, "widths": [4, 8],
                                                     "bits": [4, 32]})
    assert study.optimize(**QUIET) == 2
    assert isinstance(study.optuna, optuna.Study) and study.optuna.study_name == "py"
    loaded = Study.load("py", storage=storage)
    assert loaded.config.to_dict() == study.config.to_dict() and loaded.storage == storage
    assert list(loaded.front()["trial"]) == list(study.front()["trial"])
    best = loaded.optuna.best_trials[0]
    done = loaded.export(best, workdir / "model")
    assert done.trial == best.number and (workdir / "model" / "spec.json").is_file()


def test_space_and_data_arguments(workdir: Path) -> None:
    assert Study("a", space="mlp").config.space == SpaceConfig("mlp")
    assert Study("a", space=MLPSpace).config.space == SpaceConfig("mlp")
    from_fn = Study("a", space=build, data=load).config
    assert from_fn.space == StudyConfig("a", space=SpaceConfig.builder(build)).space
    assert from_fn.space.options["model"] == f"{Path(__file__).resolve()}:build"
    assert from_fn.dataset.source == f"{Path(__file__).resolve()}:load"
    knobs = Study("a", space=SpaceConfig.builder(build, bits=[4, 8])).config.space
    assert knobs.options["bits"] == [4, 8]
    assert Study("a", data="digits", sampler="tpe").config.sampler.name == "tpe"
    assert Study("a", data=DataConfig(split_seed=3)).config.dataset.split_seed == 3
    with pytest.raises(TypeError, match=r"^data: "):
        Study("a", data=3)
    with pytest.raises(TypeError, match=r"^space: "):
        Study("a", space=3)
    assert not (workdir / "runs").exists()


def test_to_toml_reads_back_to_an_equal_config(workdir: Path) -> None:
    cfg = StudyConfig(
        name="round", n_trials=7, objectives=("val_accuracy", "size_bytes"),
        space=SpaceConfig.builder(build, prune_ratio={"low": 0.0, "high": 0.8},
                                  lr={"low": 1e-3, "high": 3e-2, "log": True}, bits=[4, 8, 32]),
        dataset=DataConfig(source=load),  # type: ignore[arg-type]  # stored as its import string
        budget=TINY, sampler=SamplerConfig("tpe", seed=3, population_size=4))
    text = cfg.to_toml()
    assert f'model = "{Path(__file__).resolve()}:build"' in text
    assert "lr = { low = 0.001, high = 0.03, log = true }" in text
    for unset in ("output_dir", "storage", "data_dir", "image_size", "[constraints]"):
        assert unset not in text  # None fields (and a section of them) are left out
    (workdir / "round.toml").write_text(text)
    assert load_config(workdir / "round.toml") == cfg
    unseeded = StudyConfig(name="u", sampler=SamplerConfig(seed=None))
    with pytest.raises(FrontierError, match=r"^sampler\.seed: None has no TOML form"):
        unseeded.to_toml()
    with_storage = StudyConfig(name="s", storage="sqlite:///x.db", output_dir="out")
    (workdir / "s.toml").write_text(with_storage.to_toml())
    assert load_config(workdir / "s.toml") == with_storage
    shipped = load_config(STUDIES / "digits_cnn.toml")
    (workdir / "digits.toml").write_text(shipped.to_toml())
    assert load_config(workdir / "digits.toml") == shipped


OPTIONS: dict[type, dict[str, Any]] = {
    CNNSpace: {"max_depth": 3, "widths": [8, 16], "bits": [4, 8], "lr": 0.01},
    ResNetSpace: {"max_stages": 2, "blocks": [1], "strides": [1, [1, 2]], "stem_stride": 2},
    MobileNetSpace: {"min_stages": 1, "max_stages": 2, "width_multiplier": {"low": 0.5,
                                                                            "high": 1.0}},
    MLPSpace: {"min_depth": 0, "widths": [16], "per_layer_prune": True},
}


@pytest.mark.parametrize("kind", list(OPTIONS), ids=lambda k: k.__name__)
def test_spaces_take_keywords_and_keep_their_options(kind: type) -> None:
    options = OPTIONS[kind]
    by_keyword, by_mapping = kind(**options), create_space(kind.name, options)
    assert vars(by_keyword) == vars(by_mapping) and by_keyword.options == options
    first, *rest = options
    mixed = kind({first: options[first]}, **{k: options[k] for k in rest})
    assert vars(mixed) == vars(by_keyword)
    assert SpaceConfig(by_keyword.name, by_keyword.options) == SpaceConfig(kind.name, options)


def test_space_options_are_plain_data() -> None:
    space = CNNSpace(widths=(8, 16), max_depth=2)  # tuples, as the stored study gives back lists
    assert space.options == {"widths": [8, 16], "max_depth": 2}
    with pytest.raises(ValueError, match=r"^space\.colour:"):
        CNNSpace(colour="red")


def test_a_model_space_takes_the_builder_itself(workdir: Path) -> None:
    space = ModelSpace(model=build, bits=[4, 8])
    ref = f"{Path(__file__).resolve()}:build"
    assert space.options == {"model": ref, "bits": [4, 8]} and space.builder is build
    assert vars(create_space("model", space.options)) == vars(space)
    assert Study("m", space=space).config.space == SpaceConfig("model", space.options)
