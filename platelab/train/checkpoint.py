"""Atomic, weights-only checkpoints: a kill at any moment leaves the last complete one intact."""

from __future__ import annotations

import pickle
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from platelab.io.atomic import atomic_path
from platelab.io.decode import first_line


class CheckpointWriteError(OSError):
    """A checkpoint that could not be written; the one before it is kept (atomic_path)."""


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
    except (OSError, RuntimeError) as exc:
        # torch's writer reports a write that failed for want of space as a RuntimeError about a position in its
        # zip container ("[enforce fail at inline_container.cc...] unexpected pos"): say what it most likely means
        cause = exc.strerror if isinstance(exc, OSError) and exc.strerror else "the write failed"
        raise CheckpointWriteError(f"{path}: the checkpoint could not be written ({cause}; "
                                   f"{_free_space(path.parent)} free in {path.parent}); the one before it is kept"
                                   ) from exc


def _free_space(folder: Path) -> str:
    try:
        return f"{shutil.disk_usage(folder).free / 2**20:.1f} MB"
    except OSError:
        return "unknown space"


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded (damaged, holding more than weights and plain containers) or that holds
    the weights of another model; the message names the file."""


UNREADABLE = "not a readable checkpoint (truncated, or not a platelab checkpoint)"


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Only tensors and plain containers load (weights_only): a checkpoint can never run code.

    The file is opened here, so that a file that cannot be opened (missing, a folder, not permitted) says so with
    its path; whatever fails inside torch.load on an opened file (a truncated or foreign file fails with whatever it
    hit first, an OSError among them) is a CheckpointError naming the file."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed below, torch.load reads it whole)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read the checkpoint ({exc.strerror or first_line(exc)})") from exc
    try:
        with handle, warnings.catch_warnings():  # torch's advice to load an untrusted file unsafely is not for us
            warnings.simplefilter("ignore")
            state = torch.load(handle, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" in str(exc):  # weights_only met an object that would run code to be built
            raise CheckpointError(f"{path}: refused: holds more than weights (loading it could run code)") from exc
        raise CheckpointError(f"{path}: {UNREADABLE}") from exc
    except Exception as exc:
        raise CheckpointError(f"{path}: {UNREADABLE}") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a platelab checkpoint (holds a {type(state).__name__})")
    return state


def model_weights(path: Path, state: dict[str, Any] | None = None) -> dict[str, torch.Tensor]:
    """The model weights a checkpoint holds (its "model" entry; state: the checkpoint, if loaded already)."""
    weights = (load_checkpoint(path) if state is None else state).get("model")
    if not (isinstance(weights, dict) and weights
            and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items())):
        raise CheckpointError(f"{path}: not a platelab checkpoint (it holds no model weights)")
    return weights


def weights_mismatch(own: dict[str, torch.Tensor], given: dict[str, torch.Tensor]) -> str | None:
    """Why given (a state dict) is not a state of the model whose state is own, in a few words; None if it is."""
    reshaped = [k for k in own if k in given and given[k].shape != own[k].shape]
    missing = [k for k in own if k not in given]
    unknown = [k for k in given if k not in own]
    if not set(own) & set(given):
        return "none of its tensors is this model's; another kind of model?"
    if reshaped:
        name = reshaped[0]
        return (f"{len(reshaped)} tensor(s) of another shape: {name} is {list(given[name].shape)} where this model's "
                f"is {list(own[name].shape)}")
    if missing:
        return f"{len(missing)} of this model's tensors missing: {missing[0]} ..."
    if unknown:
        return f"{len(unknown)} tensor(s) this model does not have: {unknown[0]} ..."
    return None


def model_kind(model: nn.Module) -> str:
    """What a message calls the model: recognizer, detector (PlateRecognizer, PlateDetector)."""
    return type(model).__name__.removeprefix("Plate").lower()


def load_model_state(path: Path, model: nn.Module, weights: dict[str, torch.Tensor] | None = None) -> None:
    """Load the model weights of the checkpoint at path (weights: those weights, if read already) into model, every
    tensor by name and shape; a CheckpointError naming path if they are not this model's."""
    weights = model_weights(path) if weights is None else weights
    problem = weights_mismatch(model.state_dict(), weights)
    if problem is None:
        try:
            model.load_state_dict(weights)
            return
        except (RuntimeError, ValueError, TypeError) as exc:  # what the names and shapes above did not catch
            problem = first_line(exc)
    raise CheckpointError(f"{path}: not a {model_kind(model)} checkpoint of this configuration ({problem})")


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


TRAINING_STATE = ("optimizer", "scheduler", "torch_rng", "step", "elapsed")


def check_resumable(path: Path, model: nn.Module) -> None:
    """Raises the CheckpointError restore_training_state would raise once a resumed run had started, as far as it
    can be known without the run's optimiser: a file that does not load, another model's weights, no training
    state. model: a model of the run's configuration (its weights are replaced)."""
    state = load_checkpoint(path)
    load_model_state(path, model, model_weights(path, state))
    missing = [key for key in TRAINING_STATE if key not in state]
    if missing:
        raise CheckpointError(f"{path}: holds no training state to resume ({', '.join(missing)} missing)")


def restore_training_state(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                           scheduler: Any) -> tuple[int, float, dict[str, float]]:
    """Load what save_training_state wrote into the given objects; returns (step, elapsed seconds, extra).
    A checkpoint that holds no such state, or another run's, is a CheckpointError naming it."""
    state = load_checkpoint(path)
    load_model_state(path, model, model_weights(path, state))
    try:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        if state.get("cuda_rng") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        return int(state["step"]), float(state["elapsed"]), {k: float(v) for k, v in state.get("extra", {}).items()}
    except KeyError as exc:
        raise CheckpointError(f"{path}: holds no training state to resume ({exc.args[0]} missing)") from exc
    except (ValueError, TypeError, RuntimeError, AttributeError, IndexError) as exc:
        raise CheckpointError(f"{path}: its training state is not this run's ({first_line(exc)})") from exc
