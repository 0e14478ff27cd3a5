"""Atomic, weights-only checkpoints: a kill at any moment leaves the last complete one intact."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import torch

from platelab.io.atomic import atomic_path
from platelab.io.decode import first_line


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded: damaged, or holding more than weights and plain containers."""


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Only tensors and plain containers load (weights_only): a checkpoint can never run code."""
    try:
        with warnings.catch_warnings():  # torch's advice to load an untrusted file unsafely is not for our users
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except pickle.UnpicklingError as exc:
        if "Unsupported global" in str(exc):  # weights_only met an object that would run code to be built
            raise CheckpointError(f"{path}: refused: holds more than weights (loading it could run code)") from exc
        raise CheckpointError(f"{path}: not a readable checkpoint (damaged, or not one)") from exc
    except Exception as exc:  # a truncated or foreign file fails inside torch with whatever it hit first
        raise CheckpointError(f"{path}: not a readable checkpoint ({first_line(exc)})") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a platelab checkpoint (holds a {type(state).__name__})")
    return state



def save_training_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
                        step: int, elapsed: float, extra: dict[str, float] | None = None) -> None:
    """Everything a run needs to continue exactly: weights, optimiser, schedule, torch's RNG, step, time, and the
    loop's own running figures (extra)."""
    save_checkpoint(path, {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],  # dropout on a GPU
        "step": step,
        "elapsed": elapsed,
        "extra": dict(extra or {}),
    })


def restore_training_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                           scheduler: Any) -> tuple[int, float, dict[str, float]]:
    """Load what save_training_state wrote into the given objects; returns (step, elapsed seconds, extra)."""
    state = load_checkpoint(path)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    if state.get("cuda_rng") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return int(state["step"]), float(state["elapsed"]), {k: float(v) for k, v in state.get("extra", {}).items()}
