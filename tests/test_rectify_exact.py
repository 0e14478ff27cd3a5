"""rectify's crop pixel for pixel on synthetic photos, and the quad the reader reports after the views vote."""

from __future__ import annotations

import numpy as np
import pytest

from platelab.io.results import PlateResult
from platelab.predict.reader import MAX_CROP_SIDE, PlateReader, rectify
from platelab.predict.recognizer import RecognitionPredictor
from tests.test_refine import PLATE, FirstViewOnlyDetector, _photo, _reading


def _noise(height: int, width: int) -> np.ndarray:
    """A BGR photo whose every pixel differs from its neighbours, so a crop shifted by one pixel shows."""
    return np.random.default_rng(7).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_a_level_plate_is_cut_out_with_its_margin_around_it() -> None:
    photo = _noise(300, 400)
    # 250 x 100 at x 100, y 80: with 4% margins the crop is 270 x 108 (at least 64 high, so not rescaled) and
    # the plate's top-left corner lands 10 px right and 4 px down of the crop's.
    quad = np.float32([[100, 80], [350, 80], [350, 180], [100, 180]])
    crop = rectify(photo, quad)
    assert crop.shape == (108, 270, 3)
    assert np.array_equal(crop, photo[76:184, 90:360])


def test_a_small_plate_is_upscaled_margin_and_all() -> None:
    # Each pixel holds twice its x in blue and twice its y in green; bilinear sampling reproduces that ramp
    # at half pixels too, so every crop pixel tells exactly where in the photo it was sampled.
    ys, xs = np.mgrid[0:128, 0:128]
    photo = np.dstack([2 * xs, 2 * ys, np.zeros_like(xs)]).astype(np.uint8)
    # 48 x 16 at x 40, y 50 with 50% margins: 96 x 32, doubled to reach 64 px high, so the plate's top-left
    # corner (40, 50) lands at (48, 16) and crop pixel (u, v) samples photo (40 + (u - 48) / 2, 50 + (v - 16) / 2).
    quad = np.float32([[40, 50], [88, 50], [88, 66], [40, 66]])
    crop = rectify(photo, quad, margin=0.5)
    assert crop.shape == (64, 192, 3)
    us, vs = np.arange(192), np.arange(64)
    assert np.array_equal(crop[0, :, 0], 2 * 40 + us - 48)
    assert np.array_equal(crop[:, 0, 1], 2 * 50 + vs - 16)


def test_a_plate_at_the_photo_edge_gets_the_edge_pixels_as_its_margin() -> None:
    # The plate fills the whole photo, so its 10 px side and 4 px top and bottom margins lie outside it.
    photo = _noise(100, 250)
    quad = np.float32([[0, 0], [250, 0], [250, 100], [0, 100]])
    crop = rectify(photo, quad)
    assert np.array_equal(crop, np.pad(photo, ((4, 4), (10, 10), (0, 0)), mode="edge"))


@pytest.mark.parametrize(
    ("width", "height"),
    [(2000, 20), (1500, 500), (500, 1500)],  # thin enough to be upscaled to 64 px high, simply big, and tall
)
def test_a_huge_plate_gives_a_crop_no_longer_than_max_crop_side(width: int, height: int) -> None:
    photo = np.zeros((height + 40, width + 40, 3), np.uint8)
    quad = np.float32([[20, 20], [20 + width, 20], [20 + width, 20 + height], [20, 20 + height]])
    crop = rectify(photo, quad)
    # the longer side with its margins is shrunk to MAX_CROP_SIDE, the other keeping the plate's aspect
    longer, shorter = max(width, height), min(width, height)
    sides = (MAX_CROP_SIDE, round(MAX_CROP_SIDE * shorter / longer))
    assert crop.shape[:2] == (sides if height > width else sides[::-1])


class ScriptedRecognizer(RecognitionPredictor):
    """Reads every crop as text (ABC123 unless told), each batch of crops at the next list of confidences; keeps the
    crops it was given, in order."""

    def __init__(self, batches: list[list[float]], text: str = "ABC123") -> None:
        self.batches = iter(batches)
        self.text = text
        self.crops: list[np.ndarray] = []

    def read(self, images: list[np.ndarray]) -> list[PlateResult]:
        confidences = next(self.batches)
        assert len(confidences) == len(images)
        self.crops += images
        return [_reading(self.text, confidence) for confidence in confidences]


def test_the_reported_quad_is_that_of_the_view_whose_reading_won(monkeypatch: pytest.MonkeyPatch) -> None:
    views = [PLATE + 2, PLATE - 1]  # where two zoomed views re-detect the plate found at PLATE
    monkeypatch.setattr("platelab.predict.reader.refined_quads", lambda detector, image, quads: [views])
    # the whole-photo crop reads at 0.5, the views' crops at 0.6 and 0.9: the second view's reading wins
    recognizer = ScriptedRecognizer([[0.5], [0.6, 0.9]])
    [plate] = PlateReader(FirstViewOnlyDetector(), recognizer, min_chars=0).read(_photo())
    assert plate.quad == ((599.0, 399.0), (679.0, 399.0), (679.0, 424.0), (599.0, 424.0))
    assert plate.box == (599, 399, 80, 25)
    assert plate.confidence == pytest.approx(0.9 * (0.5 + 0.6 + 0.9) / 3)  # detection score x mean vote
