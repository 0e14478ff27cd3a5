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
