from pathlib import Path

import optuna
import pytest

from search.config import SamplerConfig, StudyConfig
from search.errors import FrontierError
from search.storage.studies import create_or_load, load_existing, session_seed
from search.storage.urls import normalize, open_storage, redact


def test_create_then_load_with_stored_config(workdir: Path) -> None:
    cfg = StudyConfig(name="s1", n_trials=2)
    study = create_or_load(cfg)
    assert Path("runs/frontier.db").is_file()
    again, stored = load_existing("sqlite:///runs/frontier.db", "s1")
    assert again.study_name == study.study_name and stored == cfg


def test_changed_objectives_are_refused(workdir: Path) -> None:
    create_or_load(StudyConfig(name="s2"))
    with pytest.raises(FrontierError, match=r"study.objectives: study 's2'.*created with"):
        create_or_load(StudyConfig(name="s2", objectives=("val_accuracy", "size_bytes")))


def test_changed_space_is_refused(workdir: Path) -> None:
    from search.config import SpaceConfig

    create_or_load(StudyConfig(name="s3"))
    with pytest.raises(FrontierError, match=r"^space\.max_depth:"):
        create_or_load(StudyConfig(name="s3", space=SpaceConfig("cnn", {"max_depth": 2})))


def test_missing_study_and_missing_file_create_nothing(workdir: Path) -> None:
    with pytest.raises(FrontierError, match="does not exist"):
        load_existing("sqlite:///runs/none.db", "x")
    assert not Path("runs/none.db").exists()
    create_or_load(StudyConfig(name="here"))
    with pytest.raises(FrontierError, match="no study named 'gone'"):
        load_existing("sqlite:///runs/frontier.db", "gone")


def test_storage_urls_and_redaction(workdir: Path) -> None:
    assert normalize("x.db") == "sqlite:///x.db"
    assert normalize("w/j.log") == "journal:///w/j.log"
    assert redact("postgresql://bob:s3cret@db:5432/f") == "postgresql://bob:***@db:5432/f"
    open_storage("j.log")
    assert Path("j.log").exists()
    with pytest.raises(FrontierError) as err:
        open_storage("postgresql://bob:s3cret@127.0.0.1:1/none")
    assert "s3cret" not in str(err.value) and "cannot open" in str(err.value)
    with pytest.raises(FrontierError, match="not a storage URL"):
        open_storage("ftp://x")


def _draws(study: optuna.Study) -> list[tuple[tuple[str, object], ...]]:
    return [tuple(sorted(t.params.items())) for t in study.trials]


def test_a_resumed_study_does_not_draw_its_candidates_again(workdir: Path, tiny_budget) -> None:
    # A process that continues a seeded study must not restart its sampler at the seed: it
    # would draw the candidates of the first session again (3 of these 6 trials did).
    from search.run import run_study

    cfg = StudyConfig(name="again", n_trials=3, seed=0, budget=tiny_budget,
                      sampler=SamplerConfig(seed=0, population_size=6))
    run_study(create_or_load(cfg), cfg, progress=False)
    study, stored = load_existing("runs/frontier.db", "again")
    run_study(study, stored, n_trials=6, progress=False)
    draws = _draws(study)
    assert len(draws) == 6 and len(set(draws)) == 6


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_a_fresh_study_samples_with_its_seed_and_workers_apart(workdir: Path) -> None:
    # One process on a fresh study keeps the configured seed (reproducible runs); workers
    # joining a study at the same moment each get their own.
    assert session_seed(7, 0) == 7 and session_seed(None, 5, "h:1") is None
    assert len({session_seed(7, 0, "h:1"), session_seed(7, 0, "h:2"), session_seed(7, 3)}) == 3
    cfg = StudyConfig(name="apart", sampler=SamplerConfig(seed=3, population_size=4))
    create_or_load(cfg)
    first = [create_or_load(cfg, worker=w).ask().suggest_float("x", 0, 1) for w in "ab"]
    assert first[0] != first[1]
    twins = [StudyConfig(name=n, sampler=SamplerConfig(seed=3, population_size=4)) for n in "cd"]
    draws = [create_or_load(c).ask().suggest_float("x", 0, 1) for c in twins]
    assert draws[0] == draws[1]
