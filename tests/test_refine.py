"""Zoomed re-detection maps its quads back to the photo exactly, and the crops' readings vote."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from platelab.io.results import CharResult, PlateResult
from platelab.predict.detector import Detection, DetectionPredictor, quad_iou
from platelab.predict.preprocess import to_gray
from platelab.predict.reader import PlateReader
from platelab.predict.recognizer import RecognitionPredictor
from platelab.predict.refine import ZOOM_VIEWS, ZoomView, refined_quads
from platelab.predict.vote import vote

PLATE = np.float32([[600, 400], [680, 400], [680, 425], [600, 425]])


class BlobDetector(DetectionPredictor):
    """Finds every bright rectangle in whatever view it is given, in that view's pixels, left to right (right to
    left with right_first), all at one score, and keeps those at min_score or more, as the real detector does."""

    any_size = True

    def __init__(self, score: float = 0.9, right_first: bool = False) -> None:
        self.score = score
        self.right_first = right_first
        self.sizes: list[tuple[int, int]] = []
        self.runs = 0

    def detect_batch(
        self, images: list[np.ndarray], size: tuple[int, int], min_score: float
    ) -> list[list[Detection]]:
        self.sizes += [size] * len(images)
        self.runs += 1
        return [self._blobs(image, min_score) for image in images]

    def _blobs(self, image: np.ndarray, min_score: float) -> list[Detection]:
        if self.score < min_score:
            return []
        _, _, stats, _ = cv2.connectedComponentsWithStats((to_gray(image) > 128).astype(np.uint8))
        quads = [np.float32([[x, y], [x + w, y], [x + w, y + h], [x, y + h]]) for x, y, w, h, _ in stats[1:]]
        quads.sort(key=lambda q: -q[0, 0] if self.right_first else q[0, 0])
        return [Detection(self.score, q) for q in quads]


def _photo() -> np.ndarray:
    photo = np.zeros((720, 1280, 3), np.uint8)
    photo[400:425, 600:680] = 255
    return photo


def test_refined_quads_land_on_the_plate_in_photo_pixels() -> None:
    detector = BlobDetector()
    rough = PLATE + np.float32([[6, -3], [4, 2], [7, 3], [5, -2]])  # a first detection a few pixels off
    [quads] = refined_quads(detector, _photo(), [rough])
    assert len(quads) == len(ZOOM_VIEWS) and sorted(detector.sizes) == sorted(v.size for v in ZOOM_VIEWS)
    for quad in quads:
        assert np.abs(quad - PLATE).max() < 1.0


def test_a_view_without_the_plate_adds_no_quad() -> None:
    elsewhere = np.float32([[100, 100], [180, 100], [180, 125], [100, 125]])  # the views around it are empty
    [quads] = refined_quads(BlobDetector(), _photo(), [elsewhere])
    assert quads == []


def test_a_neighbouring_plate_in_the_view_is_not_taken_for_this_one() -> None:
    beside = PLATE + np.float32([100, 0])  # the first quad overlaps nothing; the view shows the plate beside it
    [quads] = refined_quads(BlobDetector(), _photo(), [beside])
    assert quads == []


def test_a_band_across_the_characters_is_replaced_by_the_plate_the_view_finds() -> None:
    # 70 x 8: no plate is that wide for its height; its IoU with the whole 80 x 25 plate is 0.28, under the
    # neighbour threshold, so only its centre inside the re-detection tells they are one plate.
    band = np.float32([[605, 408], [675, 408], [675, 416], [605, 416]])
    [quads] = refined_quads(BlobDetector(), _photo(), [band])
    assert len(quads) == len(ZOOM_VIEWS) and all(np.abs(q - PLATE).max() < 1.0 for q in quads)
    # the same band beside the plate (its centre outside it) stays a neighbour's
    beside = band + np.float32([0, 40])
    [quads] = refined_quads(BlobDetector(), _photo(), [beside])
    assert quads == []


def test_several_plates_are_refined_in_one_batch_per_view_size() -> None:
    detector = BlobDetector()
    photo = _photo()
    photo[100:125, 100:180] = 255
    second = np.float32([[102, 98], [183, 101], [181, 127], [99, 124]])
    first, other = refined_quads(detector, photo, [PLATE + 3, second])
    assert np.abs(np.array(first) - PLATE).max() < 1.0
    assert np.abs(np.array(other) - np.float32([[100, 100], [180, 100], [180, 125], [100, 125]])).max() < 1.0
    assert len(detector.sizes) == 2 * len(ZOOM_VIEWS)
    assert detector.runs == len({v.size for v in ZOOM_VIEWS})


def test_a_weak_peak_in_a_zoomed_view_still_gives_the_plates_corners() -> None:
    # the plate is known to be there, so a view's re-detection scoring only 0.3 still gives its corners
    [quads] = refined_quads(BlobDetector(score=0.3), _photo(), [PLATE + 2])
    assert len(quads) == len(ZOOM_VIEWS) and all(np.abs(q - PLATE).max() < 1.0 for q in quads)


def test_a_re_detection_overlapping_the_first_quad_only_partly_is_a_neighbour() -> None:
    # the first quad lies 55 px to the right of the plate: IoU 0.19 with it, some overlap but under MIN_VIEW_IOU
    shifted = PLATE + np.float32([55, 0])
    assert 0.1 < quad_iou(shifted, PLATE) < 0.3
    assert refined_quads(BlobDetector(), _photo(), [shifted]) == [[]]


def test_of_several_detections_in_a_view_the_one_overlapping_the_plate_most_is_taken() -> None:
    # a second plate 10 px to the right shows in every view and is listed first: the plate's own re-detection wins
    photo = _photo()
    photo[400:425, 690:770] = 255
    [quads] = refined_quads(BlobDetector(right_first=True), photo, [PLATE + 2])
    assert len(quads) == len(ZOOM_VIEWS) and all(np.abs(q - PLATE).max() < 1.0 for q in quads)


def test_a_plate_shaped_quad_is_not_matched_by_a_bigger_detection_holding_its_centre() -> None:
    # 94 x 20 (an EU plate's 4.7:1) inside a white panel the views find whole: only a quad wider than any plate (a
    # band across the characters) is matched by its centre; this one's IoU with the panel is low, so no quad
    panel = np.zeros((720, 1280, 3), np.uint8)
    panel[300:420, 400:640] = 255
    quad = np.float32([[473, 350], [567, 350], [567, 370], [473, 370]])
    assert refined_quads(BlobDetector(), panel, [quad]) == [[]]


def test_refined_quads_come_in_the_order_of_the_views() -> None:
    # views of one size run as one batch, whatever their order: the quads still follow the views as given
    views = (ZoomView(2.0, (320, 192)), ZoomView(2.0, (256, 160)), ZoomView(2.75, (320, 192)))
    rough = PLATE + np.float32([[6, -3], [4, 2], [7, 3], [5, -2]])
    alone = [refined_quads(BlobDetector(), _photo(), [rough], views=(view,))[0][0] for view in views]
    assert not np.array_equal(alone[1], alone[2])  # each view's quad differs a little: the order shows
    [together] = refined_quads(BlobDetector(), _photo(), [rough], views=views)
    assert len(together) == len(views) and all(np.array_equal(a, t) for a, t in zip(alone, together))


def _reading(text: str, confidence: float) -> PlateResult:
    return PlateResult(text, confidence, (CharResult(text[:1], confidence),), (0, 0, 1, 1), ((0, 0),) * 4)


def test_readings_that_agree_outvote_one_sure_reading() -> None:
    best, confidence = vote([_reading("ABC123", 0.9), _reading("ABC128", 0.5), _reading("ABC128", 0.6)])
    assert best == 2 and confidence == pytest.approx(1.1 / 3)
    best, confidence = vote([_reading("ABC123", 0.9), _reading("ABC128", 0.2), _reading("XYZ", 0.3)])
    assert best == 0 and confidence == pytest.approx(0.3)


class CountingRecognizer(RecognitionPredictor):
    """Reads every crop as the same plate and counts the crops it was given."""

    def __init__(self) -> None:
        self.crops = 0

    def read(self, images: list[np.ndarray]) -> list[PlateResult]:
        self.crops += len(images)
        return [_reading("ABC123", 0.9) for _ in images]


class FirstViewOnlyDetector(BlobDetector):
    """Finds the plate in the whole photo but in none of the zoomed views."""

    input_size = (640, 384)

    def detect_batch(
        self, images: list[np.ndarray], size: tuple[int, int], min_score: float
    ) -> list[list[Detection]]:
        return [self._blobs(image, min_score) if size == self.input_size else [] for image in images]


def test_a_plate_no_view_finds_again_is_read_once_and_keeps_its_confidence() -> None:
    recognizer = CountingRecognizer()
    [plate] = PlateReader(FirstViewOnlyDetector(), recognizer).read(_photo())
    assert recognizer.crops == 1 and plate.text == "ABC123" and plate.confidence == pytest.approx(0.9 * 0.9)
    recognizer = CountingRecognizer()
    detector = BlobDetector()
    detector.input_size = (640, 384)
    [plate] = PlateReader(detector, recognizer).read(_photo())
    assert recognizer.crops == 1 + len(ZOOM_VIEWS) and plate.confidence == pytest.approx(0.9 * 0.9)
