import io
import itertools
import random

import pandas as pd
import pytest

from objectives.sensitivity import allocate

IDENTITY = {"width": 1.0, "bits": 32, "depth": False}


def _table(units: dict[tuple[str, str], list[tuple[object, float, float]]],
           base_cost: float = 100.0) -> pd.DataFrame:
    """A sensitivity table from ``(kind, unit) -> [(value, drop, macs), ...]``."""
    rows = [{"kind": "base", "unit": "", "value": None, "val_score": 0.9, "drop": 0.0,
             "params": 1000, "macs": base_cost, "size_bytes": 4000}]
    for (kind, unit), options in units.items():
        rows += [{"kind": kind, "unit": unit, "value": v, "val_score": 0.9 - d, "drop": d,
                  "params": 1000, "macs": c, "size_bytes": 4000} for v, d, c in options]
    return pd.DataFrame(rows)


TINY = _table({("width", "a"): [(1.0, 0.0, 100), (0.5, 0.02, 80), (0.25, 0.10, 70)],
               ("width", "b"): [(1.0, 0.0, 100), (0.5, 0.05, 75), (0.25, 0.08, 65)]})


def test_a_tiny_table_gives_its_known_optimum() -> None:
    ones, quarter, half, fourth = allocate(TINY, "macs", [1, 1.25, 2, 4])
    assert ones["choice"] == {"width": {"a": 1.0, "b": 1.0}} and ones["estimated_drop"] == 0
    # ×1.25: 20 MACs to save, a at 0.5 alone does it
    assert quarter["choice"]["width"] == {"a": 0.5, "b": 1.0}
    assert quarter["estimated_cost"] == 80 and quarter["feasible"]
    # ×2: 50 to save; a 0.5 + b 0.25 (drop 0.10) beats a 0.25 + b 0.5 (0.15) and both at 0.25
    assert half["choice"]["width"] == {"a": 0.5, "b": 0.25}
    assert half["estimated_drop"] == pytest.approx(0.10) and half["estimated_cost"] == 45
    assert (half["budget"], half["objective"], half["limit"]) == (2.0, "macs", 50.0)
    # ×4: 25 MACs is below the cheapest estimate (35): that one, marked infeasible
    assert fourth["choice"]["width"] == {"a": 0.25, "b": 0.25}
    assert fourth["estimated_cost"] == 35 and not fourth["feasible"]


def test_the_solution_is_the_brute_force_optimum() -> None:
    rng = random.Random(0)
    values = (1.0, 0.75, 0.5, 0.25)
    units = {("width", f"u{i}"): [(1.0, 0.0, 200.0)] + [
        (v, rng.uniform(0.0, 0.2), 200.0 - rng.uniform(1.0, 40.0)) for v in values[1:]]
        for i in range(4)}
    table = _table(units, base_cost=200.0)
    results = allocate(table, "macs", [1.1, 1.5, 2.0, 3.0, 10.0])
    for result in results:
        drops = [sum(o[1] for o in combo) for combo in itertools.product(*units.values())
                 if 200 + sum(o[2] - 200 for o in combo) <= result["limit"]]
        assert result["feasible"] == bool(drops)
        if drops:
            assert result["estimated_drop"] == pytest.approx(min(drops), abs=1e-9)
            assert result["estimated_cost"] <= result["limit"]
    assert results[0]["feasible"] and not results[-1]["feasible"]  # both branches exercised


def test_real_table_budgets_are_met_and_x1_keeps_the_base(table: pd.DataFrame) -> None:
    for objective in ("macs", "params", "size_bytes"):
        results = allocate(table, objective, [1, 1.5, 2, 4, 8])
        base = float(table.iloc[0][objective])
        for r in results:
            assert r["limit"] == pytest.approx(base / r["budget"])
            if r["feasible"]:
                assert r["estimated_cost"] <= r["limit"] + 1e-6
        first = results[0]
        assert first["estimated_drop"] == 0 and first["estimated_cost"] == base
        assert all(v == IDENTITY[kind] for kind, chosen in first["choice"].items()
                   for v in chosen.values())
        assert set(first["choice"]) == {"width", "bits", "depth"}


def test_a_table_read_back_from_csv_allocates_the_same(table: pd.DataFrame) -> None:
    text = io.StringIO()
    table.to_csv(text, index=False)
    text.seek(0)
    again = pd.read_csv(text)
    assert allocate(again, "size_bytes", [2, 4]) == allocate(table, "size_bytes", [2, 4])


def test_nothing_inside_a_dropped_module_is_counted_again() -> None:
    table = _table({("width", "block.0"): [(1.0, 0.0, 100), (0.5, 0.0, 80)],
                    ("depth", "block"): [(False, 0.0, 100), (True, 0.01, 50)],
                    ("width", "stem"): [(1.0, 0.0, 100), (0.5, 0.3, 70)]})
    # 70 to save: block dropped (50) + block.0 halved (20) would count block.0 twice
    (result,) = allocate(table, "macs", [100 / 30])
    assert result["choice"] == {"width": {"block.0": 1.0, "stem": 0.5}, "depth": {"block": True}}


def test_a_missing_identity_row_is_free_and_negative_drops_count_as_zero() -> None:
    table = _table({("bits", "fc"): [(8, -0.01, 100)], ("width", "c"): [(0.5, 0.05, 60)]})
    one, two = allocate(table, "macs", [1, 1.5])
    assert one["choice"] == {"width": {"c": 1.0}, "bits": {"fc": 32}}
    assert two["choice"] == {"width": {"c": 0.5}, "bits": {"fc": 32}}
    assert two["estimated_drop"] == pytest.approx(0.05)


def test_bad_arguments_name_the_field() -> None:
    with pytest.raises(ValueError, match="objective: 'latency'"):
        allocate(TINY, "latency", [2])
    with pytest.raises(ValueError, match=r"budgets: factor 0\.5"):
        allocate(TINY, "macs", [0.5])
    with pytest.raises(ValueError, match="table: 2 base rows"):
        allocate(pd.concat([TINY, TINY.iloc[:1]]), "macs", [2])
    with pytest.raises(ValueError, match=r"two rows at value 0\.5"):
        allocate(pd.concat([TINY, TINY.iloc[2:3]]), "macs", [2])
