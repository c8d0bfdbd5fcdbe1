"""The packed weights format (objectives.compress.packing): bit-identical round trips, the
cheapest index per tensor, exact sizes, and refusing files of another layout."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save as st_save
from torch import nn

from objectives.compress import packing
from objectives.compress.packing import (
    FORMAT,
    describe,
    is_packed,
    load_packed,
    pack,
    packed_size,
    save_packed,
    tensor_bytes,
    unpack,
)
from objectives.compress.plan import bits_by_layer, replay_steps
from objectives.compress.quantize import fake_quantize
from objectives.data import TensorData
from objectives.metrics import weight_bits
from objectives.pipeline import Budget, evaluate
from spaces import CNNSpec, CompressSpec, create_space


def _bits_of(t: torch.Tensor) -> bytes:
    return t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def _assert_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert list(a) == list(b)
    for key in a:
        assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, key
        assert _bits_of(a[key]) == _bits_of(b[key]), key


def _header_size(data: bytes) -> int:
    return 8 + int.from_bytes(data[:8], "little")


def _quantized(shape: tuple[int, ...], bits: int, prune: float, seed: int = 0) -> torch.Tensor:
    """``fake_quantize(w * mask, bits) + 0.0``, as a baked candidate holds it."""
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(shape, generator=gen)
    mask = (torch.rand(shape, generator=gen) >= prune).float()
    return fake_quantize(w * mask, bits) + 0.0


def _model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(4, 16, 3), nn.BatchNorm2d(16), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
    model(torch.randn(8, 4, 6, 6))  # running statistics, num_batches_tracked = 1
    return model


def _runs_bytes(flat_nonzero: np.ndarray, width: int) -> int:
    """Runs index bytes (k byte, varint count, entries) at the best k, by the formula."""
    pos = np.flatnonzero(flat_nonzero)
    gaps = np.diff(pos, prepend=-1) - 1
    sizes = []
    for k in range(1, 17):
        entries = len(pos) + sum(int(g) // 2**k for g in gaps)
        varint = max(1, math.ceil(entries.bit_length() / 7))
        sizes.append(1 + varint + math.ceil(entries * (k + width) / 8))
    return min(sizes)


@pytest.mark.parametrize("prune", [0.0, 0.5, 0.95])
@pytest.mark.parametrize("bits", [2, 3, 4, 6, 8, 32])
def test_round_trip_is_bit_identical(bits: int, prune: float) -> None:
    model = _model()
    state = model.state_dict()
    for key in ["0.weight", "5.weight"]:
        w = state[key] * (torch.rand_like(state[key]) >= prune).float()
        w[2] = 0  # a fully zero output channel
        state[key] = fake_quantize(w, bits) + 0.0
    weight_bits = {"0.weight": bits, "5.weight": bits}
    data = pack(state, weight_bits)
    out = unpack(data, model.state_dict())
    _assert_identical(state, out)
    assert out["1.num_batches_tracked"].item() == 1
    model.load_state_dict(out)
    assert len(data) == packed_size(state, weight_bits) + _header_size(data)
    conv = describe(state, weight_bits)[0]
    assert conv["key"] == "0.weight" and conv["bits"] == bits  # quantized, not the raw fallback
    assert conv["nonzero"] == int(torch.count_nonzero(state["0.weight"]))


def _expected_quantized_record(t: torch.Tensor, bits: int) -> dict[str, int]:
    nz = (t != 0).reshape(-1).numpy()
    n, nnz = nz.size, int(nz.sum())
    return {"dense": math.ceil(n * bits / 8), "bitmap": math.ceil((n + nnz * bits) / 8),
            "runs": _runs_bytes(nz, bits)}


@pytest.mark.parametrize(("prune", "index"), [(0.0, "dense"), (0.5, "bitmap"), (0.99, "runs")])
def test_index_is_the_cheapest_by_the_formulas(prune: float, index: str) -> None:
    t = _quantized((4, 2048), 8, prune, seed=1)
    (row,) = describe({"w": t}, {"w": 8})
    expected = _expected_quantized_record(t, 8)
    assert row["index"] == index and row["bits"] == 8
    assert row["nonzero"] == int(torch.count_nonzero(t))
    assert expected[index] == min(expected.values())
    header = 2 + 4 * t.shape[0]  # kind byte, bits byte, float32 scales
    assert row["bytes"] == header + expected[index] == tensor_bytes(t, 8)
    _assert_identical({"w": t}, unpack(pack({"w": t}, {"w": 8}), {"w": t}))


def test_sizes_are_exact_and_zeros_are_not_free() -> None:
    dense = _quantized((64, 64), 4, 0.0)
    assert describe({"w": dense}, {"w": 4})[0]["index"] == "dense"
    assert tensor_bytes(dense, 4) == 2 + 4 * 64 + 64 * 64 * 4 // 8  # 1/8 of float32 + scales
    full = torch.randn(64, 64)
    assert tensor_bytes(full) == 1 + 4 * 64 * 64  # float32, every element stored
    pruned = _quantized((64, 64), 4, 0.9)
    nnz = int(torch.count_nonzero(pruned))
    assert tensor_bytes(pruned, 4) > 2 + 4 * 64 + math.ceil(nnz * 4 / 8)  # the index costs
    assert tensor_bytes(pruned, 4) < tensor_bytes(dense, 4) / 2
    state = {"a": dense, "b": pruned, "c": torch.randn(64), "n": torch.tensor(3)}
    bits = {"a": 4, "b": 4}
    data = pack(state, bits)
    size = packed_size(state, bits)
    assert size == sum(int(str(r["bytes"])) for r in describe(state, bits))
    assert len(data) - size == _header_size(data) < 512
    assert len(data) <= 1.05 * size + 512


def test_header_stays_small_with_many_long_names() -> None:
    state = {f"backbone.stage{i // 10}.block{i % 10}.some_rather_long_module_name.weight":
             torch.randn(3) for i in range(200)}
    data = pack(state, {})
    assert len(data) - packed_size(state, {}) < 512
    _assert_identical(state, unpack(data, state))


def test_negative_zero_survives() -> None:
    bias = torch.tensor([0.0, -0.0, 1.5, -0.0])
    weight = _quantized((8, 16), 4, 0.5)
    weight[weight == 0] = -0.0  # -0.0 takes the spare code, the tensor stays quantized
    weight[0] = 0.0
    state = {"w": weight, "b": bias}
    assert describe(state, {"w": 4})[0]["bits"] == 4
    out = unpack(pack(state, {"w": 4}), state)
    _assert_identical(state, out)
    assert torch.signbit(out["b"]).tolist() == [False, True, False, True]


def test_off_grid_tensor_falls_back_to_raw_float32() -> None:
    off_grid = torch.randn(16, 32)
    (row,) = describe({"w": off_grid}, {"w": 4})
    assert row["bits"] == 32 and row["bytes"] == 1 + 4 * off_grid.numel()
    _assert_identical({"w": off_grid}, unpack(pack({"w": off_grid}, {"w": 4}), {"w": off_grid}))


def test_scale_search_recovers_scales_amax_over_qmax_misses(
        monkeypatch: pytest.MonkeyPatch) -> None:
    gen = torch.Generator().manual_seed(3)
    scales = torch.rand(256, 1, generator=gen) * 10 ** torch.randint(-3, 3, (256, 1),
                                                                     generator=gen).float()
    codes = torch.randint(-7, 8, (256, 24), generator=gen).float()
    codes[:, 0] = 7  # every row reaches qmax, as fake_quantize's rows do
    grid = codes * scales  # float32 products: a 4-bit grid, though amax / 7 may miss the scale
    assert describe({"w": grid}, {"w": 4})[0]["bits"] == 4
    _assert_identical({"w": grid}, unpack(pack({"w": grid}, {"w": 4}), {"w": grid}))
    monkeypatch.setattr(packing, "_ULPS", 0)  # without the search some rows miss: raw
    assert describe({"w": grid}, {"w": 4})[0]["bits"] == 32


def test_one_dimensional_tensor_has_one_scale() -> None:
    gen = torch.Generator().manual_seed(4)
    sign = torch.where(torch.rand(64, generator=gen) > 0.5, 1, -1)
    codes = torch.randint(1, 8, (64,), generator=gen) * sign
    codes[0] = 7  # no zero code (a dense index), qmax reached
    grid = codes.float() * torch.tensor(0.37)  # float32 products: a per-tensor 4-bit grid
    assert tensor_bytes(grid, 4) == 2 + 4 + 64 * 4 // 8
    _assert_identical({"g": grid}, unpack(pack({"g": grid}, {"g": 4}), {"g": grid}))


def test_other_dtypes_round_trip() -> None:
    state = {"h": torch.randn(5, 3).half(), "bf": torch.randn(7).bfloat16(),
             "m": torch.rand(13) > 0.5, "i": torch.tensor([0, 5, -3, 0]), "e": torch.zeros(0, 4),
             "s": torch.tensor(2.5), "d": torch.randn(3, dtype=torch.float64)}
    _assert_identical(state, unpack(pack(state, {"h": 4, "s": 4}), state))


def test_layout_mismatch_and_garbage_are_refused(tmp_path: Path) -> None:
    model = _model()
    state = model.state_dict()
    data = pack(state, {"0.weight": 32})
    renamed = {("head.weight" if k == "5.weight" else k): v for k, v in state.items()}
    with pytest.raises(ValueError, match="layout"):
        unpack(data, renamed)
    reshaped = dict(state, **{"5.bias": torch.zeros(11)})
    with pytest.raises(ValueError, match="layout"):
        unpack(data, reshaped)
    with pytest.raises(ValueError, match="not a packed"):
        unpack(b"garbage bytes, not a file" * 4, state)
    meta = {"format": f"{FORMAT}; layout={packing._layout(state)}"}
    payload = np.frombuffer(data[_header_size(data):], np.uint8)
    truncated = st_save({"packed": payload[:-7]}, metadata=meta)
    with pytest.raises(ValueError, match="corrupt"):
        unpack(truncated, state)
    with pytest.raises(ValueError, match="corrupt"):
        unpack(st_save({"packed": np.concatenate([payload, payload[:3]])}, metadata=meta), state)

    path = tmp_path / "weights.safetensors"
    assert save_packed(path, state, {}) == path.stat().st_size
    assert is_packed(path) and is_packed(str(path)) and is_packed(path.read_bytes())
    _assert_identical(state, load_packed(path, model.state_dict()))
    torch.save(state, tmp_path / "old.pt")
    assert not is_packed(tmp_path / "old.pt")
    assert (tmp_path / "old.pt").read_bytes()[:2] == b"PK"
    assert not is_packed(tmp_path / "missing") and not is_packed(b"")
    foreign = st_save({"x": np.zeros(3, np.float32)}, metadata={"format": "pt"})
    assert not is_packed(foreign)


@pytest.mark.parametrize("bits", [5, 7, 12, 16])
def test_other_widths_round_trip(bits: int) -> None:
    state = {"w": _quantized((8, 40), bits, 0.5, seed=bits), "v": _quantized((6, 5), bits, 0.0)}
    assert [r["bits"] for r in describe(state, dict.fromkeys(state, bits))] == [bits, bits]
    _assert_identical(state, unpack(pack(state, dict.fromkeys(state, bits)), state))


@pytest.mark.parametrize(("bits", "method"), [(2, "unstructured"), (3, "structured"),
                                              (4, "unstructured"), (6, "structured"),
                                              (8, "unstructured")])
def test_trained_candidates_pack_within_the_bound_and_reload_bit_identically(
        digits: TensorData, bits: int, method: str) -> None:
    """A trained, pruned and quantized candidate, as a trial stores it: its file is the
    size_bytes it measured (plus the fixed header), and a model rebuilt from its Spec gets
    back bit-identical weights."""
    spec = CNNSpec((8, 16), compress=CompressSpec(prune_ratio=0.5, bits=bits, method=method))
    budget = Budget(epochs=1, finetune_epochs=1, qat_epochs=1, latency_reps=0)
    measured, model = evaluate(create_space("cnn"), spec, digits, budget, seed=bits)
    state = model.state_dict()
    data = pack(state, weight_bits(model, bits_by_layer(model, spec.compress)))
    assert measured.size_bytes < len(data) <= 1.05 * measured.size_bytes + 512
    fresh = replay_steps(create_space("cnn").build(spec, digits.input_shape, 10),
                           spec.compress, digits.input_shape)
    back = unpack(data, fresh.state_dict())  # the fresh model's key order (bias, weight moved)
    _assert_identical(dict(sorted(state.items())), dict(sorted(back.items())))
    float32 = sum(t.numel() * t.element_size() for t in state.values())
    assert measured.size_bytes < float32 * (bits + 4) / 32  # codes, not floats, on disk


def test_the_same_weights_give_the_same_bytes() -> None:
    state = {"w": _quantized((8, 40), 4, 0.5, seed=1), "b": torch.randn(8)}
    first = pack(state, {"w": 4})
    assert all(pack(state, {"w": 4}) == first for _ in range(20))  # no metadata order to vary
