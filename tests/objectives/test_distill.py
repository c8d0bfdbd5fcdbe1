import subprocess
import sys
from pathlib import Path

import optuna
import torch
import torch.nn.functional as F

from objectives.train import distill_loss
from search.config import load_config
from search.keys import TEACHER_ATTR
from search.run import run_study
from search.storage.studies import create_or_load
from tests.conftest import ENV, tiny_toml

DISTILL = """kd_weight = 0.5
kd_temperature = [2.0, 4.0]

[distill]
teacher = "cnn-large"
teacher_epochs = 2
cache_dir = "teachers"
"""


def test_distill_loss_mixes_ce_and_softened_teacher() -> None:
    torch.manual_seed(0)
    s, t, y = torch.randn(8, 5), torch.randn(8, 5), torch.randint(0, 5, (8,))
    ce = F.cross_entropy(s, y)
    assert torch.equal(distill_loss(s, y, t, 0.0, 4.0), ce)
    assert torch.equal(distill_loss(s, y, None, 0.5, 4.0), ce)
    assert float(distill_loss(s, y, s.clone(), 1.0, 3.0)) < 1e-6  # same outputs: KL is 0
    kl = F.kl_div(F.log_softmax(s / 2, 1), F.softmax(t / 2, 1), reduction="batchmean")
    assert torch.allclose(distill_loss(s, y, t, 0.25, 2.0), 0.75 * ce + 0.25 * 4 * kl)


def _teacher_file(root: Path) -> Path:
    files = list((root / "teachers").glob("*.pt"))
    assert len(files) == 1 and not list((root / "teachers").glob("*.tmp"))
    return files[0]


def test_teacher_trained_once_then_reused_across_trials_and_processes(workdir: Path) -> None:
    (workdir / "a.toml").write_text(tiny_toml("kd_a", n_trials=2, epochs=1) + DISTILL)
    cfg = load_config(workdir / "a.toml")
    study = create_or_load(cfg, "sqlite:///runs/a.db")
    run_study(study, cfg, n_trials=1, progress=False)
    path = _teacher_file(workdir)
    mtime = path.stat().st_mtime_ns
    run_study(study, cfg, n_trials=2, progress=False)  # a new Objective: reads the file
    assert _teacher_file(workdir) == path and path.stat().st_mtime_ns == mtime
    first, second = (t.user_attrs[TEACHER_ATTR] for t in study.trials)
    assert first["trained"] and not second["trained"]
    assert first["file"] == second["file"] == str(Path("teachers") / path.name)
    train_seconds = first["seconds"]

    # a second run in a new process, another study with the same data, seed and teacher
    (workdir / "b.toml").write_text(tiny_toml("kd_b", n_trials=1, epochs=1) + DISTILL)
    res = subprocess.run([sys.executable, "-m", "search", "run", "b.toml", "--quiet",
                          "--storage", "sqlite:///runs/b.db"], cwd=workdir, env=ENV,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert _teacher_file(workdir) == path and path.stat().st_mtime_ns == mtime
    (trial,) = optuna.load_study(study_name="kd_b", storage="sqlite:///runs/b.db").trials
    info = trial.user_attrs[TEACHER_ATTR]
    assert info["trained"] is False
    # loading a state dict is far quicker than training 2 epochs of a 64-64-64 CNN
    assert info["seconds"] < train_seconds / 3, (info["seconds"], train_seconds)
