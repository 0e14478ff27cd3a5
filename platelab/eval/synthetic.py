"""Unseen synthetic plates read style by style: what the engine renders that the recognizer still misreads."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from platelab.predict.recognizer import RecognitionPredictor
from platelab.synth.camera import CameraConfig, LightConfig
from platelab.synth.config import SynthConfig
from platelab.synth.crops import CropGenerator, PlateCrop
from platelab.synth.style import PlateStyle


def _never(config: type[CameraConfig] | type[LightConfig]) -> CameraConfig | LightConfig:
    """The config with every effect's chance (its *_p fields) at zero."""
    return config(**{name: 0.0 for name in config.model_fields if name.endswith("_p")})


# Engine settings named by the effects they keep. Plates, poses and framing are drawn as with all effects, so
# what is misread with none is not down to the degradations.
EFFECTS = {
    "all": SynthConfig(),
    "light": SynthConfig(camera=_never(CameraConfig)),
    "none": SynthConfig(camera=_never(CameraConfig), light=_never(LightConfig)),
}
UNSEEN_SEED = 20261126  # no training run draws from it: the test's and the benchmarks' unseen plates
LOOK_ALIKES = ({"O", "0"}, {"I", "1"}, {"Q", "0"}, {"D", "0"}, {"B", "8"})


def misread_kind(truth: str, read: str) -> str:
    """The kind of misreading: a character dropped or added, only O and 0 swapped, only look-alikes swapped, or
    other substitutions."""
    if len(truth) != len(read):
        return "a character dropped or added"
    swaps = [{a, b} for a, b in zip(truth, read) if a != b]
    if all(pair == {"O", "0"} for pair in swaps):
        return "only O and 0 swapped"
    if all(pair in LOOK_ALIKES for pair in swaps):
        return "only look-alikes swapped (O/0, I/1, Q/0, D/0, B/8)"
    return "other substitutions"


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


def unseen_crops(style: PlateStyle, per_style: int, seed: int, cfg: SynthConfig | None = None) -> list[PlateCrop]:
    """per_style fresh crops of style (seeded; cfg: the engine's settings, default if None)."""
    generator = CropGenerator([style], cfg, seed=style_seed(seed, style))
    return [generator.sample(i) for i in range(per_style)]


def score_styles(predictor: RecognitionPredictor, styles: Sequence[PlateStyle], per_style: int,
                 seed: int, cfg: SynthConfig | None = None) -> list[StyleScore]:
    """Read per_style unseen crops of each style and count exact readings."""
    scores = []
    for style in styles:
        crops = unseen_crops(style, per_style, seed, cfg)
        readings = predictor.read([c.image for c in crops])
        misreads = tuple((c.text, r.text) for c, r in zip(crops, readings) if r.text != c.text)
        scores.append(StyleScore(style.name, per_style - len(misreads), per_style, misreads))
    return scores
