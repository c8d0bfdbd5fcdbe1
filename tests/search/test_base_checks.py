"""A study's [base]: its config (mode = "compress", paths next to the study file, stored
absolute) and its checks before a study is written: one line, exit 2, nothing written."""

from __future__ import annotations

import gc
import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from search.cli import main
from search.config import StudyConfig, load_config
from search.errors import ConfigError, DatasetError
from search.run import check_runnable, prepare
from tests.conftest import ENV, tiny_toml
from tests.objectives.base.conftest import BUILDER, tiny

COMPRESS = tiny_toml("squeeze", n_trials=1, epochs=0, extra='mode = "compress"').split(
    "[space]")[0] + "[space]\nbits = [4, 32]\nprune_ratio = { low = 0.0, high = 0.8 }\n"  # base
BASE = '\n[base]\nmodel = "my_base.py:build_base"\ncheckpoint = "base.pt"\n'
TOKENS = '''
import numpy as np


def load():
    rng = np.random.default_rng(0)
    return rng.integers(0, 20, (60, 6)).astype(np.float32), np.arange(60) % 3
'''


def _study(work: Path, text: str) -> Path:
    """``work/study/c.toml`` holding ``text``, next to my_base.py, base.pt, tokens.py."""
    folder = work / "study"
    folder.mkdir(parents=True)
    (folder / "my_base.py").write_text(BUILDER)
    (folder / "tokens.py").write_text(TOKENS)
    torch.save(tiny().state_dict(), folder / "base.pt")
    (folder / "c.toml").write_text(text)
    return folder / "c.toml"


def test_a_base_is_found_next_to_the_study_file_and_stored_absolute(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _study(tmp_path, COMPRESS + BASE)
    monkeypatch.chdir(tmp_path)  # not the study's folder
    cfg = load_config(path)
    folder = (tmp_path / "study").resolve()
    assert cfg.mode == "compress" and cfg.budget.epochs == 0
    assert cfg.base.model == f"{folder / 'my_base.py'}:build_base"
    assert cfg.base.checkpoint == str(folder / "base.pt")
    stored = StudyConfig.from_dict(cfg.to_dict(), stored=True)
    assert stored == cfg and load_config(_written(tmp_path, cfg)) == cfg
    prepare(cfg)  # the good base loads, runs on the digits and has 10 outputs


def _written(tmp_path: Path, cfg: StudyConfig) -> Path:
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "c.toml").write_text(cfg.to_toml())
    return tmp_path / "again" / "c.toml"


def test_a_study_without_a_base_stores_no_base_table() -> None:
    assert "base" not in StudyConfig(name="x").to_dict()
    assert "[base]" not in StudyConfig(name="x").to_toml()


@pytest.mark.parametrize(("text", "message"), [
    (tiny_toml(epochs=0), r"budget\.epochs: 0 must be >= 1$"),
    (COMPRESS.replace("epochs = 0", "epochs = -1") + BASE, r"budget\.epochs: -1 must be >= 0$"),
    (COMPRESS, r"base: mode = \"compress\" compresses a trained model; add a \[base\] table"),
    (tiny_toml() + BASE, r"base: \[base\] is read in mode = \"compress\" only"),
    (COMPRESS + '\n[base]\ncheckpoint = "base.pt"\n', r"base: nothing names the base model"),
    (COMPRESS + '\n[base]\nhuggingface = "hf"\nexport = "e"\n', r"base\.export: base\.huggingface"),
    (COMPRESS + BASE + '\n[transfer]\ncheckpoint = "base.pt"\n',
     r"transfer\.checkpoint: compress "),
    (COMPRESS + '\n[base]\nmodel = "my_base.py:gone"\n', r"base\.model: .* no attribute 'gone'"),
])
def test_a_bad_compress_config_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_study(tmp_path, text))


def test_transfer_checkpoint_is_found_next_to_the_study_file_and_read_up_front(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _study(tmp_path, tiny_toml() + '\n[transfer]\ncheckpoint = "base.pt"\n')
    monkeypatch.chdir(tmp_path)
    cfg = load_config(path)
    assert cfg.transfer.checkpoint == str((tmp_path / "study" / "base.pt").resolve())
    check_runnable(cfg)
    (tmp_path / "study" / "base.pt").write_text("no tensors here")
    with pytest.raises(DatasetError, match=r"^transfer\.checkpoint: .*base\.pt is not a state "
                       r"dict torch\.load reads weights-only"):
        check_runnable(cfg)


# --- Every bad base through the CLI: one line, exit 2, nothing written

def _hf_without_config(folder: Path) -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=16,
                                     max_position_embeddings=16, num_labels=3)
    transformers.BertForSequenceClassification(config).save_pretrained(folder / "hf")
    (folder / "hf" / "config.json").unlink()


def _save(name: str, make: Callable[[], object]) -> Callable[[Path], None]:
    return lambda folder: torch.save(make(), folder / name)


def _text(name: str, text: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_text(text)


def _wide() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(),
                               torch.nn.Linear(32, 10)).state_dict()


HF = COMPRESS.replace("[budget]", '[dataset]\nsource = "tokens.py:load"\n\n[budget]') + \
    '\n[base]\nhuggingface = "hf"\n'
# (name, config text, what the study folder gets, expected part of the message)
CASES: list[tuple[str, str, Callable[[Path], None] | None, str]] = [
    ("missing checkpoint", COMPRESS + BASE.replace("base.pt", "gone.pt"), None,
     "/w/study/gone.pt is not a file; give the path of the file on this machine (a relative "
     "path is found next to the study file, then in the current folder)"),
    ("not a state dict", COMPRESS + BASE, _text("base.pt", "hello"),
     "base.pt is not a state dict torch.load reads weights-only"),
    ("no tensors", COMPRESS + BASE, _save("base.pt", lambda: {"epoch": 3}),
     "base.pt does not hold a state dict (tensors by name)"),
    ("wrong keys", COMPRESS + BASE.replace("build_base", "build_flat_input"), None,
     "missing keys 0.weight, 0.bias, 2.weight, 2.bias; unexpected keys 1.weight"),
    ("wrong shapes", COMPRESS + BASE, _save("base.pt", _wide),
     "1.weight (32, 64) in the file, (16, 64) in the model, 1.bias (32,) in the file"),
    ("head mismatch", COMPRESS + BASE.replace("build_base", "build_five").replace(
        'checkpoint = "base.pt"', ""), None,
     "base.model: the base model gives 5 outputs and the data has 10 classes; set [base] "
     "transfer_epochs to replace and fine-tune the head"),
    ("does not run", COMPRESS + BASE.replace("build_base", "build_flat_input").replace(
        'checkpoint = "base.pt"', ""), None, "base.model: the base model does not run on a batch"),
    ("hugging face folder without config", HF, _hf_without_config,
     "hf has no config.json; give the folder save_pretrained wrote"),
    ("compress without a base", COMPRESS, None,
     "base: mode = \"compress\" compresses a trained model; add a [base] table"),
    ("base without compress", tiny_toml("plain", n_trials=1) + BASE, None,
     "base: [base] is read in mode = \"compress\" only"),
    ("transfer checkpoint not a state dict",
     tiny_toml("plain", n_trials=1) + '\n[transfer]\ncheckpoint = "t.pt"\n', _text("t.pt", "x"),
     "transfer.checkpoint: "),
]


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _ready(tmp_path: Path, text: str, setup: Callable[[Path], None] | None) -> Path:
    work = tmp_path / "w"
    path = _study(work, text)
    if setup is not None:
        setup(path.parent)
    return work


@pytest.mark.parametrize(("name", "text", "setup", "message"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_base_is_one_line_exit_2_and_nothing_written(
        name: str, text: str, setup: Callable[[Path], None] | None, message: str,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    work = _ready(tmp_path, text, setup)
    monkeypatch.chdir(work)  # the study file is in work/study: its paths are found there
    before = _snapshot(work)
    capfd.readouterr()  # what setting up printed (save_pretrained's progress bars)
    assert main(["run", "study/c.toml"]) == 2
    out, err = capfd.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("frontier: error: ") and message in lines[0], lines[0]
    assert "Traceback" not in err and out == ""
    gc.collect()
    assert _snapshot(work) == before, "a file was created or changed"
    assert not (work / "runs").exists() and not (work / "study" / "runs").exists()


def test_a_bad_base_in_a_real_process(tmp_path: Path) -> None:
    """As the user sees it: no traceback, no stray output, no storage, no output folder."""
    work = _ready(tmp_path, COMPRESS + BASE, _save("base.pt", _wide))
    res = subprocess.run([sys.executable, "-m", "search", "run", "study/c.toml"], cwd=work,
                         env=ENV, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stdout == "" and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert res.stderr.startswith("frontier: error: base.checkpoint: ")
    assert "1.weight (32, 64) in the file, (16, 64) in the model" in res.stderr
    assert sorted(p.name for p in work.iterdir()) == ["study"]
    shutil.rmtree(work)


def test_from_python_a_builder_function_is_stored_as_its_import_string(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from objectives.base import BaseConfig
    from objectives.pipeline import Budget
    from spaces.locate import locate

    path = _study(tmp_path, COMPRESS)
    monkeypatch.chdir(path.parent)
    build = locate("my_base.py:build_base", "test", [path.parent])
    cfg = StudyConfig(name="x", mode="compress", budget=Budget(epochs=0),
                      base=BaseConfig(model=build, checkpoint="base.pt"))
    assert cfg.base.model == f"{path.parent.resolve() / 'my_base.py'}:build_base"
    assert cfg.base.checkpoint == str(path.parent.resolve() / "base.pt")
    assert StudyConfig.from_dict(cfg.to_dict(), stored=True) == cfg
