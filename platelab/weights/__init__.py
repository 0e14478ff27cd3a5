"""Models shipped inside the package: ONNX files with their model cards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

WEIGHTS_DIR = Path(__file__).parent
BUNDLED = ("detector", "recognizer", "recognizer-float")


def default_model(task: str) -> Path:
    """The bundled model for a task: "detector", "recognizer", or "recognizer-float".

    Both bundled models are 8-bit. "recognizer-float" is the same recognizer in float: on the benchmark photos it
    read 2 to 3 more of the 118 US plates (not beyond chance), at 7-15 ms more per photo (docs/engine_log.md).
    """
    return WEIGHTS_DIR / f"{task}.onnx"


def model_card(model: Path) -> dict[str, Any] | None:
    """The card beside a model (`<model>.card.json`), None where it has none; a card that is not JSON raises
    ValueError."""
    try:
        card: dict[str, Any] = json.loads(model.with_suffix(".card.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return card
