"""A sheet of every plate style: clean renders, one row a style, for docs and eyeballing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from platelab.io.atomic import atomic_write_image
from platelab.io.draw import montage
from platelab.synth.render import render_plate
from platelab.synth.style import PlateStyle, builtin_styles

CELL = (300, 100)


def style_sheet(samples: int = 3, seed: int = 0, styles: list[PlateStyle] | None = None) -> np.ndarray:
    """styles: every bundled one if None."""
    images, captions = [], []
    for i, style in enumerate(builtin_styles().values() if styles is None else styles):
        for j in range(samples):
            plate = render_plate(style, np.random.default_rng([seed, i, j]), height=96)
            images.append(plate.image)
            captions.append(f"{style.name}: {plate.text}")
    return montage(images, captions, cols=samples * 2, cell=CELL)


def write_style_sheet(path: Path, samples: int = 3, styles: list[PlateStyle] | None = None) -> Path:
    atomic_write_image(path, style_sheet(samples, styles=styles))
    return path
