"""``python -m search`` / ``frontier``: run, resume, worker, pareto, plot, report, export,
dashboard, ls."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import optuna
import pandas as pd

from objectives.data import TensorData
from search.config import StudyConfig, load_config
from search.early_stop import state_name
from search.errors import ConfigError, FrontierError, StorageError
from search.progress import LOG_MODES
from search.results.deployment import LOGIT_TOLERANCE
from search.results.model_folder import export_trial
from search.results.outputs import write_outputs
from search.results.pareto import front_frame, metric_columns, metric_label, trials_frame
from search.run import FINISHED, count_finished, prepare, run_study
from search.storage.reaper import worker_id
from search.storage.urls import DEFAULT_STORAGE, open_storage, redact
from search.storage.workers import check_multiprocess_storage, run_workers
from search.study import create_or_load, load_existing, study_names
from search.tracking.mlflow import log_front_artifacts
from search.visualization.browser import screenshot
from search.visualization.dashboard import serve
from search.visualization.images import write_image, write_images
from search.visualization.pareto_plot import pareto_figure, write_html
from search.visualization.report import report_figures, write_report
from spaces.registry import Space

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="frontier", description=(
        "Search neural-network structures with Optuna: train, prune, quantize, measure, and "
        "export the Pareto front of accuracy against parameters."))
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def log_args(q: argparse.ArgumentParser) -> None:
        q.add_argument("--log", choices=LOG_MODES, default="bar", help=(
            "bar: progress bars for trials and epochs (default); quiet: nothing while running; "
            "jsonl: one JSON event per line on stdout, for scripts"))
        q.add_argument("--quiet", dest="log", action="store_const", const="quiet",
                       help="same as --log quiet")
        q.add_argument("--tensorboard", metavar="DIR", help=(
            "log every trial to TensorBoard under DIR/STUDY (overrides [logging] tensorboard)"))
        q.add_argument("--mlflow", metavar="URI", help=(
            "log every trial to MLflow, e.g. file:runs/mlruns (overrides [logging] mlflow)"))

    def storage_arg(q: argparse.ArgumentParser, default: str | None = DEFAULT_STORAGE) -> None:
        q.add_argument("--storage", default=default, help=(
            "storage URL or path: x.db / sqlite:///x.db (default "
            f"{DEFAULT_STORAGE}), x.log (journal file), postgresql://user:pw@host/db"))

    q = sub.add_parser("run", help="create (or continue) the study a TOML file describes")
    q.add_argument("config", help="study TOML file, e.g. studies/digits_cnn.toml")
    storage_arg(q, default=None)
    q.add_argument("--n-trials", type=int, help="override study.n_trials")
    q.add_argument("--out", help="output folder (default: study.output_dir or runs/NAME)")
    log_args(q)
    q.add_argument("--workers", type=int, default=1, help=(
        "local worker processes (needs a journal file or PostgreSQL storage)"))

    q = sub.add_parser("resume", help="continue a stored study to its target of trials")
    storage_arg(q)
    q.add_argument("--study", required=True, help="study name")
    q.add_argument("--n-trials", type=int, help="new target of finished trials")
    q.add_argument("--out", help="output folder (default: the stored one)")
    log_args(q)

    q = sub.add_parser("worker", help=(
        "join a stored study from any process or machine and work until its target"))
    storage_arg(q)
    q.add_argument("--study", required=True, help="study name")
    q.add_argument("--n-trials", type=int, help="target of finished trials (default: stored)")
    q.add_argument("--threads", type=int, help="torch CPU threads for this worker")
    log_args(q)

    q = sub.add_parser("pareto", help="write pareto.csv, pareto.json, trials.csv; print front")
    storage_arg(q)
    q.add_argument("--study", required=True, help="study name")
    q.add_argument("--out", help="output folder (default: the stored one)")

    q = sub.add_parser("plot", help="write the Pareto plot as self-contained HTML")
    storage_arg(q)
    q.add_argument("--study", required=True, help="study name")
    q.add_argument("--out", help="HTML file (default: OUTPUT_DIR/pareto.html)")
    q.add_argument("--png", metavar="FILE", help="also write the plot as PNG (kaleido + Chromium)")
    q.add_argument("--svg", metavar="FILE", help="also write the plot as SVG (kaleido + Chromium)")

    q = sub.add_parser("report", help=(
        "write the study report: one self-contained offline HTML file"))
    storage_arg(q)
    q.add_argument("--study", required=True, help="study name")
    q.add_argument("--out", help="HTML file (default: OUTPUT_DIR/report.html)")
    q.add_argument("--png", metavar="DIR", help="also write every figure as DIR/NAME.png")
    q.add_argument("--svg", metavar="DIR", help="also write every figure as DIR/NAME.svg")
    q.add_argument("--screenshot", metavar="FILE", help=(
        "also save a PNG screenshot of the report page (headless Chromium)"))

    q = sub.add_parser("export", help=(
        "write a trial's model folder: spec, packed weights, torch.export program (and ONNX)"))
    storage_arg(q)
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
    storage_arg(q)
    q.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    q.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    q.add_argument("--artifacts", help=(
        "a study's OUTPUT_DIR/artifacts folder, to list each trial's stored weights"))

    q = sub.add_parser("ls", help="list the studies in a storage with trial counts")
    storage_arg(q)
    q.add_argument("--study", help="also list this study's failed and stopped trials with reasons")
    return p


def _finish(study: optuna.Study, out_dir: Path, log: str = "bar") -> None:
    paths = write_outputs(study, out_dir)
    if log == "jsonl":
        print(json.dumps({"event": "outputs", "study": study.study_name,
                          "files": {k: str(v) for k, v in paths.items()}}))
        return
    if log != "quiet":
        _print_front(study)
    print(f"wrote {', '.join(str(p) for p in paths.values())}")


def _say(log: str, message: str) -> None:
    if log != "jsonl":
        print(message)


def _print_front(study: optuna.Study) -> None:
    front = front_frame(study)
    if front.empty:
        print("the front is empty (no complete trials yet)")
        return
    shown = metric_columns(study)  # val_accuracy is val_<metric> for a study's own metric
    cols = ["trial", *(shown.get(c, c) for c in ("val_accuracy", "test_accuracy")), "params",
            "size_bytes", "macs"]
    cols += [c for c in front.columns if c in ("param_bits", "param_prune_ratio")]
    with pd.option_context("display.width", 160, "display.max_columns", 20,
                           "display.float_format", "{:.4f}".format):
        print(front[cols].to_string(index=False))


def _n_trials(value: int | None) -> int | None:
    if value is not None and value < 1:
        raise ConfigError(f"--n-trials: {value} must be >= 1")
    return value


def _with_logging(cfg: StudyConfig, args: argparse.Namespace, *, stored: bool) -> StudyConfig:
    """``cfg`` with ``--tensorboard`` / ``--mlflow`` in its ``[logging]`` section."""
    given = {k: v for k in ("tensorboard", "mlflow") if (v := getattr(args, k)) is not None}
    if not given:
        return cfg
    return dataclasses.replace(cfg, logging=dataclasses.replace(cfg.logging, **given),
                               stored=stored)


def _log_artifacts(study: optuna.Study, cfg: StudyConfig, log: str) -> None:
    if cfg.logging.mlflow and cfg.logging.mlflow_artifacts:
        n = log_front_artifacts(study, cfg, cfg.logging.mlflow)
        _say(log, f"logged the model folders of {n} front trials to MLflow")


def _cmd_run(args: argparse.Namespace) -> None:
    cfg = _with_logging(load_config(args.config), args, stored=False)
    n = _n_trials(args.n_trials)
    url = args.storage or cfg.storage or DEFAULT_STORAGE
    out = Path(args.out) if args.out else cfg.out_dir
    if args.workers < 1:
        raise ConfigError(f"--workers: {args.workers} must be >= 1")
    if args.workers > 1:
        check_multiprocess_storage(url)
    data, space = prepare(cfg)  # data, checkpoint, a user builder: before the study is written
    study = create_or_load(cfg, url)
    if args.workers == 1:
        _optimize(study, cfg, url, n, args.log, out, (data, space))
        return
    failed = run_workers(study, url, args.workers, n or cfg.n_trials,
                         progress=args.log == "bar", device=cfg.device,
                         extra_args=cfg.logging.worker_args())
    if failed:
        raise FrontierError(f"--workers: {failed} of {args.workers} workers exited with an "
                            "error; their messages are above")
    _say(args.log, f"study {study.study_name!r}: {count_finished(study)} finished trials in "
         f"{redact(url)} ({args.workers} workers)")
    _log_artifacts(study, cfg, args.log)
    _finish(study, out, args.log)


def _cmd_worker(args: argparse.Namespace) -> None:
    n = _n_trials(args.n_trials)
    study, cfg = load_existing(args.storage, args.study, worker=worker_id())
    cfg = _with_logging(cfg, args, stored=True)
    done = run_study(study, cfg, n_trials=n, log=args.log, threads=args.threads)
    if args.log == "bar":
        print(f"worker {worker_id()}: study {study.study_name!r} holds {done} finished trials")


def _cmd_resume(args: argparse.Namespace) -> None:
    n = _n_trials(args.n_trials)
    study, cfg = load_existing(args.storage, args.study)
    cfg = _with_logging(cfg, args, stored=True)
    _optimize(study, cfg, args.storage, n, args.log,
              Path(args.out) if args.out else cfg.out_dir)


def _optimize(study: optuna.Study, cfg: StudyConfig, url: str, n: int | None, log: str,
              out: Path, prepared: tuple[TensorData, Space] | None = None) -> None:
    data, space = prepared or (None, None)
    try:
        done = run_study(study, cfg, n_trials=n, log=log, data=data, space=space)
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with: frontier resume --storage {redact(url)} "
              f"--study {study.study_name}", file=sys.stderr)
        raise
    _say(log, f"study {study.study_name!r}: {done} finished trials in {redact(url)}")
    _log_artifacts(study, cfg, log)
    _finish(study, out, log)


def _cmd_pareto(args: argparse.Namespace) -> None:
    study, cfg = load_existing(args.storage, args.study)
    _finish(study, Path(args.out) if args.out else cfg.out_dir)


def _cmd_plot(args: argparse.Namespace) -> None:
    study, cfg = load_existing(args.storage, args.study)
    path = Path(args.out) if args.out else cfg.out_dir / "pareto.html"
    fig = pareto_figure(study)
    print(f"wrote {write_html(fig, path)}")
    for image in (args.png, args.svg):
        if image:
            print(f"wrote {write_image(fig, image)}")


def _cmd_report(args: argparse.Namespace) -> None:
    study, cfg = load_existing(args.storage, args.study)
    path = Path(args.out) if args.out else cfg.out_dir / "report.html"
    figures = report_figures(study, cfg.objectives)
    print(f"wrote {write_report(study, path, cfg.objectives, figures)}")
    drawn = {name: fig for name, fig in figures.items() if not isinstance(fig, str)}
    for folder, fmt in ((args.png, "png"), (args.svg, "svg")):
        if folder:
            print(f"wrote {', '.join(str(p) for p in write_images(drawn, folder, [fmt]))}")
    if args.screenshot:
        console = screenshot(path, args.screenshot)
        print(f"wrote {args.screenshot}")
        for line in console:
            print(f"frontier: warning: the report page logged: {line}", file=sys.stderr)


def _cmd_export(args: argparse.Namespace) -> None:
    study, cfg = load_existing(args.storage, args.study)
    done = export_trial(study, args.trial, args.out, cfg, onnx=args.onnx, int8=args.int8)
    where = "on the front" if done.on_front else "not on the front"
    stored = done.stored_test_accuracy
    size = "?" if done.size_bytes is None else f"{done.size_bytes:,}"
    print(f"wrote {done.out_dir}: spec.json, model.json, weights.safetensors "
          f"({done.weights_bytes:,} bytes; size_bytes {size}), program.pt2, metrics.json "
          f"(trial {done.trial}, {where})")
    metric = metric_label(study)
    for d in done.deployed:
        lat = ", ".join(f"batch {b}: {ms:.3f} ms (PyTorch {d.torch_latency_ms[b]:.3f})"
                        for b, ms in d.latency_ms.items())
        acc = ("" if d.accuracy is None else
               f"test {metric} {d.accuracy:.4f} (PyTorch {d.torch_accuracy:.4f}), ")
        print(f"wrote {d.file} ({d.bytes:,} bytes): {acc}max logit difference "
              f"{d.max_logit_diff:.2e}, ONNX Runtime CPU latency {lat}")
        if d.file == "model.onnx" and d.max_logit_diff > LOGIT_TOLERANCE:
            print(f"frontier: warning: {d.file}'s logits differ from PyTorch's by "
                  f"{d.max_logit_diff:.2e} (> {LOGIT_TOLERANCE:g})", file=sys.stderr)
    if done.test_accuracy is None:  # not an error: the folder is complete
        print(f"frontier: warning: test {metric} not re-checked: the data cannot be loaded here "
              f"({done.no_data})", file=sys.stderr)
        return
    print(f"rebuilt model: test {metric} {done.test_accuracy:.6f} (stored "
          f"{'?' if stored is None else f'{stored:.6f}'})")
    if stored is not None and abs(done.test_accuracy - stored) > 1e-6:
        print(f"frontier: warning: the rebuilt model's test {metric} differs from the stored one "
              "(different device or library versions?)", file=sys.stderr)


def _cmd_dashboard(args: argparse.Namespace) -> None:
    serve(args.storage, host=args.host, port=args.port, artifacts=args.artifacts)


def _cmd_ls(args: argparse.Namespace) -> None:
    storage = open_storage(args.storage, create=False)
    rows = []
    for name in study_names(storage):
        study = optuna.load_study(study_name=name, storage=storage)
        trials = study.get_trials(deepcopy=False)
        states = pd.Series([state_name(t.state) for t in trials], dtype="object").value_counts()
        rows.append({
            "study": name,
            "objectives": ",".join(study.user_attrs.get("frontier_config", {})
                                   .get("study", {}).get("objectives", [])) or "?",
            "finished": sum(int(states.get(state_name(s), 0)) for s in FINISHED),
            "complete": int(states.get("COMPLETE", 0)),
            "stopped": int(states.get("STOPPED", 0)),
            "failed": int(states.get("FAIL", 0)),
            "running": int(states.get("RUNNING", 0)),
            "front": len(study.best_trials),
        })
    if not rows:
        print(f"no studies in {redact(args.storage)}")
        return
    print(pd.DataFrame(rows).to_string(index=False))
    if args.study:
        if args.study not in {r["study"] for r in rows}:
            raise StorageError(f"--study: no study named {args.study!r} in "
                               f"{redact(args.storage)}")
        table = trials_frame(optuna.load_study(study_name=args.study, storage=storage))
        bad = table[table.state.isin(["FAIL", "STOPPED"])]
        print(f"\n{args.study}: {len(bad)} failed or stopped trials")
        if not bad.empty:
            print(bad[["trial", "state", "reason"]].to_string(index=False))


COMMANDS = {"run": _cmd_run, "resume": _cmd_resume, "worker": _cmd_worker,
            "pareto": _cmd_pareto, "plot": _cmd_plot, "report": _cmd_report,
            "export": _cmd_export, "dashboard": _cmd_dashboard, "ls": _cmd_ls}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 for bad input, 130 when interrupted)."""
    args = _parser().parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        COMMANDS[args.command](args)
    except FrontierError as err:
        print(f"frontier: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
