"""Test-time jitter: each crop is read at small moves of the recognizer's input and the readings vote."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from platelab.cli import app
from platelab.eval.synthetic import UNSEEN_SEED
from platelab.io.decode import read_image
from platelab.predict.preprocess import Jitter, preprocess_crops
from platelab.predict.recognizer import TTA_JITTERS, RecognitionPredictor
from platelab.predict.vote import vote
from platelab.synth.crops import CropGenerator, PlateCrop
from platelab.synth.style import builtin_styles
from platelab.synth.writer import write_crops


def _unseen_crops(count: int) -> list[PlateCrop]:
    generator = CropGenerator(list(builtin_styles().values()), seed=UNSEEN_SEED + 1)
    return [generator.sample(i) for i in range(count)]


def test_a_jitter_moves_the_input_by_whole_pixels_and_none_leaves_it() -> None:
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 255, (64, 128), np.uint8)
    plain = preprocess_crops([crop])[0, 0]
    assert np.array_equal(preprocess_crops([crop], jitters=[Jitter(), Jitter(1)])[0, 0], plain)
    moved = Jitter(dx=1, dy=-1).apply(crop.astype(np.float32))
    assert np.array_equal(moved[:-1, 1:], crop[1:, :-1].astype(np.float32))


def test_a_jitter_along_one_axis_or_in_scale_alone_still_moves_the_crop() -> None:
    # only the jitter that moves nothing leaves the crop as it is
    rng = np.random.default_rng(1)
    crop = rng.integers(0, 255, (64, 128)).astype(np.float32)
    assert np.array_equal(Jitter(dy=2).apply(crop)[2:], crop[:-2])
    assert np.array_equal(Jitter(dx=-2).apply(crop)[:, :-2], crop[:, 2:])
    assert not np.array_equal(Jitter(scale=1.1).apply(crop), crop)


def _centroid(image: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(image.shape)
    return float((image * xs).sum() / image.sum()), float((image * ys).sum() / image.sum())


def test_a_scale_jitter_keeps_the_crop_centred() -> None:
    # Jitter.scale is about the centre: a centred dot stays put (within half a pixel) as the crop grows or shrinks
    image = np.zeros((64, 128), np.float32)
    image[28:36, 60:68] = 255
    for scale in (0.8, 0.97, 1.03, 1.2):
        x, y = _centroid(Jitter(scale=scale).apply(image))
        assert abs(x - 63.5) < 0.5 and abs(y - 31.5) < 0.5, (scale, x, y)


def test_a_tta_reading_is_the_vote_of_its_jittered_readings() -> None:
    crops = [c.image for c in _unseen_crops(12)]
    plain, jittered = RecognitionPredictor(), RecognitionPredictor(tta=True)
    per_jitter = [plain.read_jittered(crops, jitter) for jitter in TTA_JITTERS]
    for i, reading in enumerate(jittered.read(crops)):
        views = [readings[i] for readings in per_jitter]
        best, confidence = vote(views)
        assert reading.text == views[best].text
        assert reading.confidence == confidence
        assert [c.char for c in reading.chars] == list(reading.text)


def test_eval_and_read_take_tta(tmp_path: Path) -> None:
    write_crops(tmp_path, 6, list(builtin_styles().values()), seed=UNSEEN_SEED + 2, progress=False)
    report = CliRunner().invoke(app, ["eval", str(tmp_path), "--tta"])
    assert report.exit_code == 0 and "tta)" in report.stdout
    read = CliRunner().invoke(app, ["read", "--crops", "--tta", "--json", str(tmp_path)])
    assert read.exit_code == 0
    lines = [json.loads(line) for line in read.stdout.splitlines()]
    expected = RecognitionPredictor(tta=True).read([read_image(tmp_path / line["file"]) for line in lines])
    confidences = [line["plates"][0]["confidence"] for line in lines]
    assert confidences == pytest.approx([r.confidence for r in expected], abs=1e-4)  # JSON keeps 4 decimals
