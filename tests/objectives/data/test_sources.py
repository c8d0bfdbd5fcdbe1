"""User data (``[dataset] source``): every form ``load()`` may return, in memory and streamed
(identical metrics), an image folder on disk, a regression study with its own loss and metric
through the CLI, and one-line errors for bad sources."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from objectives.data import DataConfig, Split, load_dataset, stream_tensors
from objectives.data.batches import batches, first_inputs
from objectives.data.stream import StreamSplit
from objectives.distill import Distill, teacher_logits
from objectives.pipeline import Budget, evaluate
from objectives.task import check_task, metric_name
from objectives.train import train
from search.config import StudyConfig
from search.errors import FrontierError
from spaces import CNNSpec, CompressSpec, create_space
from spaces.spec import TrainSpec
from tests.conftest import tiny_toml
from tests.search.test_cli import cli

TINY = Budget(epochs=2, finetune_epochs=1, qat_epochs=1, batch_size=16, latency_reps=0,
              skip_finetune=False)

#: 90 examples of 3 classes: 4 features, the class shows in feature 0.
TABULAR = """
import numpy as np

def arrays():
    rng = np.random.default_rng(0)
    y = np.arange(90) % 3
    x = rng.normal(size=(90, 4))
    x[:, 0] += 3 * y
    return x, y
"""

#: 64 tiny 1×8×8 images of 4 classes, a map-style Dataset with a ``targets`` attribute.
IMAGES = """
import torch

class Images(torch.utils.data.Dataset):
    def __init__(self, n=64, offset=0):
        g = torch.Generator().manual_seed(offset)
        self.targets = [(i + offset) % 4 for i in range(n)]
        self.x = torch.rand(n, 1, 8, 8, generator=g)
        for i, t in enumerate(self.targets):
            self.x[i, 0, 2 * t] += 1.0  # a class-dependent bright row

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        return self.x[i], self.targets[i]
"""


def source(tmp_path: Path, body: str, name: str = "my_data") -> str:
    """Write a user's data module into ``tmp_path``; return its path (for ``module.py:fn``)."""
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return str(path)


# --- the forms load() may return ------------------------------------------------------------

def test_numpy_arrays_split_stratified_and_not_standardised(tmp_path: Path) -> None:
    mod = source(tmp_path, TABULAR + "\ndef load():\n    return arrays()\n")
    data = load_dataset(DataConfig(source=f"{mod}:load"))
    assert isinstance(data.train, Split) and data.in_memory
    assert (len(data.train), len(data.val), len(data.test)) == (54, 18, 18)
    assert data.input_shape == (4,) and data.num_classes == 3 and data.name == f"{mod}:load"
    assert data.train.x.dtype == torch.float32 and data.train.y.dtype == torch.int64
    assert torch.bincount(data.test.y, minlength=3).tolist() == [6, 6, 6]  # stratified
    namespace: dict[str, object] = {}
    exec(TABULAR, namespace)
    x, _ = namespace["arrays"]()  # type: ignore[operator]
    rows = {tuple(np.float32(r).tolist()) for r in x}
    assert all(tuple(r.tolist()) in rows for r in data.test.x)  # the user's values, unscaled
    again = load_dataset(DataConfig(source=f"{mod}:load"))
    assert torch.equal(again.test.x, data.test.x)  # seeded
    other = load_dataset(DataConfig(source=f"{mod}:load", split_seed=1))
    assert not torch.equal(other.test.x, data.test.x)


def test_tensors_and_float_targets_shuffle_split(tmp_path: Path) -> None:
    mod = source(tmp_path, """
        import torch

        def load():
            x = torch.linspace(0, 1, 50, dtype=torch.float64)[:, None].repeat(1, 3)
            return x, 2 * x[:, 0] + 1
    """)
    data = load_dataset(DataConfig(source=f"{mod}:load", loss="mse", metric="neg_rmse"))
    assert data.train.y.dtype == torch.float32 and data.train.x.dtype == torch.float32
    assert data.num_classes == 1 and data.input_shape == (3,)
    assert sum(len(s) for s in (data.train, data.val, data.test)) == 50
    assert (data.loss, data.metric) == ("mse", "neg_rmse")
    frames = source(tmp_path, """
        import pandas as pd

        def load():
            table = pd.DataFrame({"a": range(30), "b": [0.5] * 30, "label": [0, 1, 2] * 10})
            return table[["a", "b"]], table["label"]
    """, name="frames")
    data = load_dataset(DataConfig(source=f"{frames}:load"))
    assert data.input_shape == (2,) and data.num_classes == 3 and len(data.test) == 6


def test_dataset_split_by_targets_and_train_val_test_used_as_given(tmp_path: Path) -> None:
    mod = source(tmp_path, IMAGES + """
def whole():
    return Images()

def three():
    return Images(40, 0), Images(12, 1), Images(12, 2)
""")
    data = load_dataset(DataConfig(source=f"{mod}:whole"))
    assert isinstance(data.train, Split)  # tiny: held in memory
    assert (len(data.train), len(data.val), len(data.test)) == (38, 13, 13)
    assert data.input_shape == (1, 8, 8) and data.num_classes == 4
    counts = torch.bincount(data.test.y, minlength=4)
    assert counts.max() - counts.min() <= 1  # stratified by the targets attribute
    three = load_dataset(DataConfig(source=f"{mod}:three"))
    assert (len(three.train), len(three.val), len(three.test)) == (40, 12, 12)
    assert three.val.y.tolist() == [(i + 1) % 4 for i in range(12)]  # in the given order


def test_num_classes_given_is_the_output_width(tmp_path: Path) -> None:
    mod = source(tmp_path, TABULAR + "\ndef load():\n    return arrays()\n")
    assert load_dataset(DataConfig(source=f"{mod}:load", num_classes=5)).num_classes == 5
    with pytest.raises(ValueError, match=r"^dataset\.num_classes: 2 is fewer than the labels"):
        load_dataset(DataConfig(source=f"{mod}:load", num_classes=2))


# --- in memory or streamed: the same batches, the same metrics ------------------------------

def test_batches_of_both_kinds_follow_one_permutation() -> None:
    x = torch.arange(40, dtype=torch.float32)[:, None]
    split = Split(x, torch.arange(40) % 2)
    streamed = stream_tensors(split, workers=0)
    runs = []
    for s in (split, streamed):
        gen = torch.Generator().manual_seed(7)
        runs.append([(i.tolist(), b.flatten().tolist(), y.tolist())
                     for _ in range(2) for i, b, y in batches(s, 16, generator=gen,
                                                              drop_last=True)])
    assert runs[0] == runs[1] and len(runs[0]) == 4
    assert runs[0][0][0] == runs[0][0][1]  # positions index the rows
    assert torch.equal(first_inputs(streamed, 3), x[:3])


def test_streamed_and_in_memory_give_identical_metrics(tmp_path: Path) -> None:
    mod = source(tmp_path, IMAGES + "\ndef load():\n    return Images(96)\n")
    space = create_space("cnn")
    spec = CNNSpec((4, 8), compress=CompressSpec(prune_ratio=0.4, bits=4),
                   train=TrainSpec(kd_weight=0.5))
    results = []
    for in_memory in (True, False):
        data = load_dataset(DataConfig(source=f"{mod}:load", in_memory=in_memory,
                                       loader_workers=2, augment="crop_flip"))
        assert isinstance(data.train, Split if in_memory else StreamSplit)
        torch.manual_seed(1)
        teacher = space.build(CNNSpec((8,)), data.input_shape, data.num_classes)
        logits = teacher_logits(teacher, data.train)
        measured, model = evaluate(space, spec, data, TINY, seed=3, teacher_logits=logits)
        results.append((measured.val_accuracy, measured.test_accuracy, measured.params,
                        measured.size_bytes, logits,
                        torch.cat([p.detach().flatten() for p in model.parameters()])))
    (*a, la, wa), (*b, lb, wb) = results
    assert a == b
    assert torch.equal(la, lb) and torch.equal(wa, wb)


def test_auto_streams_what_does_not_fit(tmp_path: Path) -> None:
    mod = source(tmp_path, IMAGES + "\ndef load():\n    return Images(32)\n")
    streamed = load_dataset(DataConfig(source=f"{mod}:load", memory_share=1e-9))
    assert isinstance(streamed.train, StreamSplit) and not streamed.in_memory
    assert streamed.input_shape == (1, 8, 8) and streamed.num_classes == 4
    assert isinstance(load_dataset(DataConfig(source=f"{mod}:load")).train, Split)


def test_image_folder_on_disk_streamed(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for label, name in enumerate(("cat", "dog")):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(10):
            pixels = rng.integers(0, 120, (8, 8, 3), dtype=np.uint8)
            pixels[2 + 3 * label] = 255  # a class-dependent bright row
            Image.fromarray(pixels).save(tmp_path / "images" / name / f"{i}.png")
    mod = source(tmp_path, f"""
        from torchvision import datasets, transforms

        def load():
            return datasets.ImageFolder({str(tmp_path / "images")!r},
                                        transform=transforms.ToTensor())
    """, name="folder_data")
    space, spec = create_space("cnn"), CNNSpec((4,))
    seen = []
    for in_memory in (False, True):
        data = load_dataset(DataConfig(source=f"{mod}:load", in_memory=in_memory,
                                       loader_workers=2))
        assert data.in_memory == in_memory
        assert data.input_shape == (3, 8, 8) and data.num_classes == 2
        assert (len(data.train), len(data.val), len(data.test)) == (12, 4, 4)
        measured, _ = evaluate(space, spec, data, TINY, seed=0)
        seen.append((measured.val_accuracy, measured.test_accuracy, measured.params))
    assert seen[0] == seen[1] and 0.0 <= seen[0][0] <= 1.0


# --- loss and metric ------------------------------------------------------------------------

def test_metric_names_and_unknown_names() -> None:
    assert metric_name("accuracy") == "accuracy"
    assert metric_name("pkg/scores.py:Scores.neg_rmse") == "neg_rmse"
    with pytest.raises(ValueError, match=r"^dataset\.loss: unknown loss 'hinge'"):
        check_task("hinge", "accuracy")
    with pytest.raises(ValueError, match=r"^dataset\.metric: unknown metric 'f1'"):
        check_task("cross_entropy", "f1")
    with pytest.raises(ValueError, match=r"^dataset\.metric: cannot import 'no_such_module'"):
        load_dataset(DataConfig(metric="no_such_module:f1"))  # before any data is read


def test_distillation_needs_cross_entropy() -> None:
    model = torch.nn.Linear(3, 2)
    split = Split(torch.randn(8, 3), torch.randint(0, 2, (8,)))
    with pytest.raises(ValueError, match=r"^dataset\.loss: distillation"):
        train(model, split, epochs=1, lr=0.1, teacher_logits=torch.randn(8, 2), kd_weight=0.5,
              loss=lambda out, y: F.mse_loss(out[:, 0], y.float()))
    with pytest.raises(FrontierError, match=r"^dataset\.loss: distillation"):
        StudyConfig(name="x", dataset=DataConfig(loss="mse"),
                    distill=Distill(teacher="cnn-large"))


REGRESSION = """
import numpy as np
import torch

def load():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 6)).astype(np.float32)
    return x, x @ np.linspace(-1, 1, 6) + 0.1 * rng.normal(size=240)

def neg_rmse(outputs, targets):
    return -float(torch.sqrt(torch.mean((outputs[:, 0] - targets) ** 2)))
"""


def test_regression_study_through_the_cli(tmp_path: Path) -> None:
    (tmp_path / "reg.py").write_text(REGRESSION)
    toml = tiny_toml("reg", n_trials=3).split("[space]")[0] + """
[dataset]
source = "reg.py:load"
loss = "mse"
metric = "reg.py:neg_rmse"

[space]
name = "mlp"
max_depth = 1
widths = [8, 16]
bits = [8, 32]
"""
    (tmp_path / "s.toml").write_text(toml)
    res = cli("run", "s.toml", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "val_neg_rmse" in res.stdout
    front = pd.read_csv(tmp_path / "runs" / "reg" / "pareto.csv")
    # the objectives lead (search.results.columns), renamed after the metric
    assert list(front.columns[:3]) == ["trial", "val_neg_rmse", "params"]
    assert "test_neg_rmse" in front.columns
    assert (front["val_neg_rmse"] < 0).all()
    trials = pd.read_csv(tmp_path / "runs" / "reg" / "trials.csv")
    assert "val_accuracy" not in trials.columns and "test_neg_rmse" in trials.columns


# --- bad sources: one line, exit 2 ----------------------------------------------------------

@pytest.mark.parametrize(("ref", "body", "message"), [
    ("broken.py:load", "import not_a_module_anywhere\n", "cannot import"),
    ("fine.py:nope", "def load():\n    return 1\n", "has no attribute 'nope'"),
    ("fine.py:load", "def load():\n    raise OSError('disk on fire')\n",
     "raised OSError: disk on fire"),
    ("fine.py:load", "def load():\n    return 42\n", "returned a value of type int"),
    ("fine.py:load", "import numpy as np\ndef load():\n    return np.zeros((5, 2)), "
                     "np.zeros(4)\n", "returned 5 inputs but 4 targets"),
])
def test_bad_sources_are_one_line_exit_2(tmp_path: Path, ref: str, body: str,
                                        message: str) -> None:
    (tmp_path / ref.split(":")[0]).write_text(body)
    toml = tiny_toml("bad", n_trials=1).replace("[space]", f'[dataset]\nsource = "{ref}"\n\n'
                                                           "[space]")
    (tmp_path / "s.toml").write_text(toml)
    res = cli("run", "s.toml", cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert re.match(r"frontier: error: (.*: )?dataset\.source: ", lines[0]), lines[0]
    assert message in lines[0]


@pytest.mark.parametrize(("body", "message"), [
    ("def load():\n    return np.zeros((0, 2)), np.zeros(0)\n", "returned no examples"),
    ("def load():\n    return np.zeros((9, 2)), np.linspace(0, 1, 9)\n",
     "one float target per example"),
    ("def load():\n    return [1, 2, 3, 4]\n", "not an (input, target) pair"),
    ("def load():\n    return np.zeros((9, 2)), 'labels'\n", "torch cannot hold"),
    ("def load():\n    return [], [], 3\n", "not three datasets (it holds a int)"),
    ("def load():\n    return [(np.zeros(2), 0), (np.zeros(3), 1)] * 5\n", "of one shape"),
])
def test_bad_data_in_process(tmp_path: Path, body: str, message: str) -> None:
    mod = source(tmp_path, "import numpy as np\n" + body)
    with pytest.raises(ValueError, match=r"^dataset\.source: ") as err:
        load_dataset(DataConfig(source=f"{mod}:load"))
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(("options", "message"), [
    ({"memory_share": 0.0}, "dataset.memory_share: 0.0 must be in (0, 1]"),
    ({"loader_workers": -1}, "dataset.loader_workers: -1 must be >= 0"),
    ({"num_classes": 0}, "dataset.num_classes: 0 must be >= 1"),
    ({"source": "my_data"}, "dataset.source: 'my_data' is not an import string"),
    ({"source": "json:loads", "image_size": 16}, "dataset.image_size: read by the built-in"),
    ({"loss": "hinge"}, "dataset.loss: unknown loss 'hinge'"),
])
def test_dataset_options_are_checked_with_the_config(options: dict[str, object],
                                                     message: str) -> None:
    with pytest.raises(FrontierError) as err:
        StudyConfig(name="x", dataset=DataConfig(**options))  # type: ignore[arg-type]
    assert message in str(err.value)
