"""The public Python API: read plates from arrays or files, and evaluate on labelled folders."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from platelab.io.decode import ImageDecodeError, list_images, read_image
from platelab.io.results import ImageResult, PlateResult
from platelab.predict.recognizer import RecognitionPredictor
from platelab.predict.thresholds import MIN_CHARACTERS, MIN_SCORE, PHOTO_MIN_CONFIDENCE

ImageInput = np.ndarray | str | Path
CHUNK = 64  # files decoded and read together: big enough to batch, small enough to stream results
UNREADABLE_TILE = np.full((48, 144, 3), 96, np.uint8)  # a failure montage's tile for a file that did not decode


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


def _decode_all(files: Sequence[tuple[Path, str]]) -> list[tuple[str, np.ndarray | str]]:
    """(name, image) or (name, one-line error) per file: a bad file never stops the others."""
    decoded: list[tuple[str, np.ndarray | str]] = []
    for path, name in files:
        try:
            decoded.append((name, read_image(path, name=name)))
        except ImageDecodeError as exc:
            decoded.append((name, str(exc)))
    return decoded


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
        decoded = _decode_all(files[start : start + CHUNK])
        readings = iter(recognizer.read([image for _, image in decoded if isinstance(image, np.ndarray)]))
        for name, image in decoded:
            if isinstance(image, str):
                yield ImageResult(name, error=image)
                continue
            plate = next(readings)
            yield ImageResult(name, plates=(plate,) if plate.confidence >= min_confidence else ())


def _read_photo_files(files: list[tuple[Path, str]], reader: Reader, draw: Path | None) -> Iterator[ImageResult]:
    for path, name in files:
        [(name, image)] = _decode_all([(path, name)])
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


@dataclass(frozen=True)
class Evaluation:
    """An evaluation's markdown report, and the one-line errors of labelled files that could not be decoded (each
    scored as read as nothing)."""

    report: str
    unreadable: tuple[str, ...] = ()


def evaluate_crops(
    folder: Path, prior: str | None = None, model: str | Path | None = None, failures: Path | None = None,
    tta: bool = False, progress: bool = False,
) -> Evaluation:
    """Score the recognizer on a folder of crops with labels.tsv: a markdown report."""
    from tqdm import tqdm

    from platelab.eval.metrics import score_crops
    from platelab.eval.report import failure_montage, format_crop_report
    from platelab.io.atomic import atomic_write_image
    from platelab.io.labels import normalize_plate, read_labels

    labels = read_labels(folder)
    recognizer = Recognizer(model, prior, tta=tta)
    images: list[np.ndarray | None] = []
    unreadable: list[str] = []
    for label in tqdm(labels, desc="decoding", unit="crop", disable=not progress):
        try:
            images.append(read_image(folder / label.file, name=label.file))
        except ImageDecodeError as exc:
            images.append(None)
            unreadable.append(str(exc))
    readings = iter(recognizer.read([image for image in images if image is not None]))
    read = [None if image is None else next(readings) for image in images]
    preds = ["" if reading is None else reading.text for reading in read]
    truths = [normalize_plate(label.plate) for label in labels]
    scores = score_crops(truths, preds, [getattr(label, "region", "") for label in labels],
                         [0.0 if reading is None else reading.confidence for reading in read])
    if failures is not None:
        wrong = [i for i, (t, p) in enumerate(zip(truths, preds)) if t != p]
        tiles = [UNREADABLE_TILE if images[i] is None else images[i] for i in wrong]
        atomic_write_image(failures, failure_montage(tiles, [truths[i] for i in wrong], [preds[i] for i in wrong]))
    title = f"{folder} (prior: {prior or 'none'}, recognizer: {recognizer.predictor.path.name}{', tta' if tta else ''})"
    return Evaluation(format_crop_report(scores, title) + _unreadable_note(unreadable), tuple(unreadable))


def evaluate_photos(
    folder: Path,
    prior: str | None = None,
    model: str | Path | None = None,
    detector: str | Path | None = None,
    failures: Path | None = None,
    min_score: float = MIN_SCORE,
    tta: bool = False,
    progress: bool = False,
) -> Evaluation:
    """Score the full reader on a folder of photos with labels.tsv (file, x, y, w, h, plate): a markdown report."""
    import time

    from tqdm import tqdm

    from platelab.eval.metrics import score_photos
    from platelab.eval.report import format_photo_report
    from platelab.io.atomic import atomic_write_image
    from platelab.io.draw import around_box, draw_plates, montage
    from platelab.io.labels import read_labels

    labels = read_labels(folder)
    boxes = {(label.file, label.plate): label.box for label in labels}
    reader = Reader(detector, model, prior, min_score=min_score, tta=tta)
    predictions: dict[str, list[tuple[tuple[int, int, int, int], str]]] = {}
    drawn: dict[str, np.ndarray] = {}
    seconds = 0.0
    files = list(dict.fromkeys(label.file for label in labels))
    unreadable: list[str] = []
    for file in tqdm(files, desc="reading", unit="photo", disable=not progress):
        try:
            image = read_image(folder / file, name=file)
        except ImageDecodeError as exc:
            unreadable.append(str(exc))
            predictions[file] = []
            continue
        start = time.perf_counter()
        plates = reader.read(image)
        seconds += time.perf_counter() - start
        predictions[file] = [(p.box, p.text) for p in plates]
        if failures is not None:
            drawn[file] = draw_plates(image, plates)
    scores = score_photos(labels, predictions)
    if failures is not None and scores.failures:
        shown = scores.failures[:48]
        # each tile is the labelled plate and what is around it, where a miss or a false plate can be seen
        tiles = [around_box(drawn[f], boxes[(f, t)]) if f in drawn else UNREADABLE_TILE for f, t, _ in shown]
        sheet = montage(tiles, [f"{t} -> {p or 'missed'}" for _, t, p in shown], cols=6, cell=(320, 200))
        atomic_write_image(failures, sheet)
    models = f"detector: {reader.reader.detector.path.name}, recognizer: {reader.reader.recognizer.path.name}"
    models += ", tta" if tta else ""
    report = format_photo_report(scores, f"{folder} (prior: {prior or 'none'}, {models})")
    read = len(predictions) - len(unreadable)
    report += f"\nmean time per photo (decoded, end to end): {1000 * seconds / max(read, 1):.1f} ms\n"
    return Evaluation(report + _unreadable_note(unreadable), tuple(unreadable))


def _unreadable_note(errors: list[str]) -> str:
    """The files an evaluation could not decode, which it scored as read as nothing."""
    if not errors:
        return ""
    return f"\n{len(errors)} file(s) could not be read and count as misses:\n" + "".join(f"- {e}\n" for e in errors)


def evaluate(folder: Path, prior: str | None = None, model: str | Path | None = None,
             detector: str | Path | None = None, failures: Path | None = None, min_score: float = MIN_SCORE,
             tta: bool = False, progress: bool = False) -> Evaluation:
    """Crops or photos, by the folder's labels.tsv header; progress: a progress bar on stderr."""
    from platelab.io.labels import labels_kind

    if labels_kind(folder) == "crops":
        return evaluate_crops(folder, prior, model, failures, tta, progress)
    return evaluate_photos(folder, prior, model, detector, failures, min_score, tta, progress)
