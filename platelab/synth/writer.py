"""Writing synthetic crops and scenes to a folder with labels.tsv (the formats of the real benchmark sets)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from platelab.io.atomic import atomic_write_image
from platelab.io.draw import montage
from platelab.io.labels import CropLabel, PhotoLabel, write_crop_labels, write_photo_labels
from platelab.io.outputs import PREVIEW_NAME, SYNTHETIC_SET, claim_folder
from platelab.synth.config import SynthConfig
from platelab.synth.crops import CropGenerator, sample_rng
from platelab.synth.scene import render_scene
from platelab.synth.style import PlateStyle

CROP_FILES = "crop_[0-9][0-9][0-9][0-9][0-9][0-9].png"
SCENE_FILES = "scene_[0-9][0-9][0-9][0-9][0-9][0-9].jpg"


def _write_preview(out: Path, images: list[np.ndarray], captions: list[str], cell: tuple[int, int]) -> Path:
    path = out / PREVIEW_NAME
    atomic_write_image(path, montage(images, captions, cols=8, cell=cell))
    return path


def _start_set(out: Path, images: str) -> None:
    """Claim out for a synthetic set of images named as the glob images. An earlier set there goes first, labels
    before images: a set cut short has no labels rather than wrong ones, and a smaller set leaves no images of a
    larger one beside it."""
    claim_folder(out, SYNTHETIC_SET, (images, "labels.tsv", PREVIEW_NAME))
    (out / "labels.tsv").unlink(missing_ok=True)
    for pattern in (CROP_FILES, SCENE_FILES, PREVIEW_NAME):
        for old in out.glob(pattern):
            old.unlink()


def write_crops(
    out: Path,
    count: int,
    styles: Sequence[PlateStyle],
    seed: int = 0,
    cfg: SynthConfig | None = None,
    preview: bool = False,
    progress: bool = True,
) -> Path:
    """count crops as PNG files plus labels.tsv (file, state, plate); a preview montage if asked. out must be new,
    empty or written by platelab before (platelab.io.outputs)."""
    _start_set(out, CROP_FILES)
    generator = CropGenerator(styles, cfg, seed)
    labels: list[CropLabel] = []
    shown: list[np.ndarray] = []
    captions: list[str] = []
    for i in tqdm(range(count), desc="crops", disable=not progress):
        crop = generator.sample(i)
        name = f"crop_{i:06d}.png"
        atomic_write_image(out / name, crop.image)
        labels.append(CropLabel(name, crop.text, crop.region))
        if preview and len(shown) < 64:
            shown.append(crop.image)
            captions.append(f"{crop.text} {crop.region}")
    write_crop_labels(out / "labels.tsv", labels)
    if preview:
        _write_preview(out, shown, captions, (256, 128))
    return out / "labels.tsv"


def write_scenes(
    out: Path,
    count: int,
    styles: Sequence[PlateStyle],
    seed: int = 0,
    cfg: SynthConfig | None = None,
    preview: bool = False,
    progress: bool = True,
) -> Path:
    """count scenes as JPEG files plus labels.tsv (file, x, y, w, h, plate, then the 4 corners), one row a plate."""
    cfg = cfg or SynthConfig()
    _start_set(out, SCENE_FILES)
    labels: list[PhotoLabel] = []
    shown: list[np.ndarray] = []
    captions: list[str] = []
    for i in tqdm(range(count), desc="scenes", disable=not progress):
        scene = render_scene(styles, sample_rng(seed, i), cfg.scene, cfg.light, cfg.camera)
        name = f"scene_{i:06d}.jpg"
        atomic_write_image(out / name, scene.image)
        for plate in scene.plates:
            quad = tuple((float(x), float(y)) for x, y in plate.quad)
            labels.append(PhotoLabel(name, plate.text, plate.box, quad))
        if preview and len(shown) < 16:
            shown.append(_outlined(scene.image, [p.quad for p in scene.plates]))
            captions.append(" ".join(p.text for p in scene.plates) or "(no plate)")
    write_photo_labels(out / "labels.tsv", labels)
    if preview:
        _write_preview(out, shown, captions, (480, 270))
    return out / "labels.tsv"


def _outlined(image: np.ndarray, quads: list[np.ndarray]) -> np.ndarray:
    shown = image.copy()
    for quad in quads:
        cv2.polylines(shown, [np.round(quad).astype(np.int32)], True, (0, 255, 0), 3, cv2.LINE_AA)
    return shown


WRITERS: dict[str, Callable[..., Path]] = {"crops": write_crops, "scenes": write_scenes}
