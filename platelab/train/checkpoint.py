"""Atomic, weights-only checkpoints: a kill at any moment leaves the last complete one intact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from platelab.io.atomic import atomic_path


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Only tensors and plain containers load (weights_only): a checkpoint can never run code."""
    return torch.load(path, map_location="cpu", weights_only=True)


def save_training_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
                        step: int, elapsed: float) -> None:
    """Everything a run needs to continue exactly: weights, optimiser, schedule, torch's RNG, step, time."""
    save_checkpoint(path, {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],  # dropout on a GPU
        "step": step,
        "elapsed": elapsed,
    })


def restore_training_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                           scheduler: Any) -> tuple[int, float]:
    """Load what save_training_state wrote into the given objects; returns (step, elapsed seconds)."""
    state = load_checkpoint(path)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    if state.get("cuda_rng") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return int(state["step"]), float(state["elapsed"])
