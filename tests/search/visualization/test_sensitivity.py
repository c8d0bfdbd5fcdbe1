import io

import pandas as pd
import pytest

from search.visualization.sensitivity import sensitivity_figure


def _table() -> pd.DataFrame:
    rows = [("base", "", None, 0.9, 0.0), ("width", "conv1", 1.0, 0.9, 0.0),
            ("width", "conv1", 0.5, 0.7, 0.2), ("width", "conv2", 1.0, 0.9, 0.0),
            ("width", "conv2", 0.5, 0.85, 0.05), ("bits", "fc", 32, 0.9, 0.0),
            ("bits", "fc", 8, 0.9, 0.0), ("bits", "fc", 2, 0.5, 0.4),
            ("depth", "block", False, 0.9, 0.0), ("depth", "block", True, 0.6, 0.3)]
    return pd.DataFrame([{"kind": k, "unit": u, "value": v, "val_score": s, "drop": d,
                          "params": 100, "macs": 1000, "size_bytes": 400}
                         for k, u, v, s, d in rows])


def test_one_trace_per_unit_one_panel_per_kind() -> None:
    fig = sensitivity_figure(_table())
    assert [t.name for t in fig.data] == ["width: conv1", "width: conv2", "bits: fc",
                                          "depth: block"]
    assert list(fig.data[0].x) == [1.0, 0.5] and list(fig.data[0].y) == [0.0, 0.2]
    assert list(fig.data[2].x) == ["32", "8", "2"] and list(fig.data[3].x) == ["kept", "dropped"]
    assert [t.xaxis for t in fig.data] == ["x", "x", "x2", "x3"]
    assert "0.9000" in fig.layout.title.text


def test_a_table_read_back_from_csv_draws_the_same() -> None:
    text = io.StringIO()
    _table().to_csv(text, index=False)
    text.seek(0)
    again = sensitivity_figure(pd.read_csv(text))
    assert [list(t.x) for t in again.data] == [list(t.x) for t in sensitivity_figure(_table()).data]


def test_a_table_without_units_is_refused() -> None:
    with pytest.raises(ValueError, match="no unit rows"):
        sensitivity_figure(_table().iloc[:1])
