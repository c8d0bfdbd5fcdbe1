"""A one-shot study end to end: the supernet trained once and stored, candidates estimated on
it and the best enqueued, the trials fine-tuned from inherited weights with their estimates
stored next to their real metrics, and a resume that reuses the supernet."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from search.cli import main
from search.oneshot.explore import ESTIMATE_ATTR, EXPLORE_SUFFIX, choose
from search.oneshot.store import SUPERNET_ATTR

TOML = """
[study]
name = "os"
n_trials = 2
seed = 0
mode = "one-shot"
objectives = ["val_accuracy", "size_bytes"]

[budget]
epochs = 20
finetune_epochs = 1
qat_epochs = 1
latency_reps = 1

[space]
name = "cnn"
max_depth = 2
widths = [4, 8]
bits = [4, 32]
prune_ratio = { low = 0.0, high = 0.8 }
prune_method = ["unstructured", "structured"]

[oneshot]
epochs = 2
candidates = 12
population_size = 4
calibration = 64
finetune_epochs = 1
"""


def _study(name: str = "os") -> optuna.Study:
    return optuna.load_study(study_name=name, storage="sqlite:///runs/frontier.db")


def test_a_one_shot_study_runs_and_resumes_without_retraining(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "os.toml").write_text(TOML)
    assert main(["run", "os.toml"]) == 0
    err = capsys.readouterr().err
    assert "oneshot: training the supernet for 2 epochs" in err
    assert "12 candidates estimated" in err
    study = _study()
    supernet = study.user_attrs[SUPERNET_ATTR]
    assert len(supernet["losses"]) == 2
    explored = _study("os" + EXPLORE_SUFFIX).get_trials(states=(TrialState.COMPLETE,))
    assert len(explored) == 12
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == 2
    chosen = choose(explored, study.directions, 2)
    assert [t.params for t in done] == [t.params for t in chosen]  # the best estimates
    for t in done:  # the real metrics of a short fine-tune, the estimate next to them
        estimate = t.user_attrs[ESTIMATE_ATTR]
        assert set(estimate["objectives"]) == {"val_accuracy", "size_bytes"}
        assert t.user_attrs["metrics"]["epochs_run"] >= 1
        assert t.user_attrs["metrics"]["size_bytes"] == pytest.approx(
            estimate["size_bytes"], rel=0.5)
    assert main(["run", "os.toml", "--n-trials", "3"]) == 0  # resume: one trial more
    err = capsys.readouterr().err
    assert "oneshot: supernet loaded" in err and "training the supernet" not in err
    assert "estimated" not in err  # the exploration is not run again
    study = _study()
    assert study.user_attrs[SUPERNET_ATTR] == supernet
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 3
    assert main(["export", "--study", "os", "--trial", str(done[0].number), "--out", "m"]) == 0


def test_choose_takes_fronts_in_order_and_skips_duplicates() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    points = [(0.9, 10.0, 1), (0.8, 5.0, 2), (0.85, 20.0, 3), (0.9, 10.0, 1), (0.5, 50.0, 4)]
    for acc, size, x in points:
        study.add_trial(optuna.trial.create_trial(
            params={"x": x}, distributions={"x": optuna.distributions.IntDistribution(0, 9)},
            values=[acc, size]))
    picked = choose(study.trials, study.directions, 3)
    assert [t.params["x"] for t in picked] == [1, 2, 3]  # front (0.9, 0.8), then 0.85
    assert len(choose(study.trials, study.directions, 10)) == 4  # distinct parameters


@pytest.mark.parametrize(("line", "message"), [
    ('mode = "one-shot"\n', None),
    ('mode = "zero-shot"\n', r"study\.mode: 'zero-shot' is not one of standard, one-shot"),
])
def test_bad_one_shot_settings_are_one_line(workdir: Path, capsys: pytest.CaptureFixture[str],
                                            line: str, message: str | None) -> None:
    text = TOML.replace('mode = "one-shot"\n', line)
    if message is None:  # a space the supernet cannot hold
        text = text.replace('name = "cnn"', 'name = "mlp"')
        message = r"study\.mode: one-shot mode supports the cnn space"
    (workdir / "bad.toml").write_text(text)
    assert main(["run", "bad.toml"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert re.search(message, err), err
    assert not (workdir / "runs").exists()
