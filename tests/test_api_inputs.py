"""What a program embedding platelab meets: the inputs it hands over, the mistakes it makes, the names it imports."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import platelab
from platelab.api import Reader, Recognizer
from platelab.eval.synthetic import UNSEEN_SEED
from platelab.synth.crops import CropGenerator
from platelab.synth.style import select_styles

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def crop() -> np.ndarray:
    return CropGenerator(select_styles(["us-*"]), seed=UNSEEN_SEED).sample(3).image


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "CMYK", "LA"])
def test_a_pillow_image_of_any_mode_reads_as_its_array(crop: np.ndarray, mode: str) -> None:
    recognizer = Recognizer()
    pillow = Image.fromarray(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)).convert(mode)
    expected = recognizer.read(cv2.cvtColor(np.asarray(pillow.convert("RGB")), cv2.COLOR_RGB2BGR))[0].text
    assert recognizer.read(pillow)[0].text == recognizer.read([pillow])[0].text == expected


def test_encoded_bytes_in_any_buffer_read_alike(crop: np.ndarray) -> None:
    encoded = cv2.imencode(".png", crop)[1].tobytes()
    texts = {result.text for result in Recognizer().read([encoded, bytearray(encoded), memoryview(encoded)])}
    assert len(texts) == 1


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: platelab.WatchList("ABC123"), TypeError,
     r"WatchList takes plates, not one string: WatchList\(\['ABC123'\]\)"),
    (lambda: platelab.read_paths("/"), TypeError, r"read_paths takes a list of paths, not one path"),
    (lambda: Reader(min_confidence=50), ValueError, r"min_confidence must be a number from 0 to 1, got 50"),
    (lambda: Reader(min_score=None), ValueError, r"min_score must be a number from 0 to 1, got None"),
    (lambda: Reader(recognizer=""), ValueError, r"an empty recognizer model path"),
    (lambda: Reader(detector=""), ValueError, r"an empty detector model path"),
    (lambda: Recognizer(prior=123), TypeError, r"prior must be a country's name"),
    (lambda: Recognizer(candidates=2.5), ValueError, r"candidates must be a whole number, 1 or more, got 2.5"),
    (lambda: Recognizer(threads=-1), ValueError, r"threads must be a whole number, 0 or more, got -1"),
    (lambda: Reader(min_chars=-1), ValueError, r"min_chars must be a whole number, 0 or more, got -1"),
    (lambda: Reader(tta="no"), TypeError, r"tta must be True or False, got 'no'"),  # a string that reads as True
    (lambda: Reader(refine=None), TypeError, r"refine must be True or False, got None"),
    # options each of which a cropped plate, read without detection, would ignore
    (lambda: platelab.read_paths(["."], crops=True, min_score=0.5, min_chars=3), ValueError,
     r"^min_score, min_chars: for photos and videos, not cropped plates$"),
    (lambda: platelab.read_paths(["."], crops=True, draw="out"), ValueError, r"^draw: for photos and videos"),
    (lambda: Recognizer().read(None), TypeError, r"got builtins.NoneType"),
    (lambda: pickle.dumps(Recognizer()), TypeError, r"a platelab Recognizer holds onnxruntime sessions"),
])
def test_a_mistake_is_refused_at_once_in_one_line(call: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as raised:
        result = call()  # type: ignore[operator]
        if hasattr(result, "__next__"):
            next(result)
    assert "\n" not in str(raised.value)


def test_the_bounds_of_min_confidence_and_min_score_are_accepted() -> None:
    for bound in (0, 1, 0.0, 1.0):
        assert Reader(min_confidence=bound, min_score=bound).reader.min_confidence == bound
    with pytest.raises(ValueError, match="min_confidence must be a number from 0 to 1, got True"):
        Reader(min_confidence=True)  # a flag is no share


def test_a_min_confidence_of_0_keeps_every_plate_of_a_photo_and_none_is_the_default() -> None:
    from platelab.api import PhotoReaderOptions
    from platelab.predict.thresholds import MIN_CHARACTERS, MIN_SCORE, PHOTO_MIN_CONFIDENCE

    def built(min_confidence: float | None) -> float:
        options = PhotoReaderOptions(None, None, None, min_confidence, MIN_SCORE, True, MIN_CHARACTERS, False, 1)
        return float(options.build().reader.min_confidence)

    assert (built(0.0), built(None), built(0.5)) == (0.0, PHOTO_MIN_CONFIDENCE, 0.5)


def test_crops_read_in_chunks_give_one_result_each_in_order(
    tmp_path: Path, crop: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    import platelab.api

    monkeypatch.setattr(platelab.api, "CHUNK", 2)
    for name in ("a.png", "b.png", "d.png", "e.png"):
        cv2.imwrite(str(tmp_path / name), crop)
    (tmp_path / "c.png").write_bytes(b"not a png")
    results = list(platelab.read_paths([tmp_path], crops=True))
    assert [(r.file, r.error is None, len(r.plates)) for r in results] == [
        ("a.png", True, 1), ("b.png", True, 1), ("c.png", False, 0), ("d.png", True, 1), ("e.png", True, 1)]
    assert results[2].error is not None and results[2].error.startswith("c.png: ")


def test_a_video_that_cannot_be_read_is_named_as_listed(tmp_path: Path) -> None:
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "gate.mp4").write_bytes(b"no video in here")
    [result] = platelab.read_paths([tmp_path / "clips"])
    assert result.error is not None and result.error.startswith("gate.mp4: "), result.error


def test_a_reader_is_not_pickled_and_says_what_to_do_instead() -> None:
    with pytest.raises(TypeError, match=r"make one in each process \(e\.g\. in a multiprocessing Pool's initializer\)"):
        pickle.dumps(Reader())


def test_a_stream_may_be_named_by_a_path(tmp_path: Path) -> None:
    with pytest.raises(platelab.ImageDecodeError, match=r"missing\.mp4"):
        list(Reader().follow(tmp_path / "missing.mp4"))


def test_the_errors_the_api_raises_are_importable_from_the_package() -> None:
    from platelab.io.decode import ImageDecodeError
    from platelab.predict.reader import RoiError
    from platelab.predict.recognizer import PriorError
    from platelab.predict.session import ModelLoadError
    from platelab.predict.watch import WatchListError

    assert (platelab.ImageDecodeError, platelab.ModelLoadError, platelab.PriorError, platelab.WatchListError) == (
        ImageDecodeError, ModelLoadError, PriorError, WatchListError)
    assert platelab.RoiError is RoiError  # Reader's docstring names it: a photo its roi misses
    assert {"Reader", "Recognizer", "PriorError"} <= set(dir(platelab))


def test_a_type_checker_refuses_a_name_the_package_does_not_have(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    client = tmp_path / "client.py"
    client.write_text("import platelab\n\nplatelab.Reader().read('car.jpg')\nplatelab.Reder()\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--follow-imports", "silent",
                             str(client)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'Module has no attribute "Reder"' in result.stdout and result.stdout.count("error:") == 1, result.stdout


def test_a_result_stored_as_a_json_line_comes_back_as_it_was_written() -> None:
    import json

    from platelab.io.results import Candidate, CharResult, ImageResult, PlateResult

    plate = PlateResult("AB123", 0.876543, tuple(CharResult(c, 0.9) for c in "AB123"), (1, 2, 30, 10),
                        ((1.0, 2.0), (31.0, 2.5), (31.0, 12.0), (1.0, 12.0)), frames=(3, 9), seconds=(0.1, 0.3),
                        candidates=(Candidate("AB123", 0.876543), Candidate("A8123", 0.1)), wanted="AB123",
                        fits="us")
    result = ImageResult("cam/car.jpg", (plate,))
    assert ImageResult.from_dict(result.to_dict()) == result
    stored = ImageResult.from_dict(json.loads(platelab.to_json_line(result)))
    assert stored.plates[0].confidence == 0.8765 and stored.plates[0].quad == plate.quad
    failed = ImageResult("bad.jpg", error="bad.jpg: not an image")
    assert ImageResult.from_dict(json.loads(platelab.to_json_line(failed))) == failed


def test_the_output_folders_of_read_paths_may_be_strings_and_a_watch_list_is_one(
    tmp_path: Path, demo_scene: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "car.jpg").write_bytes(demo_scene.read_bytes())
    [result] = platelab.read_paths(["in"], draw="drawn", save_plates="plates")
    assert result.error is None and len(result.plates) == 2
    assert (tmp_path / "drawn" / "car.jpg").is_file() and (tmp_path / "plates" / "labels.tsv").is_file()
    with pytest.raises(TypeError, match=r"watch takes a WatchList, not a list: watch=WatchList\(\[\.\.\.\]\)"):
        next(platelab.read_paths(["in"], watch=["ABC123"]))  # type: ignore[arg-type]
