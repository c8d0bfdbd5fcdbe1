from pathlib import Path

import pytest

from search.config import StudyConfig
from search.errors import FrontierError
from search.storage import normalize, open_storage, redact
from search.study import create_or_load, load_existing


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
