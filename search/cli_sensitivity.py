"""``frontier sensitivity FILE.toml``: the sensitivity table of a compress study's base and the
warm-start allocations it suggests, without writing a study (``docs/compress.md``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from objectives.sensitivity import sensitivity
from search.compress_mode.warm import (
    allocation_line,
    budget_objective,
    space_units,
    warm_allocations,
)
from search.config import load_config
from search.errors import ConfigError
from search.results.sensitivity import write_table
from search.run import prepare
from search.safe_files import check_out_dir
from search.visualization.pareto_plot import write_html
from search.visualization.sensitivity import sensitivity_figure
from spaces.base import BaseSpace

__all__ = ["cmd_sensitivity"]


def cmd_sensitivity(args: argparse.Namespace) -> None:
    """Load the study file's data and base, compute the table of the units its space searches
    (a progress bar on stderr), write ``sensitivity.csv`` and ``sensitivity.html`` into
    ``--out`` (default: the study's output folder) and print one allocation per budget."""
    cfg = load_config(args.config)
    if cfg.mode != "compress":
        raise ConfigError(f"study.mode: sensitivity analyses the trained model of [base]; "
                          f"{args.config} has mode = {cfg.mode!r}, set mode = \"compress\" and "
                          "a [base] table")
    out = check_out_dir(args.out or cfg.out_dir, "--out")
    data, space = prepare(cfg, out=out)
    assert isinstance(space, BaseSpace)  # compress mode: attach_base refused any other
    units = space_units(space, tuple(data.input_shape))
    if not units:
        raise ConfigError("space: no unit to analyse; set per_layer_prune = true (with "
                          "prune_method \"structured\"), per_layer_bits = true or "
                          "drop_blocks = true")
    with tqdm(total=1 + sum(len(u.values) for u in units), unit="row", desc="sensitivity",
              file=sys.stderr, dynamic_ncols=True) as bar:
        def progress(done: int, total: int) -> None:
            bar.n = done
            bar.refresh()

        table = sensitivity(space.base(), data, units, progress=progress)
    csv = write_table(table, Path(out) / "sensitivity.csv")
    page = write_html(sensitivity_figure(table), Path(out) / "sensitivity.html")
    objective = budget_objective(cfg.objectives)
    for alloc in warm_allocations(space, table, objective, tuple(data.input_shape)):
        print(allocation_line(alloc))
    print(f"wrote {csv}, {page}")
