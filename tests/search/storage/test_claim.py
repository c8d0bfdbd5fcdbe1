"""The claim lock serialises "count, then start a trial" across processes."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest

from search.storage.claim import CLAIM_SUFFIX, _AdvisoryClaim, _FileClaim, _NoClaim, claim_for
from search.storage.urls import open_storage
from tests.conftest import ENV

_CHILD = """
import sys, optuna
from search.storage.claim import claim_for
from search.storage.urls import open_storage
study = optuna.load_study(study_name=sys.argv[2], storage=open_storage(sys.argv[1]))
claim = claim_for(study)
claim.acquire()
print("got", flush=True)
claim.release()
"""


def _study(url: str) -> optuna.Study:
    return optuna.create_study(study_name=f"c{uuid.uuid4().hex[:8]}", storage=open_storage(url),
                               directions=["maximize", "minimize"])


def _blocks_another_process(url: str) -> None:
    study = _study(url)
    claim = claim_for(study)
    claim.acquire()
    child = subprocess.Popen([sys.executable, "-c", _CHILD, url, study.study_name], env=ENV,
                             stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(3.0)  # plenty for the child to start and reach acquire()
        assert child.poll() is None, "the child got the claim while this process held it"
    finally:
        claim.release()
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0 and out.strip() == "got"
    claim.release()  # idempotent


def test_journal_claim_is_a_file_lock_beside_the_journal(tmp_path: Path) -> None:
    url = str(tmp_path / "s.log")
    claim = claim_for(_study(url))
    assert isinstance(claim, _FileClaim)
    assert claim.path == tmp_path / f"s.log{CLAIM_SUFFIX}"
    _blocks_another_process(url)


def test_sqlite_claim_is_a_file_lock(tmp_path: Path) -> None:
    assert isinstance(claim_for(_study(str(tmp_path / "s.db"))), _FileClaim)


def test_in_memory_studies_need_no_claim() -> None:
    assert isinstance(claim_for(optuna.create_study()), _NoClaim)


def test_postgresql_claim_is_an_advisory_lock(postgres_url: str) -> None:
    assert isinstance(claim_for(_study(postgres_url)), _AdvisoryClaim)
    _blocks_another_process(postgres_url)


def test_a_failed_acquire_leaves_nothing_held(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    claim = claim_for(_study(str(tmp_path / "s.log")))

    def interrupted(fd: int, op: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("search.storage.claim.fcntl.flock", interrupted)
    with pytest.raises(KeyboardInterrupt):
        claim.acquire()
    assert isinstance(claim, _FileClaim) and claim.fd is None
