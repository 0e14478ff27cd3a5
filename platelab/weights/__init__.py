"""Models shipped inside the package: ONNX files with their model cards."""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent


def default_model(task: str) -> Path:
    """The bundled model for a task ("recognizer", "detector")."""
    return WEIGHTS_DIR / f"{task}.onnx"
