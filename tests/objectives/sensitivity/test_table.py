import pandas as pd
import pytest
import torch

from objectives.data import TensorData
from objectives.metrics import accuracy
from objectives.sensitivity import COLUMNS, Unit, sensitivity
from tests.objectives.sensitivity.conftest import Net

IDENTITY = {"width": 1.0, "bits": 32, "depth": False}


def _row(table: pd.DataFrame, kind: str, unit: str, value: object) -> pd.Series:
    rows = table[(table["kind"] == kind) & (table["unit"] == unit) & (table["value"] == value)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_one_row_per_unit_and_value_plus_the_base(table: pd.DataFrame,
                                                  units: list[Unit]) -> None:
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == 1 + sum(len(u.values) for u in units)
    assert list(table["kind"]).count("base") == 1
    got = [(r.kind, r.unit, r.value) for r in table.iloc[1:].itertuples()]
    assert got == [(u.kind, u.name, v) for u in units for v in u.values]


def test_identity_rows_equal_the_base(table: pd.DataFrame, trained: Net,
                                      digits: TensorData) -> None:
    base = table.iloc[0]
    assert base["val_score"] == pytest.approx(accuracy(trained, digits.val))
    for kind, value in IDENTITY.items():
        rows = table[(table["kind"] == kind) & (table["value"] == value)]
        assert len(rows) > 0
        for _, row in rows.iterrows():
            assert row["val_score"] == base["val_score"] and row["drop"] == 0.0
            assert (row["params"], row["macs"], row["size_bytes"]) == (
                base["params"], base["macs"], base["size_bytes"])
    assert table["drop"].max() > 0.1  # a quarter of a group or 2-bit weights do hurt


def test_halving_the_first_conv_costs_what_a_hand_count_says(table: pd.DataFrame) -> None:
    base, half = table.iloc[0], _row(table, "width", "features.0", 0.5)
    # conv 1→8 keeps 4 filters (9 weights + 1 bias each), its batch norm 4 (2 affines each),
    # conv 8→16 keeps 4 of its 8 inputs (16 × 4 × 9 weights); on the 8×8 input the first conv
    # loses 4 × 64 outputs × 9, the second 16 × 64 outputs × 4 × 9.
    assert base["params"] - half["params"] == 4 * 10 + 4 * 2 + 16 * 4 * 9
    assert base["macs"] - half["macs"] == 4 * 64 * 9 + 16 * 64 * 4 * 9
    assert half["size_bytes"] < base["size_bytes"]


def test_dropping_the_block_and_quantizing_a_layer_cost_what_they_remove(
        table: pd.DataFrame) -> None:
    base, dropped = table.iloc[0], _row(table, "depth", "block", True)
    assert base["params"] - dropped["params"] == 16 * 16 * 9 + 16 + 2 * 16
    assert base["macs"] - dropped["macs"] == 16 * 64 * 16 * 9
    eight = _row(table, "bits", "block.0", 8)
    assert eight["macs"] == base["macs"]
    # 2304 weights at 8 bits instead of 32, plus 16 float32 scales
    assert base["size_bytes"] - eight["size_bytes"] == pytest.approx(2304 * 3 - 16 * 4, abs=64)


def test_the_model_is_left_as_it_was_and_progress_counts_rows(trained: Net,
                                                              digits: TensorData) -> None:
    before = {k: v.clone() for k, v in trained.state_dict().items()}
    trained.train()
    seen: list[tuple[int, int]] = []
    units = [Unit("width", "features.3", (0.5,)), Unit("bits", "head.2", (2,)),
             Unit("depth", "block", (True,))]
    table = sensitivity(trained, digits, units, progress=lambda d, t: seen.append((d, t)))
    trained.eval()
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)] and len(table) == 4
    assert all(torch.equal(before[k], v) for k, v in trained.state_dict().items())
    assert isinstance(trained.block[0], torch.nn.Conv2d) and trained.features[3].out_channels == 16
