"""Files from someone else: a crafted program.pt2 or model.onnx is refused before it can run
code or read other files; files written over planted symlinks replace them."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import optuna
import pytest
import torch

from search.errors import ConfigError, FrontierError
from search.results.model_folder import export_trial, load, load_onnx, load_program
from search.results.pareto import write_tables
from search.storage.studies import stored_config
from tests.conftest import tiny_toml
from tests.search.test_cli import cli


class _Touch:
    """Unpickling this creates ``marker``: what a hostile pickle could do instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return Path.touch, (self.marker,)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny study and the model folder of its first front trial."""
    root = tmp_path_factory.mktemp("untrusted")
    (root / "s.toml").write_text(tiny_toml("u", n_trials=2, epochs=1))
    res = cli("run", "s.toml", "--quiet", cwd=root)
    assert res.returncode == 0, res.stderr
    study = _study(root)
    export_trial(study, study.best_trials[0].number, root / "model", stored_config(study))
    return root


def _study(root: Path) -> optuna.Study:
    return optuna.load_study(study_name="u", storage=f"sqlite:///{root}/runs/frontier.db")


def _rewrite(src: Path, dst: Path, changes: dict[str, bytes]) -> None:
    """Copy the zip ``src`` to ``dst`` with the entries ending in a key of ``changes``
    replaced."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            for suffix, new in changes.items():
                if info.filename.endswith(suffix):
                    data = new
            zout.writestr(info.filename, data)


def _crafted(root: Path, folder: Path, attack: str) -> Path:
    """A copy of the model folder whose program.pt2 carries ``attack``; touching
    ``folder / "marker"`` is what its payload does."""
    folder.mkdir()
    for f in (root / "model").iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    src = root / "model" / "program.pt2"
    payload = pickle.dumps(_Touch(folder / "marker"))
    with zipfile.ZipFile(src) as z:
        top = z.namelist()[0].split("/")[0]
        config = json.loads(z.read(f"{top}/data/weights/model_weights_config.json"))
        graph = z.read(f"{top}/models/model.json").decode()
    if attack == "sample_inputs":  # torch tries weights_only=True, then falls back to False
        changes = {"data/sample_inputs/model.pt": payload}
    elif attack == "use_pickle":  # a weight marked pickled: torch.load(weights_only=False)
        config["config"][next(iter(config["config"]))]["use_pickle"] = True
        changes = {"model_weights_config.json": json.dumps(config).encode(),
                   "data/weights/weight_0": payload}
    elif attack == "sympify":  # symbolic shapes are parsed by sympy's eval-based sympify
        code = f"__import__('pathlib').Path('{folder / 'marker'}').touch()"
        changes = {"models/model.json": graph.replace(
            "\"Symbol('s", f"\"Max({code}, 1) + 0*Symbol('s", 1).encode()}
        assert "__import__" in changes["models/model.json"].decode()
    else:  # guards_code: exec'd by .module()
        program = json.loads(graph)
        program["guards_code"] = [f"__import__('pathlib').Path('{folder / 'marker'}').touch()"]
        changes = {"models/model.json": json.dumps(program).encode()}
    _rewrite(src, folder / "program.pt2", changes)
    return folder


def test_a_clean_program_loads_and_runs(root: Path) -> None:
    program = load_program(root / "model").module()
    model = load(root / "model")
    x = torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        assert (program(x) - model(x)).abs().max() < 1e-5


@pytest.mark.parametrize("attack", ["sample_inputs", "use_pickle", "sympify", "guards_code"])
def test_a_crafted_program_is_refused_before_it_runs(root: Path, tmp_path: Path,
                                                     attack: str) -> None:
    folder = _crafted(root, tmp_path / "m", attack)
    entry = {"sample_inputs": "entry data/sample_inputs/model.pt is a pickle",
             "use_pickle": "entry data/weights/weight_0 (for ",
             "sympify": "entry models/model.json holds the symbolic expression",
             "guards_code": "entry models/model.json holds guards_code"}[attack]
    with pytest.raises(FrontierError) as err:
        load_program(folder)
    message = str(err.value)
    assert message.startswith(f"{folder / 'program.pt2'}: {entry}"), message
    assert "trusted=True" in message and "\n" not in message
    assert not (folder / "marker").exists()
    assert load(folder) is not None  # the safe path still works on the same folder


def test_trusted_hands_the_file_to_torch_as_it_is(root: Path, tmp_path: Path) -> None:
    # what the check prevents: torch.export.load unpickles the crafted inputs and runs them
    folder = _crafted(root, tmp_path / "m", "sample_inputs")
    with pytest.raises(FrontierError, match=r"program\.pt2: torch\.export\.load failed"):
        load_program(folder, trusted=True)
    assert (folder / "marker").exists()


def test_a_program_with_entries_the_readers_see_differently_is_refused(root: Path,
                                                                       tmp_path: Path) -> None:
    # an entry outside the top folder: torch's reader skips or rejects it, and the legacy
    # path of torch.export.load (Python's zipfile) would read a root "version" entry
    buf = io.BytesIO((root / "model" / "program.pt2").read_bytes())
    with zipfile.ZipFile(buf, "a") as z:
        z.writestr("version", "8.0")
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "program.pt2").write_bytes(buf.getvalue())
    with pytest.raises(FrontierError, match=r"program\.pt2: (its zip entries differ|not a "
                                            r"torch\.export archive)"):
        load_program(folder)


def test_onnx_with_external_data_is_refused(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    (tmp_path / "outside.bin").write_bytes(b"SECRET" * 3)
    init = onnx.TensorProto(name="w", data_type=onnx.TensorProto.UINT8, dims=[16],
                            data_location=onnx.TensorProto.EXTERNAL)
    for key, value in (("location", "../outside.bin"), ("offset", "0"), ("length", "16")):
        init.external_data.add(key=key, value=value)
    h = onnx.helper
    graph = h.make_graph([h.make_node("Add", ["input", "w"], ["logits"])], "g",
                         [h.make_tensor_value_info("input", onnx.TensorProto.UINT8, [16])],
                         [h.make_tensor_value_info("logits", onnx.TensorProto.UINT8, [16])],
                         [init])
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(h.make_model(graph).SerializeToString())
    with pytest.raises(FrontierError, match=r"model\.onnx: tensor 'w' keeps its data in the "
                                            r"external file '\.\./outside\.bin'"):
        load_onnx(folder)


def test_writes_replace_planted_symlinks(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    out = tmp_path / "tables"
    out.mkdir()
    (out / "pareto.csv").symlink_to(outside)
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.json").symlink_to(outside)
    study = _study(root)
    write_tables(study, out)
    export_trial(study, study.best_trials[0].number, folder, stored_config(study))
    assert outside.read_text() == "keep me"
    for written in (out / "pareto.csv", folder / "model.json"):
        assert written.is_file() and not written.is_symlink()
    assert json.loads((folder / "model.json").read_text())["space"] == "cnn"
    assert (out / "pareto.csv").read_text().startswith("trial,")


def test_export_onto_a_file_is_one_line_and_writes_nothing(root: Path, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file")
    study = _study(root)
    for out in (tmp_path / "taken", tmp_path / "taken" / "model"):
        with pytest.raises(ConfigError, match=r"^--out: .*taken is a file") as err:
            export_trial(study, study.best_trials[0].number, out, stored_config(study))
        assert "\n" not in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert (tmp_path / "taken").read_text() == "a file"
    res = cli("export", "--study", "u", "--trial", str(study.best_trials[0].number), "--out",
              str(tmp_path / "taken"), cwd=root)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().count("\n") == 0 and "taken is a file" in res.stderr, res.stderr
