"""(a) of bench/search_efficiency.py: the plain Optuna script a user writes by hand.

NSGA-II over a small 1-D CNN space on MNIST-1D; every candidate is trained fully, then pruned
(global L1) and quantized (per-channel symmetric) after training, without fine-tuning, and
scored on (val accuracy, size in bytes). The model is the module structure Frontier's cnn space
builds for (1, 40) inputs (Conv1d, BatchNorm1d, MaxPool1d while the length is >= 4,
AdaptiveAvgPool1d to 2 positions, a Linear head), written out by hand. The constants below are
the bench's space, which Frontier's searches in search_efficiency.py sample from the same
domains. With ``workers`` > 1 the script runs as that many processes on one journal file, as
Optuna's documentation shows for using several cores.
"""

from __future__ import annotations

import functools
import os
import time

import optuna
import torch
import torch.nn.functional as F
from efficiency_report import History, Record, record, run_processes
from torch import nn
from torch.nn.utils import prune

from objectives.data import DataConfig, TensorData, load_dataset
from objectives.metrics import nonzero_params, size_bytes
from objectives.train import make_scheduler
from spaces.spec import SCHEDULES

EPOCHS, POPULATION = 20, 12
WIDTHS, KERNELS, BITS = [4, 8, 12, 16, 24, 32, 48, 64], [3, 5, 7], [2, 3, 4, 6, 8, 32]
MAX_DEPTH, MAX_RATIO = 4, 0.9
LR, WEIGHT_DECAY = 0.01, (1e-5, 1e-3)  # AdamW at a fixed lr; weight decay log-uniform
DATA = DataConfig("mnist1d")  # (N, 1, 40) signals, 3,000 / 1,000 / 1,000 split
STUDY = "handwritten"


@functools.cache
def _data() -> TensorData:
    return load_dataset(DATA)


def build(widths: list[int], kernel: int) -> nn.Module:
    """The 1-D CNN, nested as ``CNNSpace.build`` nests it (same state-dict keys and sizes)."""
    blocks: list[nn.Module] = []
    c, length = 1, 40
    for w in widths:
        layers = [nn.Conv1d(c, w, kernel, padding=kernel // 2, bias=False), nn.BatchNorm1d(w),
                  nn.ReLU()]
        if length >= 4:
            layers.append(nn.MaxPool1d(2))
            length //= 2
        blocks.append(nn.Sequential(*layers))
        c = w
    return nn.Sequential(nn.Sequential(*blocks), nn.AdaptiveAvgPool1d(2), nn.Flatten(),
                         nn.Linear(c * 2, 10))


def objective(trial: optuna.Trial, seed: int, fast: bool) -> tuple[float, float]:
    """What a user writes by hand: train fully, then prune + quantize, no fine-tuning.
    ``fast`` trains with fused AdamW (Frontier's channels-last changes nothing for 1-D)."""
    data = _data()
    x, y = data.train.x, data.train.y
    depth = trial.suggest_int("depth", 1, MAX_DEPTH)
    widths = [trial.suggest_categorical(f"width_{i}", WIDTHS) for i in range(depth)]
    kernel = trial.suggest_categorical("kernel", KERNELS)
    ratio = trial.suggest_float("prune_ratio", 0.0, MAX_RATIO)
    bits = trial.suggest_categorical("bits", BITS)
    weight_decay = trial.suggest_float("weight_decay", *WEIGHT_DECAY, log=True)
    schedule = trial.suggest_categorical("schedule", SCHEDULES)
    torch.manual_seed(seed + trial.number)
    model = build(widths, kernel)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=weight_decay, fused=fast)
    steps = len(y) // 64
    sched = make_scheduler(opt, schedule, LR, EPOCHS * steps)  # the same torch schedulers
    gen = torch.Generator().manual_seed(seed + trial.number)
    model.train()
    for _ in range(EPOCHS):
        order = torch.randperm(len(y), generator=gen)
        for i in range(steps):
            idx = order[i * 64:(i + 1) * 64]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv1d | nn.Linear)]
    if ratio > 0:
        prune.global_unstructured([(m, "weight") for m in convs],
                                  pruning_method=prune.L1Unstructured, amount=ratio)
        for m in convs:
            prune.remove(m, "weight")
    with torch.no_grad():
        if bits < 32:
            qmax = 2 ** (bits - 1) - 1
            for m in convs:
                amax = m.weight.abs().flatten(1).amax(1).clamp_min(1e-12)
                scale = (amax / qmax).view(-1, *([1] * (m.weight.dim() - 1)))
                m.weight.copy_(torch.clamp(torch.round(m.weight / scale), -qmax, qmax) * scale)
        model.eval()
        acc = float((model(data.val.x).argmax(1) == data.val.y).float().mean())
        test = float((model(data.test.x).argmax(1) == data.test.y).float().mean())
    # Measurement is not part of what a user writes: the size is Frontier's own packed-file
    # size (objectives.metrics.size_bytes), so that both kinds of search are scored alike. (The
    # formula this script once counted by hand no longer matches that accounting.) Zeros are
    # stored as +0.0, as Frontier's bake() stores them: torch's pruning leaves -0.0 where it
    # zeroed a negative weight, which the packed format would keep as a nonzero pattern.
    with torch.no_grad():
        for m in convs:
            m.weight.add_(0.0)  # -0.0 + 0.0 = +0.0
    size = size_bytes(model, bits)
    trial.set_user_attr("test_accuracy", test)
    trial.set_user_attr("params", nonzero_params(model))
    return acc, size


def _study(storage: optuna.storages.BaseStorage | None, seed: int) -> optuna.Study:
    sampler = optuna.samplers.NSGAIISampler(seed=seed, population_size=POPULATION)
    return optuna.create_study(study_name=STUDY, storage=storage, load_if_exists=True,
                               directions=["maximize", "minimize"], sampler=sampler)


def _journal(path: str) -> optuna.storages.BaseStorage:
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path))


def _worker(path: str, seed: int, rank: int, deadline: float, fast: bool, threads: int) -> None:
    """One of ``workers`` processes: its own sampler seed, so that the two do not propose
    the same candidates."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    torch.set_num_threads(threads)
    study = _study(_journal(path), seed + 10_000 * rank)
    study.optimize(lambda t: objective(t, seed, fast), timeout=max(0.0, deadline - time.time()))


def handwritten(budget_s: float, seed: int, tmp: str, fast: bool = False,
                workers: int = 1) -> History:
    """Run the script for ``budget_s`` seconds: in this process, or as ``workers`` processes
    (spawned, each with cores / workers torch threads; their start-up counts in the budget)."""
    if workers == 1:
        study = _study(None, seed)
        start = time.time()
        study.optimize(lambda t: objective(t, seed, fast), timeout=budget_s)
    else:
        os.makedirs(tmp, exist_ok=True)
        path = f"{tmp}/handwritten.log"
        study = _study(_journal(path), seed)
        threads = max(1, (os.cpu_count() or 1) // workers)
        start = time.time()
        run_processes(_worker, [(path, seed, rank, start + budget_s, fast, threads)
                                for rank in range(workers)], "hand-written")
    return history(study, start, budget_s)


def history(study: optuna.Study, start: float, budget_s: float) -> History:
    """The script's finished candidates within ``budget_s`` of ``start`` (``time.time()``)."""
    out: list[Record] = []
    for t in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE]):
        at = t.datetime_complete.timestamp() - start  # type: ignore[union-attr]
        if at <= budget_s:
            out.append(record(at, t.values[0], t.values[1], t.user_attrs["test_accuracy"],
                              t.user_attrs["params"]))
    return sorted(out)
