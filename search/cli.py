"""``python -m search`` / ``frontier``: run, resume, worker, pareto, plot, report, export,
dashboard, ls, sensitivity."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

import optuna

from search.cli_commands import COMMANDS
from search.errors import FrontierError
from search.progress import DEFAULT_LOG, LOG_MODES
from search.storage.urls import DEFAULT_STORAGE
from search.storage.workers import STORAGE_ENV

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="frontier", description=(
        "Search neural-network structures with Optuna: train, prune, quantize, measure, and "
        "export the Pareto front of accuracy against parameters."))
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _run_commands(sub)
    _read_commands(sub)
    _model_commands(sub)
    return p


def _log_args(q: argparse.ArgumentParser) -> None:
    q.add_argument("--log", choices=LOG_MODES, default=DEFAULT_LOG, help=(
        "bar: progress bars for trials and epochs (default); quiet: nothing while running; "
        "jsonl: one JSON event per line on stdout, for scripts"))
    q.add_argument("--quiet", dest="log", action="store_const", const="quiet",
                   help="same as --log quiet")
    q.add_argument("--tensorboard", metavar="DIR", help=(
        "log every trial to TensorBoard under DIR/STUDY (overrides [logging] tensorboard)"))
    q.add_argument("--mlflow", metavar="URI", help=(
        "log every trial to MLflow, e.g. file:runs/mlruns (overrides [logging] mlflow)"))


def _storage_arg(q: argparse.ArgumentParser, default: str | None = DEFAULT_STORAGE) -> None:
    q.add_argument("--storage", default=default, help=(
        "storage URL or path: x.db / sqlite:///x.db (default "
        f"{DEFAULT_STORAGE}), x.log (journal file), postgresql://user:pw@host/db"))


def _run_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """run, resume, worker: the commands that run trials."""
    q = sub.add_parser("run", help="create (or continue) the study a TOML file describes")
    q.add_argument("config", help="study TOML file, e.g. studies/digits_cnn.toml")
    _storage_arg(q, default=None)
    q.add_argument("--n-trials", type=int, help="override study.n_trials")
    q.add_argument("--out", help="output folder (default: study.output_dir or runs/NAME)")
    _log_args(q)
    q.add_argument("--workers", type=int, default=1, help=(
        "local worker processes (needs a journal file or PostgreSQL storage)"))

    q = sub.add_parser("resume", help="continue a stored study to its target of trials")
    _storage_arg(q)
    q.add_argument("--study", required=True, help="study name")
    q.add_argument("--n-trials", type=int, help="new target of finished trials")
    q.add_argument("--out", help="output folder (default: the stored one)")
    _log_args(q)

    q = sub.add_parser("worker", help=(
        "join a stored study from any process or machine and work until its target"))
    q.add_argument("--storage", help=(
        f"storage URL or path, as for the other commands (default: the environment variable "
        f"{STORAGE_ENV}, which keeps a password off the command line, else {DEFAULT_STORAGE})"))
    q.add_argument("--study", required=True, help="study name")
    q.add_argument("--n-trials", type=int, help="target of finished trials (default: stored)")
    q.add_argument("--threads", type=int, help="torch CPU threads for this worker (>= 1)")
    _log_args(q)


def _read_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """pareto, plot, report: what a stored study shows."""
    q = sub.add_parser("pareto", help="write pareto.csv, pareto.json, trials.csv; print front")
    _storage_arg(q)
    q.add_argument("--study", required=True, help="study name")
    q.add_argument("--out", help="output folder (default: the stored one)")

    q = sub.add_parser("plot", help="write the Pareto plot as self-contained HTML")
    _storage_arg(q)
    q.add_argument("--study", required=True, help="study name")
    q.add_argument("--out", help="HTML file (default: OUTPUT_DIR/pareto.html)")
    q.add_argument("--png", metavar="FILE", help="also write the plot as PNG (kaleido + Chromium)")
    q.add_argument("--svg", metavar="FILE", help="also write the plot as SVG (kaleido + Chromium)")

    q = sub.add_parser("report", help=(
        "write the study report: one self-contained offline HTML file"))
    _storage_arg(q)
    q.add_argument("--study", required=True, help="study name")
    q.add_argument("--out", help="HTML file (default: OUTPUT_DIR/report.html)")
    q.add_argument("--png", metavar="DIR", help="also write every figure as DIR/NAME.png")
    q.add_argument("--svg", metavar="DIR", help="also write every figure as DIR/NAME.svg")
    q.add_argument("--screenshot", metavar="FILE", help=(
        "also save a PNG screenshot of the report page (headless Chromium)"))


def _model_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """export, dashboard, ls, sensitivity."""
    q = sub.add_parser("export", help=(
        "write a trial's model folder: spec, packed weights, torch.export program (and ONNX)"))
    _storage_arg(q)
    q.add_argument("--study", required=True, help="study name")
    q.add_argument("--trial", required=True, type=int, help="trial number (a COMPLETE trial)")
    q.add_argument("--out", required=True, help="model folder to write")
    q.add_argument("--onnx", action="store_true", help=(
        "also write model.onnx, checked in ONNX Runtime against PyTorch and timed (onnx.json)"))
    q.add_argument("--int8", action="store_true", help=(
        "also write model.onnx and model.int8.onnx (ONNX Runtime static int8, calibrated on "
        "training inputs), with accuracy and latency against PyTorch (int8.json)"))

    q = sub.add_parser("dashboard", help=(
        "serve optuna-dashboard on the storage (the optional 'dashboard' extra)"))
    _storage_arg(q)
    q.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    q.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    q.add_argument("--artifacts", help=(
        "a study's OUTPUT_DIR/artifacts folder, to list each trial's stored weights"))

    q = sub.add_parser("ls", help="list the studies in a storage with trial counts")
    _storage_arg(q)
    q.add_argument("--study", help="also list this study's failed and stopped trials with reasons")

    q = sub.add_parser("sensitivity", help=(
        "compress mode: the base's sensitivity table and warm-start allocations (no study)"))
    q.add_argument("config", help="study TOML file with mode = \"compress\" and [base]")
    q.add_argument("--out", help=(
        "folder for sensitivity.csv and sensitivity.html (default: study.output_dir or "
        "runs/NAME)"))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 for bad input, 130 when interrupted)."""
    args = _parser().parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    with warnings.catch_warnings():
        if not sys.warnoptions:  # -W / PYTHONWARNINGS: the user asked to see library warnings
            warnings.simplefilter("ignore")  # else they are noise (PED-ANOVA, deprecations)
        try:
            COMMANDS[args.command](args)
        except FrontierError as err:
            print(f"frontier: error: {err}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return 130
    return 0
