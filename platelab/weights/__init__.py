"""Models shipped inside the package: ONNX files with their model cards."""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent


# Crops are read with the 8-bit recognizer: about twice the float one's rate (1884-1981 crops/s against 1022-1056),
# reading 1 to 2 fewer of crops-us's 370 (90.3% against 90.8% with the US prior) and as many unseen synthetic
# plates (90.2% of 2000). Photos keep the float one: there the recognizer reads a few crops per photo, the float
# costs 7-12 ms more per US photo (65-77 ms), and the 8-bit one read 2 to 3 fewer of the 118 US photos' plates
# and fixed none (docs/engine_log.md). Pass default_model(CROP_RECOGNIZER) to the Reader for the faster one.
CROP_RECOGNIZER = "recognizer-int8"


def default_model(task: str) -> Path:
    """The bundled model for a task ("recognizer", "recognizer-int8", "detector")."""
    return WEIGHTS_DIR / f"{task}.onnx"
