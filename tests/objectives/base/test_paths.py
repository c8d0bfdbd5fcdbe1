"""Paths of a study file: next to the study file first, then the current folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from objectives.base.paths import find_path, looked_in


def test_next_to_the_study_file_first_then_the_current_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    study, cwd = tmp_path / "study", tmp_path / "cwd"
    study.mkdir(), cwd.mkdir()
    monkeypatch.chdir(cwd)
    (cwd / "w.pt").write_text("cwd")
    assert find_path("w.pt", [study]) == cwd / "w.pt"
    (study / "w.pt").write_text("study")
    assert find_path("w.pt", [study]) == study / "w.pt"
    assert find_path(str(cwd / "w.pt"), [study]) == cwd / "w.pt"  # absolute: as it is


def test_a_path_found_nowhere_is_placed_next_to_the_study_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s").mkdir()
    assert find_path("gone.pt", [tmp_path / "s"]) == tmp_path / "s" / "gone.pt"
    assert looked_in("gone.pt", [tmp_path / "s"]) == \
        f"{tmp_path / 's' / 'gone.pt'}, {tmp_path / 'gone.pt'}"
    assert find_path("gone.pt") == tmp_path / "gone.pt"
