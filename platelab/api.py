"""The public Python API: read plates from arrays or files, and evaluate on labelled folders."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from platelab.io.decode import ImageDecodeError, list_images, read_image
from platelab.io.results import ImageResult, PlateResult
from platelab.predict.recognizer import RecognitionPredictor

ImageInput = np.ndarray | str | Path
CHUNK = 64  # files decoded and read together: big enough to batch, small enough to stream results


class Recognizer:
    """Reads cropped plates: `Recognizer().read([crop, ...])` with arrays (BGR or grey) or file paths."""

    def __init__(self, model: str | Path | None = None, prior: str | None = None, threads: int = 0) -> None:
        self.predictor = RecognitionPredictor(model, prior=prior, threads=threads)

    def read(self, images: Sequence[ImageInput] | ImageInput) -> list[PlateResult]:
        if isinstance(images, (np.ndarray, str, Path)):
            images = [images]
        arrays = [image if isinstance(image, np.ndarray) else read_image(image) for image in images]
        return self.predictor.read(arrays)


def read_paths(
    paths: Sequence[str | Path], crops: bool = True, prior: str | None = None, model: str | Path | None = None
) -> Iterator[ImageResult]:
    """One ImageResult per image file found in paths, in order; unreadable files give a result with an error."""
    if not crops:
        raise NotImplementedError("plate detection in whole photos is not available yet: use --crops")
    recognizer = Recognizer(model, prior)
    files = list_images(paths)
    for start in range(0, len(files), CHUNK):
        chunk = files[start : start + CHUNK]
        decoded: list[tuple[str, np.ndarray | str]] = []
        for path, name in chunk:
            try:
                decoded.append((name, read_image(path, name=name)))
            except ImageDecodeError as exc:
                decoded.append((name, str(exc)))
        good = [image for _, image in decoded if isinstance(image, np.ndarray)]
        plates = iter(recognizer.read(good))
        for name, image in decoded:
            if isinstance(image, str):
                yield ImageResult(name, error=image)
            else:
                yield ImageResult(name, plates=(next(plates),))


def evaluate_crops(
    folder: Path, prior: str | None = None, model: str | Path | None = None, failures: Path | None = None
) -> str:
    """Score the recognizer on a folder of crops with labels.tsv; returns a markdown report."""
    from platelab.eval.metrics import score_crops
    from platelab.eval.report import failure_montage, format_crop_report
    from platelab.io.atomic import atomic_write_image
    from platelab.io.labels import normalize_plate, read_labels

    labels = read_labels(folder)
    recognizer = Recognizer(model, prior)
    truths, preds, regions, images = [], [], [], []
    for label in labels:
        image = read_image(folder / label.file, name=label.file)
        images.append(image)
        truths.append(normalize_plate(label.plate))
        regions.append(getattr(label, "region", ""))
    preds = [p.text for p in recognizer.read(images)]
    scores = score_crops(truths, preds, regions)
    if failures is not None:
        wrong = [i for i, (t, p) in enumerate(zip(truths, preds)) if t != p]
        sheet = failure_montage(
            [images[i] for i in wrong], [truths[i] for i in wrong], [preds[i] for i in wrong]
        )
        atomic_write_image(failures, sheet)
    return format_crop_report(scores, f"{folder} (prior: {prior or 'none'})")
