"""The bodies of the ``frontier`` commands (``search.cli`` parses the command line).

Each command checks its flags and where it will write (``search.cli_checks``) before it writes
anything, and read-only commands write only after every part of their output is ready.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import optuna
import pandas as pd

from objectives.data import TensorData
from search import cli_checks as checks
from search.cli_sensitivity import cmd_sensitivity
from search.config import StudyConfig, load_config
from search.early_stop import state_name
from search.errors import ConfigError, FrontierError, StorageError
from search.keys import CONFIG_ATTR
from search.progress import DEFAULT_LOG
from search.results.deployment import LOGIT_TOLERANCE
from search.results.front_text import front_text
from search.results.model_folder import export_trial
from search.results.outputs import write_outputs
from search.results.pareto import metric_label, trials_frame
from search.run import prepare, run_study
from search.safe_files import check_out_dir, write_bytes, write_text
from search.storage.reaper import reap_dead_trials, worker_id
from search.storage.studies import (
    FINISHED,
    count_finished,
    create_or_load,
    load_existing,
    study_names,
)
from search.storage.urls import DEFAULT_STORAGE, open_storage, redact
from search.storage.workers import (
    MLFLOW_ENV,
    STORAGE_ENV,
    check_multiprocess_storage,
    lost_trial,
    run_worker_processes,
)
from search.tracking.mlflow import log_front_artifacts
from search.visualization.browser import screenshot_png
from search.visualization.dashboard import serve
from search.visualization.images import render
from search.visualization.pareto_plot import pareto_figure, write_html
from search.visualization.report import report_figures, report_html
from spaces.space import Space

__all__ = ["COMMANDS"]


def _warn(message: str) -> None:
    print(f"frontier: warning: {message}", file=sys.stderr)


def _finish(study: optuna.Study, out_dir: Path, log: str = DEFAULT_LOG) -> None:
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
    print(front_text(study))


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


def cmd_run(args: argparse.Namespace) -> None:
    n = checks.at_least(args.n_trials, "--n-trials")
    checks.at_least(args.workers, "--workers")
    cfg = _with_logging(load_config(args.config), args, stored=False)
    url = args.storage or cfg.storage or DEFAULT_STORAGE
    out = checks.out_folder(args.out, cfg, stored=False)
    checks.tracker_folder(cfg, args.tensorboard)
    if args.workers > 1:
        check_multiprocess_storage(url)
    # data, checkpoint, a user builder, every folder it writes: before the study is written
    data, space = prepare(cfg, out=out)
    study = create_or_load(cfg, url)
    if args.workers == 1:
        _optimize(study, cfg, url, n, args.log, out, (data, space))
        return
    _run_workers(study, cfg, url, args, n or cfg.n_trials, (data, space))
    _say(args.log, f"study {study.study_name!r}: {count_finished(study)} finished trials in "
         f"{redact(url)} ({args.workers} workers)")
    _log_artifacts(study, cfg, args.log)
    _finish(study, out, args.log)


def _run_workers(study: optuna.Study, cfg: StudyConfig, url: str, args: argparse.Namespace,
                 target: int, prepared: tuple[TensorData, Space]) -> None:
    """``args.workers`` worker processes until ``target``. A worker killed by a signal (its
    trial is retried by the others) is one warning; if the survivors did not reach the
    target, this process runs the rest. A worker that exited with an error is an error."""
    tensorboard = ["--tensorboard", cfg.logging.tensorboard] if cfg.logging.tensorboard else []
    env = {MLFLOW_ENV: cfg.logging.mlflow} if cfg.logging.mlflow else {}
    exits = run_worker_processes(study, url, args.workers, target, progress=args.log == "bar",
                                 device=cfg.device, extra_args=tensorboard, extra_env=env)
    failed = [e for e in exits if e.returncode > 0]
    if failed:
        raise FrontierError(f"--workers: {len(failed)} of {args.workers} workers exited with "
                            "an error; their messages are above")
    killed = [e for e in exits if e.killed]
    if not killed:
        return
    reap_dead_trials(study)  # the dead workers' trials: failed, and retried once
    for e in killed:
        _warn(f"worker {e.index} (pid {e.pid}) {e.how()}; {lost_trial(study, e.pid)}")
    if count_finished(study) < target:
        _warn(f"{count_finished(study)} of {target} trials finished; this process runs the rest")
        data, space = prepared
        mine = create_or_load(cfg, url, worker=worker_id())
        run_study(mine, cfg, n_trials=target, log=args.log, data=data, space=space)


def cmd_worker(args: argparse.Namespace) -> None:
    n = checks.at_least(args.n_trials, "--n-trials")
    checks.at_least(args.threads, "--threads")
    url = args.storage or os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE
    if args.mlflow is None and os.environ.get(MLFLOW_ENV):
        args.mlflow = os.environ[MLFLOW_ENV]
    study, cfg = load_existing(url, args.study, worker=worker_id())
    cfg = _with_logging(cfg, args, stored=True)
    checks.tracker_folder(cfg, args.tensorboard)
    done = run_study(study, cfg, n_trials=n, log=args.log, threads=args.threads)
    if args.log == "bar":
        print(f"worker {worker_id()}: study {study.study_name!r} holds {done} finished trials")


def cmd_resume(args: argparse.Namespace) -> None:
    n = checks.at_least(args.n_trials, "--n-trials")
    study, cfg = load_existing(args.storage, args.study)
    cfg = _with_logging(cfg, args, stored=True)
    out = checks.out_folder(args.out, cfg, stored=True)
    checks.tracker_folder(cfg, args.tensorboard)
    _optimize(study, cfg, args.storage, n, args.log, out)


def _optimize(study: optuna.Study, cfg: StudyConfig, url: str, n: int | None, log: str,
              out: Path, prepared: tuple[TensorData, Space] | None = None) -> None:
    data, space = prepared or (None, None)
    try:
        done = run_study(study, cfg, n_trials=n, log=log, data=data, space=space, out=out)
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with: frontier resume --storage {redact(url)} "
              f"--study {study.study_name}", file=sys.stderr)
        raise
    _say(log, f"study {study.study_name!r}: {done} finished trials in {redact(url)}")
    _log_artifacts(study, cfg, log)
    _finish(study, out, log)


def cmd_pareto(args: argparse.Namespace) -> None:
    study, cfg = load_existing(args.storage, args.study)
    _finish(study, checks.out_folder(args.out, cfg, stored=True))


def cmd_plot(args: argparse.Namespace) -> None:
    study, cfg = load_existing(args.storage, args.study)
    path = checks.out_file(args.out, cfg, "pareto.html")
    images = [(p, fmt) for given, flag, fmt in ((args.png, "--png", "png"),
                                                (args.svg, "--svg", "svg"))
              if (p := checks.image_file(given, flag, fmt)) is not None]
    checks.exporter(images=bool(images), screenshot=False)
    fig = pareto_figure(study)
    rendered = render([(fig, fmt, p) for p, fmt in images])  # before anything is written
    print(f"wrote {write_html(fig, path)}")
    for (p, _), data in zip(images, rendered, strict=True):
        print(f"wrote {write_bytes(p, data)}")


def cmd_report(args: argparse.Namespace) -> None:
    study, cfg = load_existing(args.storage, args.study)
    path = checks.out_file(args.out, cfg, "report.html")
    folders = [(check_out_dir(given, flag), fmt) for given, flag, fmt in
               ((args.png, "--png", "png"), (args.svg, "--svg", "svg")) if given]
    shot = checks.image_file(args.screenshot, "--screenshot", "png")
    checks.exporter(images=bool(folders), screenshot=shot is not None)
    figures = report_figures(study, cfg.objectives)
    page = report_html(study, cfg.objectives, figures)
    drawn = {name: fig for name, fig in figures.items() if not isinstance(fig, str)}
    jobs = [(fig, fmt, folder / f"{name}.{fmt}") for folder, fmt in folders
            for name, fig in drawn.items()]
    rendered = render(jobs)  # every image and the screenshot before anything is written
    console: list[str] = []
    shot_png = b""
    if shot is not None:
        with tempfile.TemporaryDirectory(prefix="frontier-report-") as tmp:
            shot_png, console = screenshot_png(write_text(Path(tmp) / path.name, page))
    print(f"wrote {write_text(path, page)}")
    written = [write_bytes(p, data) for (_, _, p), data in zip(jobs, rendered, strict=True)]
    for folder, fmt in folders:
        mine = [str(p) for p in written if p.parent == folder and p.suffix == f".{fmt}"]
        print(f"wrote {', '.join(mine)}")
    if shot is not None:
        print(f"wrote {write_bytes(shot, shot_png)}")
    for line in console:
        _warn(f"the report page logged: {line}")


def cmd_export(args: argparse.Namespace) -> None:
    checks.at_least(args.trial, "--trial", 0)
    out = check_out_dir(args.out, "--out")
    study, cfg = load_existing(args.storage, args.study)
    done = export_trial(study, args.trial, out, cfg, onnx=args.onnx, int8=args.int8)
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
            _warn(f"{d.file}'s logits differ from PyTorch's by {d.max_logit_diff:.2e} "
                  f"(> {LOGIT_TOLERANCE:g})")
    if done.pretrained is not None:
        acc = ("" if done.pretrained_accuracy is None else
               f": from_pretrained reloads it at test {metric} {done.pretrained_accuracy:.6f}")
        print(f"wrote {done.pretrained} (config.json, model.safetensors){acc}")
    if done.test_accuracy is None:  # not an error: the folder is complete
        _warn(f"test {metric} not re-checked: the data cannot be loaded here ({done.no_data})")
        return
    print(f"rebuilt model: test {metric} {done.test_accuracy:.6f} (stored "
          f"{'?' if stored is None else f'{stored:.6f}'})")
    if stored is not None and abs(done.test_accuracy - stored) > 1e-6:
        _warn(f"the rebuilt model's test {metric} differs from the stored one (different "
              "device or library versions?)")


def cmd_dashboard(args: argparse.Namespace) -> None:
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port: {args.port} is not a TCP port; use 1 to 65535")
    serve(args.storage, host=args.host, port=args.port, artifacts=args.artifacts)


def cmd_ls(args: argparse.Namespace) -> None:
    storage = open_storage(args.storage, create=False)
    names = study_names(storage)
    if args.study is not None and args.study not in names:  # before anything is printed
        raise StorageError(f"--study: no study named {args.study!r} in {redact(args.storage)}; "
                           "`frontier ls` without --study lists the studies there")
    rows = []
    for name in names:
        study = optuna.load_study(study_name=name, storage=storage)
        trials = study.get_trials(deepcopy=False)
        states = pd.Series([state_name(t.state) for t in trials], dtype="object").value_counts()
        rows.append({
            "study": name,
            "objectives": ",".join(study.user_attrs.get(CONFIG_ATTR, {})
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
        table = trials_frame(optuna.load_study(study_name=args.study, storage=storage))
        bad = table[table.state.isin(["FAIL", "STOPPED"])]
        print(f"\n{args.study}: {len(bad)} failed or stopped trials")
        if not bad.empty:
            print(bad[["trial", "state", "reason"]].to_string(index=False))


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "run": cmd_run, "resume": cmd_resume, "worker": cmd_worker, "pareto": cmd_pareto,
    "plot": cmd_plot, "report": cmd_report, "export": cmd_export, "dashboard": cmd_dashboard,
    "ls": cmd_ls, "sensitivity": cmd_sensitivity}
