"""What every training run shares: seeding, device, schedule, metrics log, optimiser set-up, resume, one step."""

from __future__ import annotations

import json
import math
import os
import platform
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
import torch
from pydantic import BaseModel
from torch import nn
from torch.utils.data import DataLoader, IterableDataset

from platelab.io.atomic import atomic_write_text
from platelab.train.checkpoint import restore_training_state

CHECKPOINT = "last.ckpt"
CONFIG = "config.json"
METRICS = "metrics.jsonl"
CLIP_NORM = 5.0

RunConfig = TypeVar("RunConfig", bound=BaseModel)


def run_config(run: Path, schema: type[RunConfig]) -> RunConfig:
    """The config a training run wrote into its folder, as schema."""
    return schema.model_validate_json((run / CONFIG).read_text(encoding="utf-8"))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # cuDNN's fastest convolutions sum in a varying order: a resumed GPU run would drift from an unbroken one.
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def single_threaded_opencv(_: int = 0) -> None:
    """Rendering runs OpenCV on one thread per process.

    Its thread pool does not survive fork(): a data worker forked after the parent rendered something large with
    several threads waits forever. One thread per process also leaves the cores to the training step.
    """
    cv2.setNumThreads(1)


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def hardware() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{platform.processor() or platform.machine()} CPU, {os.cpu_count()} cores"


def schedule(steps: int, warmup_steps: int) -> Callable[[int], float]:
    """Linear warm-up, then cosine decay to 2% of the peak learning rate at `steps`."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, steps - warmup_steps)
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return factor


class MetricsLog:
    """Appends one JSON object per line; each line is complete, so a killed run's log stays readable.

    Each line names the hardware it was trained on: a run trained on a lent GPU is exported elsewhere, and its
    model card takes the hardware from here.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.hardware = hardware()

    def write(self, **values: float | int | str) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({**values, "hardware": self.hardware}) + "\n")


@dataclass
class Run:
    """A run's folder, device, optimiser and schedule, and where it (re)starts."""

    out: Path
    device: torch.device
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    start: int
    elapsed: float

    @property
    def checkpoint(self) -> Path:
        return self.out / CHECKPOINT

    @property
    def metrics(self) -> Path:
        return self.out / METRICS

    @property
    def last_lr(self) -> float:
        # open_run gives the optimiser a float rate, so this is a float already; the stubs allow a tensor rate
        return float(self.scheduler.get_last_lr()[0])


def check_run(out: Path, styles: list[str], init_from: Path | None, resume: bool,
              same_on_resume: dict[str, object]) -> None:
    """What would stop a run after it had written into out, checked before it writes anything: unknown styles, a
    missing init_from, --resume with no checkpoint, or resuming with a model of another shape (same_on_resume:
    config fields that must equal the run's saved ones)."""
    from platelab.synth.style import select_styles

    select_styles(styles or None)
    checkpoint = out / CHECKPOINT
    if resume:
        if not checkpoint.exists():
            raise ValueError(f"{out}: no {CHECKPOINT} to resume; run without --resume to start it")
        saved = json.loads((out / CONFIG).read_text(encoding="utf-8"))
        changed = [f"{key} {saved.get(key)!r} -> {value!r}" for key, value in same_on_resume.items()
                   if saved.get(key) != value]
        if changed:
            raise ValueError(f"{out}: cannot resume with another model ({', '.join(changed)})")
    elif init_from is not None and not init_from.is_file():
        raise ValueError(f"{init_from}: init_from not found")


def open_run(out: Path, config_json: str, model: nn.Module, steps: int, warmup_steps: int, lr: float,
             weight_decay: float, threads: int = 0, resume: bool = False,
             parameters: Iterable[nn.Parameter] | None = None) -> Run:
    """Write the run's config, move model to the device, build AdamW + schedule, restore a checkpoint if asked."""
    if threads:
        torch.set_num_threads(threads)
    single_threaded_opencv()
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / CONFIG, config_json)
    run_on = device()
    model.to(run_on)
    optimizer = torch.optim.AdamW(parameters if parameters is not None else model.parameters(), lr=lr,
                                  weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule(steps, warmup_steps))
    run = Run(out, run_on, optimizer, scheduler, 0, 0.0)
    if resume and run.checkpoint.exists():
        run.start, run.elapsed = restore_training_state(run.checkpoint, model, optimizer, scheduler)
    else:
        # A fresh run in a used folder starts its own log: the model card reads the log's last line.
        run.metrics.unlink(missing_ok=True)
    return run


def batch_loader(batches: IterableDataset, workers: int, seed: int) -> DataLoader:
    """A loader over pre-batched streams. It draws its workers' base seed from its own generator: from torch's
    global one it would shift the dropout masks of a resumed run away from those of an unbroken run."""
    return DataLoader(
        batches,
        batch_size=None,
        num_workers=workers,
        prefetch_factor=4 if workers else None,
        worker_init_fn=single_threaded_opencv,
        generator=torch.Generator().manual_seed(seed),
    )


def optimizer_step(loss: torch.Tensor, model: nn.Module, run: Run) -> None:
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
    run.optimizer.step()
    run.scheduler.step()
