from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from search.config import StudyConfig
from search.errors import FrontierError
from search.run import run_study
from search.storage.studies import count_finished, create_or_load
from tests.conftest import TINY


def _cfg(name: str, n: int) -> StudyConfig:
    from search.config import SamplerConfig, SpaceConfig

    return StudyConfig(name=name, n_trials=n, budget=TINY,
                       sampler=SamplerConfig(population_size=4),
                       space=SpaceConfig("cnn", {"max_depth": 2, "widths": [4, 8]}))


def test_n_trials_is_a_target_not_an_increment(workdir: Path) -> None:
    cfg = _cfg("target", 3)
    study = create_or_load(cfg)
    assert run_study(study, cfg, progress=False) == 3
    assert run_study(study, cfg, progress=False) == 3  # nothing more to do
    assert run_study(study, cfg, n_trials=5, progress=False) == 5
    assert len(study.trials) == 5
    for t in study.trials:
        assert t.state == TrialState.COMPLETE
        assert {"spec", "metrics"} <= set(t.user_attrs)
        assert t.values[0] == t.user_attrs["metrics"]["val_accuracy"]
        assert t.values[1] == t.user_attrs["metrics"]["params"]


def test_same_seed_same_study(workdir: Path) -> None:
    results = []
    for name in ("a", "b"):
        cfg = _cfg(name, 3)
        study = create_or_load(cfg)
        run_study(study, cfg, progress=False)
        results.append([(t.params, t.values) for t in study.trials])
    assert results[0] == results[1]


def test_failing_trials_are_stored_and_the_study_stops(workdir: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import search.objective as objective

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("out of luck")

    monkeypatch.setattr(objective, "evaluate", broken)
    cfg = _cfg("broken", 3)
    study = create_or_load(cfg)
    with pytest.raises(FrontierError, match=r"3 trials failed in a row; last reason: "
                                            r"RuntimeError: out of luck"):
        run_study(study, cfg, progress=False, max_failures_in_a_row=3)
    assert count_finished(study) == 0
    fails = study.get_trials(states=(optuna.trial.TrialState.FAIL,))
    assert len(fails) == 3
    assert all(t.user_attrs["fail_reason"] == "RuntimeError: out of luck" for t in fails)


def test_complete_trials_keep_their_weights(workdir: Path) -> None:
    import torch

    from search.storage.artifacts import load_state_dict
    from spaces import create_space, load_spec

    cfg = _cfg("weights", 2)
    study = create_or_load(cfg)
    run_study(study, cfg, progress=False)
    for t in study.trials:
        _, spec = load_spec(t.user_attrs["spec"])
        model = create_space("cnn").build(spec, (1, 8, 8), 10)
        state = load_state_dict(t, cfg.out_dir, model.state_dict())  # packed: needs the layout
        model.load_state_dict(state)
        nonzero = sum(int(torch.count_nonzero(p)) for p in model.parameters())
        assert nonzero == t.user_attrs["metrics"]["params"]
