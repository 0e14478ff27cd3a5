"""Writing synthetic crops and scenes to a folder with labels.tsv (the formats of the real benchmark sets)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from fnmatch import fnmatch
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from platelab.io.atomic import atomic_write_image, atomic_write_text
from platelab.io.draw import montage
from platelab.io.labels import CropLabel, PhotoLabel, write_crop_labels, write_photo_labels
from platelab.io.outputs import PREVIEW_NAME, SYNTHETIC_SET, OutputError, claim_folder, is_os_junk
from platelab.io.yolo import data_yaml, yolo_labels
from platelab.synth.config import SynthConfig
from platelab.synth.crops import CropGenerator, sample_rng
from platelab.synth.scene import render_scene
from platelab.synth.style import PlateStyle

CROP_FILES = "crop_[0-9][0-9][0-9][0-9][0-9][0-9].png"
SCENE_FILES = "scene_[0-9][0-9][0-9][0-9][0-9][0-9].jpg"
# Scenes in the Ultralytics YOLO layout besides labels.tsv: images/ and labels/ (one .txt an image) and data.yaml
YOLO_FORMATS = {"yolo": False, "yolo-pose": True}  # format -> whether the corners go out as keypoints
SCENE_FORMATS = ("tsv", *YOLO_FORMATS)
YOLO_IMAGES, YOLO_LABELS, YOLO_DATA = "images", "labels", "data.yaml"
YOLO_LABEL_FILES = "scene_[0-9][0-9][0-9][0-9][0-9][0-9].txt"
# Ultralytics' label cache beside labels/: keyed on the sizes and names of the files, so a new set of the same
# names and sizes could be read from the old set's cache
ULTRALYTICS_CACHE = "labels.cache"


def _write_preview(out: Path, images: list[np.ndarray], captions: list[str], cell: tuple[int, int]) -> Path:
    path = out / PREVIEW_NAME
    atomic_write_image(path, montage(images, captions, cols=8, cell=cell))
    return path


def _start_set(out: Path, images: str, yolo: bool = False) -> None:
    """Claim out for a synthetic set of images named as the glob images (in the YOLO layout if yolo). An earlier
    set there goes first, labels before images: a set cut short has no labels rather than wrong ones, and a smaller
    set leaves no images of a larger one beside it."""
    claim_folder(out, SYNTHETIC_SET, (images, "labels.tsv", PREVIEW_NAME))
    if yolo:
        _check_yolo_folders(out)
    for name in ("labels.tsv", YOLO_DATA, ULTRALYTICS_CACHE):
        (out / name).unlink(missing_ok=True)
    for folder, pattern in (
        (out / YOLO_LABELS, YOLO_LABEL_FILES),
        (out, CROP_FILES),
        (out, SCENE_FILES),
        (out / YOLO_IMAGES, SCENE_FILES),
        (out, PREVIEW_NAME),
    ):
        for old in folder.glob(pattern) if folder.is_dir() else ():
            old.unlink()
    if not yolo:
        for name in (YOLO_LABELS, YOLO_IMAGES):
            # not there, or holding files platelab did not write: those are kept
            with contextlib.suppress(OSError):
                (out / name).rmdir()


def _check_yolo_folders(out: Path) -> None:
    """Ultralytics trains on every image under images/ (subfolders too), a file without labels as a background:
    one platelab did not write would join the set silently, so a folder holding one is refused. Names starting
    with a dot (an interrupted write's temporary file, desktop junk) are left alone, as Ultralytics' glob does."""
    for folder, pattern in ((out / YOLO_IMAGES, SCENE_FILES), (out / YOLO_LABELS, YOLO_LABEL_FILES)):
        if not folder.exists():
            continue
        if not folder.is_dir():
            raise OutputError(f"{folder}: a file, not a folder for the synthetic set's {folder.name}")
        foreign = sorted(
            entry.name
            for entry in folder.iterdir()
            if not (entry.name.startswith(".") or is_os_junk(entry.name))
            and not (entry.is_file() and fnmatch(entry.name, pattern))
        )
        if foreign:
            raise OutputError(
                f"{folder}: holds {foreign[0]}, which platelab did not write and Ultralytics would read as part of "
                "the set; give a new or empty folder for the synthetic set"
            )


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
    layout: str = "tsv",
) -> Path:
    """count scenes as JPEG files plus labels.tsv (file, x, y, w, h, plate, then the 4 corners), one row a plate (a
    scene without plates: a row of its file alone).
    With layout yolo or yolo-pose, the images go into images/ and the Ultralytics YOLO labels (platelab.io.yolo) into
    labels/, one file an image, with data.yaml beside them; labels.tsv names the images as images/scene_....jpg."""
    if layout not in SCENE_FORMATS:
        raise ValueError(f"scene format {layout!r}: expected one of {', '.join(SCENE_FORMATS)}")
    cfg = cfg or SynthConfig()
    yolo = layout in YOLO_FORMATS
    _start_set(out, SCENE_FILES, yolo)
    folder = out / YOLO_IMAGES if yolo else out
    folder.mkdir(exist_ok=True)
    labels: list[PhotoLabel] = []
    files: list[str] = []  # every scene, those without plates too (eval counts their false plates)
    scenes: list[tuple[str, tuple[int, int], list[PhotoLabel]]] = []  # name, (width, height), its plates
    shown: list[np.ndarray] = []
    captions: list[str] = []
    for i in tqdm(range(count), desc="scenes", disable=not progress):
        scene = render_scene(styles, sample_rng(seed, i), cfg.scene, cfg.light, cfg.camera)
        name = f"scene_{i:06d}.jpg"
        atomic_write_image(folder / name, scene.image)
        file = f"{YOLO_IMAGES}/{name}" if yolo else name
        plates = [
            PhotoLabel(file, plate.text, plate.box, tuple((float(x), float(y)) for x, y in plate.quad))
            for plate in scene.plates
        ]
        labels += plates
        files.append(file)
        if yolo:
            scenes.append((name, (scene.image.shape[1], scene.image.shape[0]), plates))
        if preview and len(shown) < 16:
            shown.append(_outlined(scene.image, [p.quad for p in scene.plates]))
            captions.append(" ".join(p.text for p in scene.plates) or "(no plate)")
    if yolo:
        (out / YOLO_LABELS).mkdir(exist_ok=True)
        for name, size, plates in scenes:
            text = yolo_labels(plates, size, corners=YOLO_FORMATS[layout])
            atomic_write_text(out / YOLO_LABELS / f"{Path(name).stem}.txt", text)
    write_photo_labels(out / "labels.tsv", labels, files)
    if yolo:
        # last: a set cut short has no dataset file to train from
        atomic_write_text(out / YOLO_DATA, data_yaml(YOLO_IMAGES, YOLO_FORMATS[layout]))
    if preview:
        _write_preview(out, shown, captions, (480, 270))
    return out / "labels.tsv"


def _outlined(image: np.ndarray, quads: list[np.ndarray]) -> np.ndarray:
    shown = image.copy()
    for quad in quads:
        cv2.polylines(shown, [np.round(quad).astype(np.int32)], True, (0, 255, 0), 3, cv2.LINE_AA)
    return shown


WRITERS: dict[str, Callable[..., Path]] = {"crops": write_crops, "scenes": write_scenes}
