"""A one-shot study end to end: the supernet trained once and stored, candidates estimated on
it and the best enqueued, the trials fine-tuned from inherited weights with their estimates
stored next to their real metrics, and a resume that reuses the supernet."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState

from search.cli import main
from search.config import load_config
from search.keys import ESTIMATE_ATTR, SUPERNET_ATTR
from search.oneshot.explore import EXPLORE_SUFFIX, choose, hv_order
from search.oneshot.store import load_or_train
from search.run import prepare

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
    chosen = hv_order(choose(explored, study.directions, 2))
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


def test_the_supernet_depends_on_the_study_seed_only(workdir: Path) -> None:
    (workdir / "os.toml").write_text(TOML)
    cfg = load_config(workdir / "os.toml")
    data, space = prepare(cfg)

    def supernet(draws: int) -> dict[str, torch.Tensor]:
        torch.rand(draws)  # whatever ran before in the process drew from torch's RNG
        study = optuna.create_study(directions=["maximize", "minimize"])
        return load_or_train(study, cfg, space, data, lambda _: None).state_dict()

    first, second = supernet(1), supernet(1000)
    assert all(torch.equal(first[k], second[k]) for k in first)


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


def test_hv_order_fine_tunes_first_what_grows_the_hypervolume_most() -> None:
    # (val accuracy, bytes): hypervolume in (1 - accuracy, log10 bits) against (0.9, 6.5)
    estimates = {"A": (0.98, 10_000), "B": (0.90, 200), "C": (0.60, 130),
                 "D": (0.85, 20_000),  # dominated by A: adds nothing
                 "E": (0.05, 100)}  # below chance (1 - 0.95 > 0.9): outside the box
    trials = []
    for number, (name, (acc, size)) in enumerate(estimates.items()):
        t = optuna.trial.create_trial(
            params={"x": number}, distributions={"x": optuna.distributions.IntDistribution(0, 9)},
            values=[acc, size], user_attrs={"metrics": {"val_accuracy": acc, "size_bytes": size},
                                            "name": name})
        t.number = number
        trials.append(t)
    # B alone covers the most (0.8 x 3.3); then A adds 0.08 x 1.6 = 0.128 and C 0.5 x 0.18
    assert [t.user_attrs["name"] for t in hv_order(trials)] == ["B", "A", "C", "D", "E"]


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
