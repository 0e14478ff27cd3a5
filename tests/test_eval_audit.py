"""What `platelab eval` reports, checked on edge cases with stubbed readings: the figures as the issue defines them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import cv2
import numpy as np
import pytest

from platelab.eval import failure_montage, folders, format_crop_report, format_photo_report, score_crops, score_photos
from platelab.io.labels import LabelError, PhotoLabel
from platelab.io.results import CharResult, PlateResult
from platelab.predict.charset import Charset


def _plate(text: str, box: tuple[int, int, int, int]) -> PlateResult:
    x, y, w, h = box
    quad = ((x, y), (x + w, y), (x + w, y + h), (x, y + h))
    return PlateResult(text, 0.9, tuple(CharResult(c, 0.9) for c in text), box, quad)


class _StubReader:
    """Reader stand-in: each photo's plates from a table, by the photo's height (the tests' photos differ in it)."""

    plates: ClassVar[dict[int, list[PlateResult]]] = {}
    made_with: ClassVar[tuple[tuple[Any, ...], dict[str, Any]]] = ((), {})  # the last one's arguments

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _StubReader.made_with = args, kwargs
        model = SimpleNamespace(path=Path("stub.onnx"), charset=Charset())
        self.reader = SimpleNamespace(detector=model, recognizer=model)

    def read(self, image: np.ndarray) -> list[PlateResult]:
        return self.plates[image.shape[0]]


class _StubRecognizer:
    """Recognizer stand-in: reads each crop as the text of its height in a table."""

    texts: ClassVar[dict[int, str]] = {}
    made_with: ClassVar[tuple[tuple[Any, ...], dict[str, Any]]] = ((), {})  # the last one's arguments

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _StubRecognizer.made_with = args, kwargs
        self.predictor = SimpleNamespace(path=Path("stub.onnx"), charset=Charset())

    def read(self, images: Sequence[np.ndarray]) -> list[PlateResult]:
        return [_plate(self.texts[image.shape[0]], (0, 0, image.shape[1], image.shape[0])) for image in images]


def test_a_plate_reported_twice_is_scored_by_the_box_that_fits_it_best() -> None:
    label = PhotoLabel("a.jpg", "ABC123", (100, 100, 100, 40))
    # listing a second text on the same plate must not turn a misread into a read
    predictions = {"a.jpg": [((100, 100, 100, 40), "ABC128"), ((104, 102, 96, 38), "abc-123")]}
    scores = score_photos([label], predictions)
    assert (scores.n_detected, scores.n_read, scores.n_false) == (1, 0, 0)
    assert scores.failures == [("a.jpg", "ABC123", "ABC128")] and scores.hits == [False]


def test_photo_montage_shows_a_missed_plate_where_it_is_when_two_plates_read_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cv2.imwrite(str(tmp_path / "car.png"), np.full((120, 200, 3), 90, np.uint8))
    (tmp_path / "labels.tsv").write_text(
        "file\tx\ty\tw\th\tplate\ncar.png\t10\t10\t60\t20\tABC123\ncar.png\t100\t60\t60\t20\tABC123\n"
    )
    _StubReader.plates = {120: [_plate("ABC123", (100, 60, 60, 20))]}  # the second plate read, the first missed
    monkeypatch.setattr(folders, "Reader", _StubReader)
    shown: list[tuple[float, ...]] = []
    import platelab.io.draw as draw

    real_around_box = draw.around_box
    monkeypatch.setattr(draw, "around_box", lambda image, box: shown.append(tuple(box)) or real_around_box(image, box))
    evaluation = folders.evaluate_photos(tmp_path, failures=tmp_path.parent / "fails.png")
    assert "| 1 | 2 | 50.0% | 50.0% |" in evaluation.report
    assert shown == [(10, 10, 60, 20)]


def test_a_photo_eval_with_nothing_wrong_writes_its_failures_file_as_crops_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cv2.imwrite(str(tmp_path / "car.png"), np.full((120, 200, 3), 90, np.uint8))
    (tmp_path / "labels.tsv").write_text("file\tx\ty\tw\th\tplate\ncar.png\t100\t60\t60\t20\tABC123\n")
    _StubReader.plates = {120: [_plate("ABC123", (100, 60, 60, 20))]}
    monkeypatch.setattr(folders, "Reader", _StubReader)
    fails = tmp_path.parent / "fails.png"
    assert "| 1 | 1 | 100.0% |" in folders.evaluate_photos(tmp_path, failures=fails).report
    sheet = cv2.imread(str(fails))
    assert sheet is not None and sheet.shape[1] == 192  # the one "no failures" tile


def test_eval_refuses_a_crop_labelled_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "labels.tsv").write_text("file\tstate\tplate\na.png\tca\tABC123\n\nb.png\tca\tXY1\na.png\tca\tABC123\n")
    monkeypatch.setattr(folders, "Recognizer", _StubRecognizer)
    with pytest.raises(LabelError, match=r"labels.tsv:5: a.png is labelled on line 2 already"):
        folders.evaluate_crops(tmp_path)


def test_crops_lower_case_and_dashes_empty_readings_and_missing_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, height in (("a.png", 40), ("b.png", 41)):
        cv2.imwrite(str(tmp_path / name), np.full((height, 90, 3), 120, np.uint8))
    (tmp_path / "labels.tsv").write_text(
        "file\tstate\tplate\na.png\tca\tabc-123\nb.png\tca\tXY 12\ngone.png\tny\tQRS9\n"
    )
    _StubRecognizer.texts = {40: "ABC123", 41: ""}
    monkeypatch.setattr(folders, "Recognizer", _StubRecognizer)
    import platelab.eval.report as report

    tiled: list[tuple[list[np.ndarray], list[str], list[str]]] = []
    monkeypatch.setattr(report, "failure_montage", lambda *shown: tiled.append(shown) or np.zeros((8, 8, 3), np.uint8))
    evaluation = folders.evaluate_crops(tmp_path, failures=tmp_path.parent / "fails.png")
    # one of three right; CER: 4 + 4 edits over 6 + 4 + 4 label characters, the missing file read as nothing
    assert "| 3 | 33.3% | 6.1-79.2% | 57.1% |" in evaluation.report
    assert "| 4 | 2 | 0.0% |" in evaluation.report and "| 6 | 1 | 100.0% |" in evaluation.report
    assert evaluation.unreadable and "gone.png" in evaluation.unreadable[0]
    # the missing file was read at confidence 0: kept at no threshold
    assert evaluation.scores.by_confidence[0.3] == (2, 0.5)
    # the montage shows the two misses, the missing file as the blank tile, and not abc-123 read as ABC123
    [(tiles, truths, reads)] = tiled
    assert (truths, reads) == (["XY12", "QRS9"], ["", ""])
    assert [tile.shape[0] for tile in tiles] == [41, folders.UNREADABLE_TILE.shape[0]]


def test_eval_names_the_labels_characters_the_model_does_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, height in (("a.png", 40), ("b.png", 41), ("c.png", 42)):
        cv2.imwrite(str(tmp_path / name), np.full((height, 90, 3), 120, np.uint8))
    # typed on a Cyrillic keyboard: А (U+0410) and В (U+0412) look like the A and B the model reads
    (tmp_path / "labels.tsv").write_text("file\tstate\tplate\na.png\tru\t\u0410\u0412123\n"
                                         "b.png\tru\t\u0410XY12\nc.png\tru\tABC123\n", encoding="utf-8")
    _StubRecognizer.texts = {40: "AB123", 41: "AXY12", 42: "ABC123"}
    monkeypatch.setattr(folders, "Recognizer", _StubRecognizer)
    evaluation = folders.evaluate_crops(tmp_path)
    assert evaluation.unread_characters == (("\u0410", 2), ("\u0412", 1))
    assert evaluation.to_dict()["unread_characters"] == {"\u0410": 2, "\u0412": 1}
    assert ("labels hold characters this model does not read, so those plates cannot be read right: "
            "'\u0410' (U+0410 CYRILLIC CAPITAL LETTER A) in 2; '\u0412' (U+0412 CYRILLIC CAPITAL LETTER VE) in 1"
            ) in evaluation.report
    (tmp_path / "labels.tsv").write_text("file\tstate\tplate\na.png\tru\tAB123\n", encoding="utf-8")
    plain = folders.evaluate_crops(tmp_path)
    assert plain.unread_characters == () and "does not read" not in plain.report


def test_eval_reads_with_the_options_it_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), np.full((40, 90, 3), 120, np.uint8))
    (tmp_path / "labels.tsv").write_text("file\tstate\tplate\na.png\tca\tABC123\n")
    _StubRecognizer.texts = {40: "ABC123"}
    monkeypatch.setattr(folders, "Recognizer", _StubRecognizer)
    crops = folders.evaluate_crops(tmp_path, prior="us", model="mine.onnx", tta=True, candidates=3)
    assert _StubRecognizer.made_with == (("mine.onnx", "us"), {"tta": True, "candidates": 3})
    assert (crops.options.prior, crops.options.tta, crops.options.candidates) == ("us", True, 3)

    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "car.png"), np.full((120, 200, 3), 90, np.uint8))
    (photos / "labels.tsv").write_text("file\tx\ty\tw\th\tplate\ncar.png\t10\t10\t60\t20\tABC123\n")
    _StubReader.plates = {120: []}
    monkeypatch.setattr(folders, "Reader", _StubReader)
    evaluation = folders.evaluate_photos(photos, prior="br", min_score=0.6, tta=True, candidates=2)
    assert _StubReader.made_with == ((None, None, "br"), {"min_score": 0.6, "tta": True, "candidates": 2})
    assert (evaluation.options.min_score, evaluation.options.tta) == (0.6, True)


def test_photo_eval_counts_the_photos_without_plates_and_times_only_those_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    cv2.imwrite(str(folder / "car.png"), np.full((120, 200, 3), 90, np.uint8))
    cv2.imwrite(str(folder / "road.png"), np.full((121, 200, 3), 90, np.uint8))
    (folder / "labels.tsv").write_text("file\tx\ty\tw\th\tplate\ncar.png\t10\t10\t60\t20\tABC123\n"
                                       "road.png\t\t\t\t\t\ngone.png\t\t\t\t\t\n")
    # the plate read right, and a sign on the photo without plates read as one
    _StubReader.plates = {120: [_plate("ABC123", (10, 10, 60, 20))], 121: [_plate("SIGN1", (0, 0, 40, 20))]}
    monkeypatch.setattr(folders, "Reader", _StubReader)
    import time

    ticks = iter(range(1000))
    monkeypatch.setattr(time, "perf_counter", lambda: float(next(ticks)))  # each read takes 1 s
    evaluation = folders.evaluate_photos(folder, failures=tmp_path / "fails.png")
    scores = evaluation.scores
    assert (scores.n_photos, scores.n_plates, scores.n_read, scores.n_false) == (3, 1, 1, 1)
    assert scores.false_plates == [("road.png", (0, 0, 40, 20), "SIGN1")]
    assert (tmp_path / "fails.png").is_file()  # a montage of the false plate alone
    assert evaluation.ms_per_photo == 1000.0  # two photos decoded and read, the missing one not counted
    assert len(evaluation.unreadable) == 1


def test_a_crop_read_as_nothing_is_captioned_so(monkeypatch: pytest.MonkeyPatch) -> None:
    captions: list[str] = []
    import platelab.eval.report as report

    monkeypatch.setattr(report, "montage", lambda images, shown, cols: captions.extend(shown) or images[0])
    failure_montage([np.zeros((20, 60, 3), np.uint8)] * 2, ["XYZ9", "AB1"], ["", "AB1"])
    assert captions == ["XYZ9 -> (nothing read)"]


def test_reports_say_what_their_figures_mean_and_read_of_detected() -> None:
    labels = [PhotoLabel(f"{i}.jpg", "ABC123", (0, 0, 50, 20)) for i in range(3)]
    predictions = {"0.jpg": [((0, 0, 50, 20), "ABC123")], "1.jpg": [((0, 0, 50, 20), "ABC128")]}
    photos = format_photo_report(score_photos(labels, predictions), "Photos")
    assert "| 3 | 3 | 66.7% | 33.3% | 6.1-79.2% | 0.00 | 50.0% |" in photos
    assert "O and 0 differ" in photos and "IoU at least 0.3" in photos and "is not counted" in photos
    crops = format_crop_report(score_crops(["ABC1"], ["ABC1"]), "Crops")
    assert "O and 0 differ" in crops and "the label's" in crops
