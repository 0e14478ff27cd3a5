"""What a detector and recognizer read right, item by item, on the benchmark sets: labelled crops, labelled photos
and the unseen synthetic plates. Shared by the benchmarks that compare models and the one that fills model cards."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from platelab.api import Reader, Recognizer
from platelab.eval.metrics import PhotoScores, score_photos
from platelab.eval.synthetic import UNSEEN_SEED, unseen_crops
from platelab.io.decode import read_image
from platelab.io.labels import CropLabel, labelled_file, normalize_plate, read_labels, read_photo_set
from platelab.synth.style import select_styles

SYNTHETIC = "synthetic"
SYNTHETIC_PER_STYLE = 40  # 2040 plates over the 51 styles: benchmarks/synthetic.py's default sample


@cache
def synthetic_set() -> tuple[list[np.ndarray], list[str]]:
    """The unseen synthetic plates of every style, with their texts."""
    crops = [c for style in select_styles(None) for c in unseen_crops(style, SYNTHETIC_PER_STYLE, UNSEEN_SEED)]
    return [c.image for c in crops], [c.text for c in crops]


def synthetic_hits(recognizer: Path | None, tta: bool = False) -> list[bool]:
    images, texts = synthetic_set()
    return [r.text == t for r, t in zip(Recognizer(recognizer, tta=tta).read(images), texts)]


def crop_hits(
    folder: Path, labels: list[CropLabel], recognizer: Path | None, prior: str | None, tta: bool = False
) -> list[bool]:
    images = [read_image(labelled_file(folder, x.file)) for x in labels]
    readings = Recognizer(recognizer, prior=prior, tta=tta).read(images)
    return [r.text == normalize_plate(x.plate) for r, x in zip(readings, labels)]


def photo_scores(
    folder: Path, recognizer: Path | None, detector: Path | None, prior: str | None, tta: bool = False,
) -> PhotoScores:
    """The reader on every photo of a labelled set, as `platelab eval` scores it: those said to hold no plate
    too, whose every plate is a false one."""
    labels, files = read_photo_set(folder)
    reader = Reader(detector=detector, recognizer=recognizer, prior=prior, tta=tta)
    predictions = {f: [(p.box, p.text) for p in reader.read(read_image(labelled_file(folder, f), name=f))]
                   for f in files}
    return score_photos(labels, predictions, photos=files)


def hits(
    folder: Path, recognizer: Path | None, detector: Path | None, prior: str | None, tta: bool = False
) -> list[bool]:
    """Per item of a set (a folder with labels.tsv, or one named SYNTHETIC): read right or not."""
    if folder.name == SYNTHETIC:
        return synthetic_hits(recognizer, tta)
    labels = read_labels(folder)
    if isinstance(labels[0], CropLabel):
        return crop_hits(folder, labels, recognizer, prior, tta)
    return photo_scores(folder, recognizer, detector, prior, tta).hits
