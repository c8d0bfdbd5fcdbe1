"""Real tiny base models on disk: a builder module, its checkpoint, a Frontier model folder and
a Hugging Face folder, for the digits data (1×8×8, 10 classes)."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import torch
from torch import nn

from objectives.compress.packing import pack
from objectives.compress.quantize import planned_bits
from objectives.data import Split, TensorData
from objectives.metrics import weight_bits
from spaces.space import create_space, spec_json

BUILDER = '''
from torch import nn


def build_base(input_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(),
                         nn.Linear(16, num_classes))


def build_wide(input_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 24), nn.ReLU(),
                         nn.Linear(24, num_classes))


def build_deeper(input_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(),
                         nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, num_classes))


def build_flat_input(input_shape, num_classes):
    return nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, num_classes))


def build_five(input_shape, num_classes):
    return build_base(input_shape, 5)


def not_a_model(input_shape, num_classes):
    return "model"
'''


def tiny(num_classes: int = 10) -> nn.Module:
    """The model ``build_base`` makes, seeded."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, num_classes))


@pytest.fixture
def base_dir(tmp_path: Path) -> Path:
    """A folder holding my_base.py (the builders) and base.pt (build_base's trained weights)."""
    (tmp_path / "my_base.py").write_text(BUILDER)
    torch.save(tiny().state_dict(), tmp_path / "base.pt")
    return tmp_path


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder as ``frontier export`` writes it (the files a base needs), of a cnn
    candidate for the digits data."""
    out = tmp_path_factory.mktemp("export")
    space = create_space("cnn", {"max_depth": 1, "widths": [4]})
    spec = space.sample(optuna.create_study(sampler=optuna.samplers.RandomSampler(0)).ask())
    model = space.build(spec, (1, 8, 8), 10)
    (out / "spec.json").write_text(spec_json(space, spec))
    (out / "model.json").write_text(json.dumps(
        {"space": "cnn", "space_options": {"max_depth": 1, "widths": [4]},
         "input_shape": [1, 8, 8], "num_classes": 10}))
    state = model.state_dict()
    (out / "weights.safetensors").write_bytes(pack(state, weight_bits(model,
                                                                      planned_bits(model))))
    return out


@pytest.fixture(scope="session")
def hf_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT sequence classifier (3 labels, vocabulary 20) as save_pretrained writes it."""
    transformers = pytest.importorskip("transformers")
    out = tmp_path_factory.mktemp("hf")
    config = transformers.BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=16,
                                     max_position_embeddings=16, num_labels=3)
    torch.manual_seed(0)
    transformers.BertForSequenceClassification(config).save_pretrained(out)
    return out


def tokens(num_classes: int = 3) -> TensorData:
    """Token-id data (float32 ids, as a data source's arrays arrive) of 6 tokens."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 20, (32, 6), generator=g).float()
    y = torch.arange(32) % num_classes
    split = Split(x, y)
    return TensorData("tokens", split, split, split, (6,), num_classes)
