"""Scoring the reader on a labelled folder (crops or photos, by its labels.tsv): a markdown report, or the same
figures as JSON.

A labelled file that does not decode is scored as read as nothing and listed; the others are scored as usual.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from platelab.api import Reader, Recognizer
from platelab.eval.environment import Environment
from platelab.eval.metrics import CropScores, PhotoScores
from platelab.io.decode import image_or_error
from platelab.io.labels import labelled_file
from platelab.predict.thresholds import MIN_SCORE
from platelab.utils.errors import named_characters

UNREADABLE_TILE = np.full((48, 144, 3), 96, np.uint8)  # a failure montage's tile for a file that did not decode
MONTAGE_TILES = 48  # a photo failure montage shows the first misses, then false plates, up to this many


PHOTO_ONLY_OPTIONS = ("detector", "min_score")


@dataclass(frozen=True)
class EvalOptions:
    """What an evaluation was run with: models by file name; detector and min_score are None for crops."""

    prior: str | None
    recognizer: str
    tta: bool
    candidates: int
    detector: str | None = None
    min_score: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {key: value for key, value in asdict(self).items() if key not in PHOTO_ONLY_OPTIONS or value is not None}


@dataclass(frozen=True)
class Evaluation:
    """An evaluation's scores, what it ran with and on, and the one-line errors of labelled files that could not be
    decoded (each scored as read as nothing), and the characters of labels the model cannot output with the number
    of labels holding each (such a plate cannot be read right: a label typed with a Cyrillic look-alike А, or a
    region's letter the model was never given). `report` (markdown) and `to_dict()` (JSON) are both drawn from these
    fields, so the two always give the same figures."""

    folder: Path
    scores: CropScores | PhotoScores
    options: EvalOptions
    environment: Environment
    unreadable: tuple[str, ...] = ()
    ms_per_photo: float | None = None  # photos: mean time to read a decoded photo, end to end
    unread_characters: tuple[tuple[str, int], ...] = ()

    @property
    def kind(self) -> str:
        return "crops" if isinstance(self.scores, CropScores) else "photos"

    @property
    def report(self) -> str:
        from platelab.eval.report import format_crop_report, format_photo_report

        options = self.options
        models = f"detector: {options.detector}, " if options.detector is not None else ""
        models += f"recognizer: {options.recognizer}" + (", tta" if options.tta else "")
        title = f"{self.folder} (prior: {options.prior or 'none'}, {models})"
        if isinstance(self.scores, CropScores):
            report = format_crop_report(self.scores, title)
        else:
            report = format_photo_report(self.scores, title)
        if self.ms_per_photo is not None:
            report += f"\nmean time per photo (decoded, end to end): {self.ms_per_photo:.1f} ms\n"
        # what the figures were measured on: small plates turn on how OpenCV and onnxruntime round
        # (docs/engine_log.md)
        report += f"\nmeasured on: {self.environment.describe()}\n"
        return report + _unreadable_note(self.unreadable) + _unread_note(self.unread_characters)

    def to_dict(self) -> dict[str, object]:
        """Every figure of the report as JSON-ready numbers (shares 0-1, counts), under the keys the README lists for
        `platelab eval --json`."""
        photos = {} if self.ms_per_photo is None else {"ms_per_photo": self.ms_per_photo}
        return {
            "kind": self.kind,
            # ".." taken away by name, as the shell's cd does: `eval ..` names the folder, not ".."
            "set": Path(os.path.normpath(self.folder.absolute())).name,
            "folder": str(self.folder),
            **self.scores.to_dict(),
            **photos,
            "options": self.options.to_dict(),
            "environment": self.environment.to_dict(),
            "unreadable": list(self.unreadable),
            "unread_characters": dict(self.unread_characters),
        }


def evaluate_crops(
    folder: Path, prior: str | None = None, model: str | Path | None = None, failures: Path | None = None,
    tta: bool = False, progress: bool = False, candidates: int = 1,
) -> Evaluation:
    """Score the recognizer on a folder of crops with labels.tsv: a markdown report (with candidates over 1, how
    often the truth is among each reading's that many most likely texts)."""
    from tqdm import tqdm

    from platelab.eval.metrics import score_crops
    from platelab.eval.report import failure_montage
    from platelab.io.atomic import atomic_write_image
    from platelab.io.labels import normalize_plate, read_labels

    labels = read_labels(folder)
    _refuse_a_crop_twice(folder)
    recognizer = Recognizer(model, prior, tta=tta, candidates=candidates)
    images: list[np.ndarray | None] = []
    unreadable: list[str] = []
    for label in tqdm(labels, desc="decoding", unit="crop", disable=not progress):
        image = image_or_error(labelled_file(folder, label.file), label.file)
        images.append(None if isinstance(image, str) else image)
        if isinstance(image, str):
            unreadable.append(image)
    readings = iter(recognizer.read([image for image in images if image is not None]))
    read = [None if image is None else next(readings) for image in images]
    preds = ["" if reading is None else reading.text for reading in read]
    truths = [normalize_plate(label.plate) for label in labels]
    texts = [[] if reading is None else [c.text for c in reading.candidates] for reading in read]
    scores = score_crops(truths, preds, [getattr(label, "region", "") for label in labels],
                         [0.0 if reading is None else reading.confidence for reading in read],
                         texts if candidates > 1 else None)
    if failures is not None:
        wrong = [i for i, (t, p) in enumerate(zip(truths, preds)) if t != p]
        tiles = [UNREADABLE_TILE if image is None else image for image in (images[i] for i in wrong)]
        atomic_write_image(failures, failure_montage(tiles, [truths[i] for i in wrong], [preds[i] for i in wrong]))
    options = EvalOptions(prior, recognizer.predictor.path.name, tta, candidates)
    return Evaluation(folder, scores, options, Environment.here(), tuple(unreadable),
                      unread_characters=_unread_characters(truths, recognizer.predictor.charset.chars))


def evaluate_photos(
    folder: Path,
    prior: str | None = None,
    model: str | Path | None = None,
    detector: str | Path | None = None,
    failures: Path | None = None,
    min_score: float = MIN_SCORE,
    tta: bool = False,
    progress: bool = False,
    candidates: int = 1,
) -> Evaluation:
    """Score the full reader on a folder of photos with labels.tsv (file, x, y, w, h, plate): a markdown report
    (with candidates over 1, how often a plate's truth is among its that many most likely texts)."""
    import time

    from tqdm import tqdm

    from platelab.eval.metrics import score_photos
    from platelab.eval.report import failure_montage
    from platelab.io.atomic import atomic_write_image
    from platelab.io.draw import around_box, draw_plates, montage
    from platelab.io.labels import normalize_plate, read_photo_set

    labels, files = read_photo_set(folder)
    reader = Reader(detector, model, prior, min_score=min_score, tta=tta, candidates=candidates)
    predictions: dict[str, list[tuple[tuple[int, int, int, int], str]]] = {}
    texts: dict[str, list[list[str]]] = {}
    drawn: dict[str, np.ndarray] = {}
    seconds = 0.0
    unreadable: list[str] = []
    for file in tqdm(files, desc="reading", unit="photo", disable=not progress):
        image = image_or_error(labelled_file(folder, file), file)
        if isinstance(image, str):
            unreadable.append(image)
            predictions[file], texts[file] = [], []
            continue
        start = time.perf_counter()
        plates = reader.read(image)
        seconds += time.perf_counter() - start
        predictions[file] = [(p.box, p.text) for p in plates]
        texts[file] = [[c.text for c in p.candidates] for p in plates]
        if failures is not None:
            drawn[file] = draw_plates(image, plates)
    scores = score_photos(labels, predictions, candidates=texts if candidates > 1 else None, photos=files)
    if failures is not None and (scores.failures or scores.false_plates):
        # each tile is a labelled plate missed or misread, or a false plate, with what is around it
        misses = scores.failures[:MONTAGE_TILES]
        # by label, not by (file, text): two plates of one photo may carry the same text
        tiles = [around_box(drawn[f], labels[i].box) if f in drawn else UNREADABLE_TILE
                 for (f, _, _), i in zip(misses, scores.missed, strict=False)]
        captions = [f"{t} -> {p or 'missed'}" for _, t, p in misses]
        false_plates = scores.false_plates[: MONTAGE_TILES - len(misses)]
        tiles += [around_box(drawn[f], box) for f, box, _ in false_plates]
        captions += [f"false: {text}" for _, _, text in false_plates]
        atomic_write_image(failures, montage(tiles, captions, cols=6, cell=(320, 200)))
    elif failures is not None:  # as for crops: the file is always written, so a script can always open it
        atomic_write_image(failures, failure_montage([], [], []))
    options = EvalOptions(prior, reader.reader.recognizer.path.name, tta, candidates,
                          reader.reader.detector.path.name, min_score)
    decoded = len(predictions) - len(unreadable)
    truths = [normalize_plate(label.plate) for label in labels]
    return Evaluation(folder, scores, options, Environment.here(), tuple(unreadable),
                      ms_per_photo=1000 * seconds / max(decoded, 1),
                      unread_characters=_unread_characters(truths, reader.reader.recognizer.charset.chars))


def _refuse_a_crop_twice(folder: Path) -> None:
    """Every row is scored: a crop labelled twice would count twice (or, labelled two ways, be a certain miss), as a
    photo's plate labelled twice is refused when the labels are read."""
    from platelab.io.labels import LabelError, labelled_rows, labels_path

    path = labels_path(folder)
    first_line: dict[str, int] = {}
    for line, cells in labelled_rows(path):
        earlier = first_line.setdefault(cells[0].strip(), line)
        if earlier != line:
            raise LabelError(path, line, f"{cells[0].strip()} is labelled on line {earlier} already")


def _unreadable_note(errors: tuple[str, ...]) -> str:
    """The files an evaluation could not decode, which it scored as read as nothing."""
    if not errors:
        return ""
    return f"\n{len(errors)} file(s) could not be read and count as misses:\n" + "".join(f"- {e}\n" for e in errors)


def _unread_characters(truths: Iterable[str], charset: str) -> tuple[tuple[str, int], ...]:
    """The labels' characters outside the model's charset, each with the number of labels holding it, commonest
    first."""
    counts = Counter(c for truth in truths for c in set(truth) if c not in charset)
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _unread_note(unread: tuple[tuple[str, int], ...]) -> str:
    if not unread:
        return ""
    listed = "; ".join(f"{named_characters(c)} in {n}" for c, n in unread)
    return f"\nlabels hold characters this model does not read, so those plates cannot be read right: {listed}\n"


def evaluate(folder: str | Path, prior: str | None = None, model: str | Path | None = None,
             detector: str | Path | None = None, failures: str | Path | None = None, min_score: float = MIN_SCORE,
             tta: bool = False, progress: bool = False, candidates: int = 1) -> Evaluation:
    """Crops or photos, by the folder's labels.tsv header; progress: a progress bar on stderr. The folder and the
    failures montage may be given as strings, as the other paths of the Python API may; a labels.tsv given for its
    folder scores that folder (its rows name files beside it)."""
    from platelab.io.labels import LABELS_FILE, labels_kind

    folder = Path(folder)
    if folder.name == LABELS_FILE and folder.is_file():
        folder = folder.parent
    failures = None if failures is None else Path(failures)
    if labels_kind(folder) == "crops":
        if detector is not None or min_score != MIN_SCORE:  # each would be ignored: a crop is read without detection
            raise ValueError(f"{folder}: cropped plates; detector and min_score are for photos")
        return evaluate_crops(folder, prior, model, failures, tta, progress, candidates)
    return evaluate_photos(folder, prior, model, detector, failures, min_score, tta, progress, candidates)
