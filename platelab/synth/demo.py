"""What the reader runs on when given nothing: plates platelab renders itself, never seen in training."""

from __future__ import annotations

from pathlib import Path

from platelab.synth.style import select_styles
from platelab.synth.writer import write_crops

DEMO_DIR = Path("platelab-demo")
DEMO_SEED = 424242  # training uses small seeds; this one is far from them


def write_demo(out: Path = DEMO_DIR, count: int = 12) -> Path:
    """Crops of US plates (the bundled model's main region) with labels.tsv and a preview montage."""
    write_crops(out, count, select_styles(["us-*"]), seed=DEMO_SEED, preview=True, progress=False)
    return out
