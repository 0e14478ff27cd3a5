"""How a general text reader's lines become plates in the benchmarks (platelab.eval.peers)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from platelab.eval.peers import TextLine, plate_lines, tallest_plate

STATE = ([[10, 5], [90, 5], [90, 15], [10, 15]], "CALIFORNIA")
NUMBER = ([[12.4, 20], [88, 21], [87.6, 50], [12, 49.5]], "7ABC-123")
STICKER = ([[92, 4], [99, 4], [99, 12], [92, 12]], "24 05")


def test_only_lines_of_four_to_eight_plate_characters_are_plates() -> None:
    lines = [STATE, NUMBER, STICKER, ([[0, 0], [5, 0], [5, 5], [0, 5]], "abc"), ([[0, 0], [9, 0], [9, 9]], "A1B2C3D4E")]
    assert plate_lines(lines) == [((12, 20, 76, 30), "7ABC123"), ((92, 4, 7, 8), "2405")]


def test_a_crop_reads_as_its_tallest_plate_like_line() -> None:
    assert tallest_plate([STICKER, STATE, NUMBER]) == "7ABC123"
    assert tallest_plate([STATE]) == ""


def test_every_reader_s_single_crop_time_is_the_median_of_each_crop_read_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """benchmarks/recognizer.py times platelab and the peers alike, crop by crop."""
    from benchmarks import recognizer

    clock = iter([0.0, 1.0, 1.0, 3.0, 3.0, 13.0])  # the crops take 1, 2 and 10 seconds
    monkeypatch.setattr(recognizer.time, "perf_counter", lambda: next(clock))
    texts, rate, median_ms = recognizer.one_at_a_time(lambda image: f"read {image}", ["a", "b", "c"])  # type: ignore[arg-type,misc]
    assert (texts, rate, median_ms) == (["read a", "read b", "read c"], 3 / 13, 2000.0)


def test_a_peer_reads_a_crop_with_its_recogniser_alone_or_as_its_tallest_plate_like_line(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks import recognizer

    class Peer:
        def read_line(self, image: object) -> str:
            return "WHOLE1"

        def lines(self, image: object) -> list[TextLine]:
            return [STATE, NUMBER, STICKER]

    monkeypatch.setattr(recognizer, "text_reader", lambda name: Peer())
    assert recognizer.peer_reader("PP-OCRv5" + recognizer.RECOGNISER_ALONE)(np.zeros(1)) == "WHOLE1"
    assert recognizer.peer_reader("PP-OCRv5")(np.zeros(1)) == "7ABC123"


def test_the_recognizer_benchmark_scores_each_reading_of_the_crops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """benchmarks/recognizer.py: exact share, its interval from the count of crops read, CER, truth among candidates."""
    import sys

    from benchmarks import recognizer
    from platelab.eval.report import format_interval

    truths = [f"A{i:02d}" for i in range(22)]
    read = [f"B{i:02d}" if i < 7 else truth for i, truth in enumerate(truths)]  # 15 of 22 read

    class Reading(NamedTuple):
        text: str
        candidates: list[Reading]

    class Stub:
        def __init__(self, model: Path, prior: str | None = None, tta: bool = False, candidates: int = 1) -> None:
            self.candidates = candidates

        def read(self, images: int | list[int]) -> Reading | list[Reading]:
            if isinstance(images, int):  # one crop alone
                return Reading(read[images], [])
            listed = [[Reading(t, []) for t in ([read[i], truths[i]] if i == 1 else [read[i]])] for i in images]
            return [Reading(read[i], listed[n] if self.candidates > 1 else []) for n, i in enumerate(images)]

    monkeypatch.setattr(recognizer, "Recognizer", Stub)
    monkeypatch.setattr(recognizer, "load_crops", lambda folder, count: (list(range(22)), truths, "crops"))
    monkeypatch.setattr(recognizer, "describe_environment", lambda: "here")
    monkeypatch.setattr(sys, "argv", ["recognizer.py", "--recognizers", "r.onnx", "--peers", "--prior", "us"])
    recognizer.main()
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| platelab")]
    # 15 of 22 read (15/22 * 22 is 14.999...: the interval must be of 15 crops); 7 edits over 66 characters; the
    # truth of one misread crop among its candidates
    assert [row.split(" | ")[:4] for row in rows] == [
        [f"| platelab r (prior: {prior})", "68.2%", format_interval(15, 22), "10.6%"]
        for prior in ("none", "us", "auto")]
    assert all(row.split(" | ")[-2] == "72.7%" for row in rows)


def test_whole_photos_count_their_plates_the_plateless_photos_and_the_time_per_photo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """benchmarks/endtoend.py: a photo labelled without plates counts among the photos, and what is read on it is
    a false plate; photos are timed as given and at 1080p's pixel count, their shape kept."""
    import itertools

    import cv2

    from benchmarks import endtoend
    from platelab.io.labels import PhotoLabel, write_photo_labels

    assert endtoend.as_1080p_pixels(np.zeros((1000, 1000, 3), np.uint8)).shape == (1440, 1440, 3)
    assert endtoend.as_1080p_pixels(np.zeros((360, 640, 3), np.uint8)).shape == (1080, 1920, 3)
    for name, height in (("car.png", 120), ("empty.png", 121), ("van.png", 122)):
        cv2.imwrite(str(tmp_path / name), np.full((height, 200, 3), 90, np.uint8))
    labels = [PhotoLabel("car.png", "ABC123", (10, 10, 60, 20)), PhotoLabel("van.png", "XYZ789", (10, 10, 60, 20))]
    write_photo_labels(tmp_path / "labels.tsv", labels, photos=["car.png", "empty.png", "van.png"])
    found = {120: [((10, 10, 60, 20), "ABC123", ["ABC123"])], 122: [((12, 10, 60, 20), "XYZ788", ["XYZ788", "XYZ789"])]}
    found[121] = [((0, 0, 50, 15), "FALSE1", ["FALSE1"])]
    monkeypatch.setattr(endtoend.time, "perf_counter", itertools.count(0.0, 0.25).__next__)  # each read takes 0.25 s
    scores, ms, ms_1080p = endtoend.run(tmp_path, lambda image: found.get(image.shape[0], []))
    assert (scores.n_photos, scores.n_plates, scores.n_detected, scores.n_read, scores.n_false) == (3, 2, 2, 1, 1)
    assert (scores.n_among, scores.false_per_photo, ms, ms_1080p) == (2, 1 / 3, 250.0, 250.0)


@pytest.mark.parametrize(
    ("script", "options", "holds"),
    [
        ("endtoend", ["--real", "{real}"], "photos"),
        ("throughput", ["--folder", "{real}/endtoend-us"], "photos"),
        ("compare", ["--real", "{real}", "--sets", "endtoend-us"], "photos"),
        ("finetune_photos", ["--real", "{real}", "--sets", "endtoend-us"], "photos"),
        ("synth_vs_real", ["--real", "{real}/endtoend-us"], "plate crops"),
    ],
)
def test_a_benchmark_without_its_real_data_stops_with_one_line_naming_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], script: str,
    options: list[str], holds: str,
) -> None:
    """A benchmark run where ../shared/data/real is not: a line naming the folder, not a traceback, before any
    output."""
    import importlib
    import sys

    module = importlib.import_module(f"benchmarks.{script}")
    real = tmp_path / "real"
    monkeypatch.setattr(sys, "argv", [f"{script}.py", *(o.format(real=real) for o in options)])
    with pytest.raises(SystemExit) as stopped:
        module.main()
    message = str(stopped.value.code)
    assert message.startswith(f"{real / 'endtoend-us'}: no such folder; it should hold ") and holds in message
    assert capsys.readouterr().out == ""
    assert "\n" not in message
