from pathlib import Path

import pytest

from objectives.data import DataConfig
from objectives.transfer import Transfer
from search.config import StudyConfig, load_config
from search.errors import ConfigError, DatasetError, FrontierError
from search.run import check_runnable

STUDIES = Path(__file__).resolve().parents[2] / "studies"


def test_shipped_study_loads_and_round_trips() -> None:
    cfg = load_config(STUDIES / "digits_cnn.toml")
    assert cfg.name == "digits_cnn" and cfg.sampler.name == "nsga2"
    assert cfg.directions == ["maximize", "minimize"]
    assert StudyConfig.from_dict(cfg.to_dict()) == cfg
    assert "storage" not in cfg.to_dict()["study"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[study\nname='x'", "not valid TOML"),
        ("[study]\nn_trials = 3", "study.name is missing"),
        ("[study]\nname='x'\ncolour='red'", "study.colour is not a known option"),
        ("[study]\nname='x'\nn_trials='ten'", "study.n_trials must be an integer"),
        ("[study]\nname='x'\nn_trials=0", "study.n_trials: 0 must be >= 1"),
        ("[study]\nname='x'\n[budget]\nepochs=0", "budget.epochs: 0 must be >= 1"),
        ("[study]\nname='x'\n[budget]\nepochs=1.5", "budget.epochs must be an integer"),
        ("[study]\nname='x'\n[budget]\nfinetune_tolerance=2",
         "budget.finetune_tolerance: 2.0 must be in [0, 1]"),
        ("[study]\nname='x'\n[budget]\nskip_finetune='no'",
         "budget.skip_finetune must be true or false"),
        ("[study]\nname='x'\n[space]\nbits=[1,4]", "space.bits: 1 is out of range"),
        ("[study]\nname='x'\n[space]\nprune_ratio=1.0", "space.prune_ratio: 1.0 is out"),
        ("[study]\nname='x'\n[space]\nwidths=[]", "space.widths: the list of choices is empty"),
        ("[study]\nname='x'\n[space]\nmax_depth=0", "space.max_depth: expected an integer >= 1"),
        ("[study]\nname='x'\n[space]\nname='vit'", "space.name: unknown space 'vit'"),
        ("[study]\nname='x'\n[dataset]\nname='imagenet'", "dataset.name: unknown dataset"),
        ("[study]\nname='x'\n[sampler]\nname='magic'", "sampler.name: unknown sampler"),
        ("[study]\nname='x'\nobjectives=['test_accuracy','params']", "unknown objective"),
        ("[study]\nname='x'\nobjectives=['params']", "at least two objectives"),
        ("[study]\nname='x'\n[extra]\na=1", "unknown section [extra]"),
        ("[study]\nname='bad name!'", "study.name"),
        ("[study]\nname='x'\ndevice='tpu'", "study.device"),
        ("[study]\nname='x'\n[early_stopping]\nenvelope_width=-0.1",
         "early_stopping.envelope_width: must be in [0, 1]"),
    ],
)
def test_bad_configs_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(FrontierError) as err:
        load_config(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file() -> None:
    with pytest.raises(FrontierError, match="no such config file"):
        load_config("/no/such.toml")


def test_built_in_python() -> None:
    cfg = StudyConfig(name="py", n_trials=3, objectives=("val_accuracy", "size_bytes"))
    assert cfg.directions == ["maximize", "minimize"]
    assert cfg.out_dir == Path("runs/py")


def test_errors_are_frontier_errors_of_their_kind(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[study]\nname='x'\n[budget]\nepochs=0")
    with pytest.raises(ConfigError, match=r"c\.toml: budget\.epochs: 0 must be >= 1"):
        load_config(path)
    assert issubclass(ConfigError, FrontierError) and issubclass(DatasetError, FrontierError)


def test_a_config_is_checked_without_its_files_and_runs_only_where_they_are(
        tmp_path: Path) -> None:
    """The config is data: a missing data folder or checkpoint is found by the run paths
    (``check_runnable``), so a stored study loads anywhere."""
    gone = str(tmp_path / "gone")
    cfg = StudyConfig(name="x", dataset=DataConfig("mnist", data_dir=gone),
                      transfer=Transfer(checkpoint=str(tmp_path / "nope.pt")))
    assert StudyConfig.from_dict(cfg.to_dict(), stored=True) == cfg
    with pytest.raises(DatasetError, match=rf"^dataset\.data_dir: {gone} is not a directory; "):
        check_runnable(cfg)
    (tmp_path / "gone").mkdir()
    with pytest.raises(DatasetError, match=r"^dataset\.data_dir: .* has no MNIST files"):
        check_runnable(cfg)
    with pytest.raises(DatasetError, match=r"^transfer\.checkpoint: .*nope\.pt is not a file"):
        check_runnable(StudyConfig(name="x", transfer=cfg.transfer))


def test_a_stored_config_imports_none_of_the_user_code(tmp_path: Path) -> None:
    stored = StudyConfig(name="x").to_dict()
    stored["study"]["imports"] = [str(tmp_path / "spaces_of_mine.py")]
    stored["dataset"]["source"] = f"{tmp_path / 'my_data.py'}:load"
    stored["dataset"]["metric"] = f"{tmp_path / 'my_metric.py'}:neg_rmse"
    stored["space"] = {"name": "model", "model": f"{tmp_path / 'my_model.py'}:build"}
    cfg = StudyConfig.from_dict(stored, stored=True)  # none of these files exists
    assert cfg.to_dict() == stored
    with pytest.raises(ConfigError, match=r"^stored config of 'x': study\.imports: "):
        StudyConfig.from_dict(stored, source="stored config of 'x'")
    with pytest.raises(ConfigError, match=r"^study\.imports: .*spaces_of_mine\.py is not a file"):
        check_runnable(cfg)
