"""Unseen synthetic plates read style by style: what the engine renders that the recognizer still misreads."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from platelab.predict.recognizer import RecognitionPredictor
from platelab.synth.crops import CropGenerator
from platelab.synth.style import PlateStyle


@dataclass(frozen=True)
class StyleScore:
    style: str
    hits: int
    total: int
    misreads: tuple[tuple[str, str], ...]  # (truth, reading)


def style_seed(seed: int, style: PlateStyle) -> int:
    """Each style its own stream: with one seed for all, plate i of every style shares its camera and light, and a
    sample of n plates per style holds n conditions, not n x styles. Keyed by name, not by position, so a style's
    plates are the same whichever other styles are scored with it."""
    return seed + zlib.crc32(style.name.encode())


def score_styles(predictor: RecognitionPredictor, styles: Sequence[PlateStyle], per_style: int,
                 seed: int) -> list[StyleScore]:
    """Read per_style fresh crops of each style (seeded) and count exact readings."""
    scores = []
    for style in styles:
        generator = CropGenerator([style], seed=style_seed(seed, style))
        crops = [generator.sample(i) for i in range(per_style)]
        readings = predictor.read([c.image for c in crops])
        misreads = tuple((c.text, r.text) for c, r in zip(crops, readings) if r.text != c.text)
        scores.append(StyleScore(style.name, per_style - len(misreads), per_style, misreads))
    return scores
