"""Shared fixtures: the real digits data, tiny budgets, and an isolated working directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from objectives.data import DataConfig, TensorData, load_dataset
from objectives.pipeline import Budget

TINY = Budget(epochs=2, finetune_epochs=1, qat_epochs=1, batch_size=64, latency_reps=2)
ONE_EPOCH = Budget(epochs=1, finetune_epochs=1, qat_epochs=1, batch_size=64, latency_reps=2)
#: The digits data's input shape and number of classes.
DIGITS = ((1, 8, 8), 10)


@pytest.fixture(scope="session")
def digits() -> TensorData:
    torch.set_num_threads(1)
    return load_dataset(DataConfig())


@pytest.fixture
def tiny_budget() -> Budget:
    return TINY


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tiny_toml(name: str = "tiny", n_trials: int = 4, extra: str = "", epochs: int = 2) -> str:
    """A small but real study file."""
    return f"""
[study]
name = "{name}"
n_trials = {n_trials}
seed = 0
{extra}

[sampler]
name = "nsga2"
population_size = 4

[budget]
epochs = {epochs}
finetune_epochs = 1
qat_epochs = 1
latency_reps = 2

[space]
name = "cnn"
max_depth = 2
widths = [4, 8]
bits = [4, 32]
prune_ratio = {{ low = 0.0, high = 0.8 }}
"""


ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The throwaway server `make test` starts (.ci/postgres.sh); required under CI."""
    url = os.environ.get("FRONTIER_TEST_POSTGRES", "")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("FRONTIER_TEST_POSTGRES is not set: .ci/postgres.sh did not start a server")
        pytest.skip("no PostgreSQL server (run `make test`, which starts one)")
    return url


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, which `make test` installs (.ci/chromium.sh); required under CI."""
    from search.errors import FrontierError
    from search.visualization.browser import find_browser

    try:
        return find_browser()
    except FrontierError as err:
        if os.environ.get("CI"):
            pytest.fail(f"{err} (.ci/chromium.sh should have installed it)")
        pytest.skip(f"{err} (run `make test`, which installs it)")
