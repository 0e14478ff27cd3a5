"""The public Python API: read plates from arrays or files (scoring labelled folders: platelab.eval.folders)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from platelab.io.decode import image_or_error, list_images, read_image
from platelab.io.results import ImageResult, PlateResult
from platelab.predict.recognizer import RecognitionPredictor
from platelab.predict.thresholds import MIN_CHARACTERS, MIN_SCORE, PHOTO_MIN_CONFIDENCE

ImageInput = np.ndarray | str | Path
CHUNK = 64  # files decoded and read together: big enough to batch, small enough to stream results


class Recognizer:
    """Reads cropped plates: `Recognizer().read([crop, ...])` with arrays (BGR or grey) or file paths."""

    def __init__(self, model: str | Path | None = None, prior: str | None = None, threads: int = 0,
                 tta: bool = False) -> None:
        self.predictor = RecognitionPredictor(model, prior=prior, threads=threads, tta=tta)

    def read(self, images: Sequence[ImageInput] | ImageInput) -> list[PlateResult]:
        if isinstance(images, (np.ndarray, str, Path)):
            images = [images]
        arrays = [image if isinstance(image, np.ndarray) else read_image(image) for image in images]
        return self.predictor.read(arrays)


class Reader:
    """Finds and reads plates in photos: `Reader().read(image)` with a BGR/grey array or a file path."""

    def __init__(self, detector: str | Path | None = None, recognizer: str | Path | None = None,
                 prior: str | None = None, min_confidence: float = PHOTO_MIN_CONFIDENCE,
                 min_score: float = MIN_SCORE, threads: int = 0, refine: bool = True,
                 min_chars: int = MIN_CHARACTERS, tta: bool = False) -> None:
        from platelab.predict.reader import PlateReader

        self.reader = PlateReader(detector, recognizer, prior=prior, min_score=min_score,
                                  min_confidence=min_confidence, threads=threads, refine=refine, min_chars=min_chars,
                                  tta=tta)

    def read(self, image: ImageInput) -> list[PlateResult]:
        return self.reader.read(image if isinstance(image, np.ndarray) else read_image(image))


def read_paths(paths: Sequence[str | Path], crops: bool = False, prior: str | None = None,
               model: str | Path | None = None, detector: str | Path | None = None,
               min_confidence: float | None = None, draw: Path | None = None,
               min_score: float = MIN_SCORE, refine: bool = True,
               min_chars: int = MIN_CHARACTERS, tta: bool = False, progress: bool = False) -> Iterator[ImageResult]:
    """One ImageResult per image file found in paths, in order; unreadable files give a result with an error.

    crops: the files are cropped plates (read in batches, no detection); otherwise whole photos.
    min_confidence: plates read less surely are dropped (default: none for crops, PHOTO_MIN_CONFIDENCE in photos).
    draw: a folder that receives each photo with its plates outlined.
    refine: re-detect each plate in zoomed views and let the crops vote (photos; see platelab.predict.refine).
    min_chars: in photos, readings with fewer characters are dropped as fragments, not plates.
    tta: read every crop at small moves and let the readings vote (more accurate, five times the reading time).
    progress: a progress bar on stderr, counting images.
    """
    from tqdm import tqdm

    files = list_images(paths)
    if crops:
        results = _read_crop_files(files, Recognizer(model, prior, tta=tta), min_confidence or 0.0)
    else:
        reader = Reader(detector, model, prior, PHOTO_MIN_CONFIDENCE if min_confidence is None else min_confidence,
                        min_score, refine=refine, min_chars=min_chars, tta=tta)
        results = _read_photo_files(files, reader, draw)
    with tqdm(total=len(files), desc="reading", unit="image", disable=not progress) as bar:
        for result in results:
            bar.update()
            yield result


def _read_crop_files(files: list[tuple[Path, str]], recognizer: Recognizer, min_confidence: float
                     ) -> Iterator[ImageResult]:
    for start in range(0, len(files), CHUNK):
        decoded = [(name, image_or_error(path, name)) for path, name in files[start : start + CHUNK]]
        readings = iter(recognizer.read([image for _, image in decoded if isinstance(image, np.ndarray)]))
        for name, image in decoded:
            if isinstance(image, str):
                yield ImageResult(name, error=image)
                continue
            plate = next(readings)
            yield ImageResult(name, plates=(plate,) if plate.confidence >= min_confidence else ())


def _read_photo_files(files: list[tuple[Path, str]], reader: Reader, draw: Path | None) -> Iterator[ImageResult]:
    for path, name in files:
        image = image_or_error(path, name)
        if isinstance(image, str):
            yield ImageResult(name, error=image)
            continue
        plates = tuple(reader.read(image))
        if draw is not None:
            from platelab.io.atomic import atomic_write_image
            from platelab.io.draw import draw_plates

            target = draw / name
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_image(target.with_suffix(".jpg"), draw_plates(image, plates))
        yield ImageResult(name, plates=plates)
