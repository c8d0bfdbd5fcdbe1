"""ONNX export, ONNX Runtime inference and int8 QDQ quantization (``objectives.deploy``)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import torch
from torch import nn

pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
pytest.importorskip("onnxruntime")

import onnx

from objectives.compress.quantize import attach, attach_act_quant
from objectives.data import Split, TensorData
from objectives.deploy import int8 as int8_module
from objectives.deploy.int8 import quantize_int8, u8s8_saturates
from objectives.deploy.onnx_export import UnsupportedModel, to_onnx
from objectives.deploy.runtime import (
    compare,
    latency_ms,
    predict,
    score,
    session,
)
from objectives.metrics import score as torch_score
from objectives.pipeline import Budget, evaluate
from spaces import CNNSpec, CompressSpec, create_space

TOL = 1e-4


def _random_bn_stats(model: nn.Module, seed: int = 0) -> nn.Module:
    """Eval mode with batch-norm running statistics that are not the identity."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            assert m.running_mean is not None and m.running_var is not None
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.5)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
    return model.eval()


@torch.no_grad()
def _assert_matches(model: nn.Module, onnx_bytes: bytes, shape: tuple[int, ...]) -> None:
    """Logits within TOL of PyTorch and the same argmax, on batches of 5 and of 3 rows."""
    sess = session(onnx_bytes)
    gen = torch.Generator().manual_seed(1)
    for rows in (5, 3):
        x = torch.randn((rows, *shape), generator=gen)
        expected = model(x)
        got = torch.from_numpy(sess.run(None, {"input": x.numpy()})[0])
        assert got.shape == expected.shape
        assert (got - expected).abs().max() <= TOL
        assert torch.equal(got.argmax(dim=1), expected.argmax(dim=1))


SPACES = [("cnn", (1, 8, 8)), ("resnet", (3, 16, 16)), ("mobilenet", (3, 16, 16)),
          ("mlp", (1, 8, 8)), ("transformer", (1, 8, 8)), ("transformer", (2, 40))]


@pytest.mark.parametrize(("name", "shape"), SPACES)
def test_every_space_exports_with_a_dynamic_batch(name: str, shape: tuple[int, ...]) -> None:
    space = create_space(name)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    torch.manual_seed(0)
    model = _random_bn_stats(space.build(space.sample(trial), shape, 10))
    data = to_onnx(model, torch.randn(5, *shape))
    _assert_matches(model, data, shape)
    proto = onnx.load_from_string(data)
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    assert "BatchNormalization" not in {n.op_type for n in proto.graph.node}  # folded


class Residual1d(nn.Module):
    """A user's model: Conv1d, batch norm and a residual add."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(4, 8, 3, padding=1)
        self.bn = nn.BatchNorm1d(8)
        self.conv2 = nn.Conv1d(8, 8, 3, padding=1)
        self.head = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn(self.conv1(x)))
        h = h + self.conv2(h)
        return self.head(h.mean(dim=2))


def test_a_user_model_exports_from_a_one_row_example(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = _random_bn_stats(Residual1d())
    data = to_onnx(model, torch.randn(1, 4, 16))  # one row: the batch stays dynamic
    _assert_matches(model, data, (4, 16))
    path = tmp_path / "model.onnx"
    path.write_bytes(data)
    for source in (path, str(path)):
        assert session(source, threads=1).get_inputs()[0].shape == ["batch", 4, 16]


def test_activation_fake_quant_exports_and_matches() -> None:
    torch.manual_seed(0)
    model = _random_bn_stats(create_space("cnn").build(CNNSpec((8, 16)), (1, 8, 8), 10))
    quant = attach_act_quant(model, 8, ["0.0.0"])["0.0.0"]
    quant.amax.fill_(1.5)  # inputs are N(0, 1): some are clipped
    model.eval()  # a new quantizer is in training mode: freeze its range
    data = to_onnx(model, torch.randn(5, 1, 8, 8))
    _assert_matches(model, data, (1, 8, 8))
    assert "Round" in {n.op_type for n in onnx.load_from_string(data).graph.node}
    plain = to_onnx(model, torch.randn(5, 1, 8, 8), act_quant=False)
    assert "Round" not in {n.op_type for n in onnx.load_from_string(plain).graph.node}
    assert model.get_submodule("0.0.0.input_quant") is quant  # the model is left as it was
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_parametrized_weights_are_baked_and_the_model_keeps_working() -> None:
    torch.manual_seed(0)
    model = _random_bn_stats(create_space("cnn").build(CNNSpec((8,)), (1, 8, 8), 10))
    attach(model, {"0.0.0": (torch.rand(8, 1, 3, 3) > 0.3).float()}, bits=4)
    data = to_onnx(model, torch.randn(5, 1, 8, 8))
    _assert_matches(model, data, (1, 8, 8))  # the original still has its weight property


def test_export_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    model = _random_bn_stats(create_space("cnn").build(CNNSpec((4,)), (1, 8, 8), 10))
    sess = session(to_onnx(model, torch.randn(2, 1, 8, 8)))
    sess.run(None, {"input": torch.randn(2, 1, 8, 8).numpy()})
    assert capfd.readouterr() == ("", "")


class Eigen(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.linalg.eigvals(x).real


class DataDependent(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 if x.sum() > 0 else x


def test_unsupported_models_name_the_op_in_one_line(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UnsupportedModel, match=r"aten\.linalg_eig") as err:
        to_onnx(Eigen(), torch.randn(3, 4, 4))
    assert "\n" not in str(err.value)
    with pytest.raises(UnsupportedModel, match="data-dependent") as err:
        to_onnx(DataDependent(), torch.randn(3, 4, 4))
    assert "\n" not in str(err.value)
    assert capfd.readouterr() == ("", "")


@pytest.fixture(scope="module")
def digits_cnn(digits: TensorData) -> nn.Module:
    spec = CNNSpec((8, 16), compress=CompressSpec(bits=8))
    budget = Budget(epochs=3, finetune_epochs=1, qat_epochs=1, latency_reps=0)
    _, model = evaluate(create_space("cnn"), spec, digits, budget, seed=0)
    return model.cpu().eval()


def _weight_dequantizers(proto: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    """DequantizeLinear nodes by output name."""
    return {n.output[0]: n for n in proto.graph.node if n.op_type == "DequantizeLinear"}


def test_int8_keeps_the_accuracy_with_int8_per_channel_weights(
        digits: TensorData, digits_cnn: nn.Module, capfd: pytest.CaptureFixture[str]) -> None:
    test, train = digits.test.to(torch.device("cpu")), digits.train
    assert isinstance(test, Split) and isinstance(train, Split)
    fp32 = to_onnx(digits_cnn, test.x[:2])
    fp32_sess = session(fp32)
    cmp = compare(digits_cnn, fp32_sess, test)
    assert cmp["max_abs_diff"] <= TOL and cmp["onnx_score"] == cmp["torch_score"]
    assert cmp["torch_score"] == torch_score(digits_cnn, test) > 0.8

    int8 = quantize_int8(fp32, train.x[:512].cpu())
    assert capfd.readouterr() == ("", "")  # the quantizer's warnings and prints are silenced
    int8_sess = session(int8)
    assert abs(score(int8_sess, test) - cmp["torch_score"]) <= 0.01
    logits, targets = predict(int8_sess, test, batch_size=100)
    assert logits.shape == (len(test), 10) and torch.equal(targets, test.y)

    proto = onnx.load_from_string(int8)
    ops = [n.op_type for n in proto.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    inits = {i.name: i for i in proto.graph.initializer}
    dq = _weight_dequantizers(proto)
    weighted = [n for n in proto.graph.node if n.op_type in ("Conv", "Gemm")]
    assert len(weighted) == 3  # both convs and the head
    for node in weighted:
        weight_dq = dq[node.input[1]]
        codes, scale = inits[weight_dq.input[0]], inits[weight_dq.input[1]]
        assert codes.data_type == onnx.TensorProto.INT8
        axis = next((a.i for a in weight_dq.attribute if a.name == "axis"), 1)
        assert list(scale.dims) == [codes.dims[axis]] and codes.dims[axis] > 1  # per channel


def test_int8_needs_calibration_inputs() -> None:
    torch.manual_seed(0)
    model = create_space("mlp").build(create_space("mlp").spec_type((8,)), (1, 8, 8), 10)
    data = to_onnx(model.eval(), torch.randn(2, 1, 8, 8))
    with pytest.raises(ValueError, match="calibration") as err:
        quantize_int8(data, torch.empty(0, 1, 8, 8))
    assert "\n" not in str(err.value)


def test_latency_and_score_of_a_session() -> None:
    torch.manual_seed(0)
    model = _random_bn_stats(create_space("cnn").build(CNNSpec((8,)), (1, 8, 8), 10))
    fp32 = to_onnx(model, torch.randn(2, 1, 8, 8))
    int8 = quantize_int8(fp32, torch.rand(64, 1, 8, 8))
    for data in (fp32, int8):
        sess = session(data, threads=1)
        for batch in (1, 32):
            ms = latency_ms(sess, (1, 8, 8), batch=batch, reps=3, warmup=1)
            assert ms > 0 and math.isfinite(ms)
    gen = torch.Generator().manual_seed(2)
    x, y = torch.randn(20, 1, 8, 8, generator=gen), torch.randint(0, 10, (20,), generator=gen)
    split = Split(x, y)
    sess = session(fp32)
    assert score(sess, split) == torch_score(model, split)
    neg_mse = score(sess, Split(split.x, torch.randn(20, 10, generator=gen)), metric="neg_mse")
    assert neg_mse < 0


def test_without_the_onnx_extra_the_error_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now fails
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'frontier\[onnx\]'"):
        session(b"")
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    with pytest.raises(ModuleNotFoundError, match=r"frontier\[onnx\]"):
        to_onnx(nn.Linear(2, 2), torch.zeros(2, 2))


def test_importing_objectives_imports_no_onnx_package() -> None:
    code = ("import importlib, pkgutil, sys, objectives, objectives.deploy as d\n"
            "for m in pkgutil.iter_modules(d.__path__):\n"
            "    importlib.import_module(f'objectives.deploy.{m.name}')\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('onnx', 'onnxscript', 'onnxruntime')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(("machine", "flags", "saturates"), [
    ("x86_64", "flags\t: fpu sse2 avx2 fma", True),  # AVX2 alone: VPMADDUBSW saturates
    ("x86_64", "flags\t: avx2 avx512f avx512_vnni", False),
    ("x86_64", "flags\t: avx2 avx_vnni", False),
    ("aarch64", "Features\t: fp asimd", False),
])
def test_weights_are_range_reduced_only_where_u8s8_saturates(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, machine: str, flags: str,
        saturates: bool) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\n{flags}\n")
    monkeypatch.setattr(int8_module.platform, "machine", lambda: machine)
    real = Path
    monkeypatch.setattr(int8_module, "Path",
                        lambda p: info if p == "/proc/cpuinfo" else real(p))
    assert u8s8_saturates() is saturates
