"""(a) of bench/search_efficiency.py: the plain Optuna script a user writes by hand.

NSGA-II over a small CNN space on digits; every candidate is trained fully, then pruned
(global L1) and quantized (per-channel symmetric) after training, without fine-tuning, and
scored on (val accuracy, size in bytes). Its size is counted as ``objectives.metrics.size_bytes``
counts it, written out by hand. The constants below are the bench's space, which Frontier's
searches in search_efficiency.py sample from the same domains.
"""

from __future__ import annotations

import math
import time

import optuna
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

from objectives.data import DataConfig, load_dataset
from objectives.train import make_scheduler
from search.results.pareto import hv_point
from spaces.spec import SCHEDULES

EPOCHS, POPULATION = 20, 12
WIDTHS, BITS = [4, 6, 8, 12, 16, 24, 32], [2, 3, 4, 6, 8, 32]
MAX_DEPTH, MAX_RATIO = 4, 0.9
LR, WEIGHT_DECAY = 0.01, (1e-5, 1e-3)  # AdamW at a fixed lr; weight decay log-uniform

#: (seconds since the start, (1 − val accuracy, log10 size in bits)) of each finished trial.
History = list[tuple[float, tuple[float, float]]]


def handwritten(budget_s: float, seed: int,
                fast: bool = False) -> History:
    """What a user writes by hand: train fully, then prune + quantize, no fine-tuning.
    ``fast`` trains as Frontier does (channels-last memory, fused AdamW)."""
    data = load_dataset(DataConfig())
    x, y, xv, yv = data.train.x, data.train.y, data.val.x, data.val.y
    start = time.monotonic()
    history: History = []

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        depth = trial.suggest_int("depth", 1, MAX_DEPTH)
        widths = [trial.suggest_categorical(f"width_{i}", WIDTHS) for i in range(depth)]
        ratio = trial.suggest_float("prune_ratio", 0.0, MAX_RATIO)
        bits = trial.suggest_categorical("bits", BITS)
        weight_decay = trial.suggest_float("weight_decay", *WEIGHT_DECAY, log=True)
        schedule = trial.suggest_categorical("schedule", SCHEDULES)
        torch.manual_seed(seed + trial.number)
        layers: list[nn.Module] = []
        c, h = 1, 8
        for w in widths:
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
            if h >= 4:
                layers.append(nn.MaxPool2d(2))
                h //= 2
            c = w
        model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(c * 4, 10))
        if fast:
            model.to(memory_format=torch.channels_last)
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
        if fast:  # back to contiguous: torch's pruning views weights flat
            model.to(memory_format=torch.contiguous_format)
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
        if ratio > 0:
            prune.global_unstructured([(m, "weight") for m in convs],
                                      pruning_method=prune.L1Unstructured, amount=ratio)
            for m in convs:
                prune.remove(m, "weight")
        size_bits = 0
        with torch.no_grad():
            for m in convs:
                if bits < 32:
                    qmax = 2 ** (bits - 1) - 1
                    amax = m.weight.abs().flatten(1).amax(1).clamp_min(1e-12)
                    scale = (amax / qmax).view(-1, *([1] * (m.weight.dim() - 1)))
                    m.weight.copy_(torch.clamp(torch.round(m.weight / scale), -qmax, qmax) * scale)
                    size_bits += int(torch.count_nonzero(m.weight)) * bits + 32 * m.weight.shape[0]
                else:
                    size_bits += int(torch.count_nonzero(m.weight)) * 32
            others = [p for n, p in model.named_parameters() if not n.endswith("weight")
                      or p.dim() == 1]
            size_bits += sum(int(torch.count_nonzero(p)) for p in others) * 32
            model.eval()
            acc = float((model(xv).argmax(1) == yv).float().mean())
        size = math.ceil(size_bits / 8)
        history.append((time.monotonic() - start, hv_point(acc, size)))
        return acc, size

    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=optuna.samplers.NSGAIISampler(
                                    seed=seed, population_size=POPULATION))
    study.optimize(objective, timeout=budget_s)
    return [(t, p) for t, p in history if t <= budget_s]
