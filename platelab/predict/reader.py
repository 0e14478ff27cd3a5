"""Reading plates in whole photos: detect their corners, straighten each plate, read them all in one batch."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from platelab.io.results import PlateResult
from platelab.predict.detector import Detection, DetectionPredictor, quad_sides
from platelab.predict.recognizer import RecognitionPredictor
from platelab.predict.refine import refined_quads
from platelab.predict.thresholds import MIN_CHARACTERS, MIN_SCORE
from platelab.predict.vote import vote

# The recognizer learnt from crops with -2% to 10% of the plate's size around it on each side.
MARGIN = 0.04
MIN_CROP_HEIGHT = 64  # small plates are sampled straight from the photo at the recognizer's height
MAX_CROP_SIDE = 1024  # huge plates are warped no bigger; the recognizer shrinks crops anyway
# Only detections whose first crop reads with at least this confidence are refined: on the benchmark photos
# every real plate read above 0.01 and 40-57% of the false detections below it (a speed gate).
REFINE_MIN_CONFIDENCE = 0.01


def rectify(image: np.ndarray, quad: np.ndarray, margin: float = MARGIN) -> np.ndarray:
    """The plate inside quad (clockwise from top-left, image pixels) as an upright crop with a margin.

    Sampling the full-resolution photo keeps the detail the detector's shrunken input lost. Works for any
    aspect, so two-row (square-ish) plates come out as square-ish crops, as the recognizer saw them.
    """
    width, height = quad_sides(quad)
    out_w, out_h = max(width, 1.0) * (1 + 2 * margin), max(height, 1.0) * (1 + 2 * margin)
    scale = min(max(1.0, MIN_CROP_HEIGHT / out_h), MAX_CROP_SIDE / max(out_w, out_h))
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]])
    plate = (corners * scale + (margin * width * scale, margin * height * scale)).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), plate)
    size = (max(1, round(out_w * scale)), max(1, round(out_h * scale)))
    return cv2.warpPerspective(image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def quad_box(quad: np.ndarray, image_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Integer box (x, y, w, h) around quad, clipped to the image."""
    height, width = image_shape[:2]
    x0, y0 = np.clip(np.floor(quad.min(0)), 0, (width, height)).astype(int)
    x1, y1 = np.clip(np.ceil(quad.max(0)), 0, (width, height)).astype(int)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


Roi = tuple[int, int, int, int]  # x, y, width, height in a photo's pixels


class RoiError(ValueError):
    """A region of interest that holds none of the photo."""


def roi_view(image: np.ndarray, roi: Roi) -> tuple[np.ndarray, np.ndarray]:
    """The part of image inside roi (clipped to the image) and its top-left corner (x, y) in the image's pixels;
    RoiError where none of the image is inside."""
    height, width = image.shape[:2]
    x, y, w, h = roi
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    if x1 <= x0 or y1 <= y0:
        raise RoiError(f"the region of interest {x},{y},{w},{h} lies outside the photo's {width}x{height} pixels")
    return image[y0:y1, x0:x1], np.array([x0, y0], np.float32)


class PlateReader:
    """Photos (BGR or grey arrays) -> PlateResult per plate, best first.

    detector and recognizer are predictors or ONNX paths (None: the bundled models); prior names a country
    whose plate formats constrain the reading (see RecognitionPredictor). With refine, each plate is also
    re-detected in zoomed views (platelab.predict.refine) and the crops' readings vote. A plate's confidence
    is the detection score times the voted reading confidence; plates below min_confidence, and readings of
    fewer than min_chars characters (or of none, whatever min_chars), are dropped. tta and candidates: as
    RecognitionPredictor's. roi: plates are looked for in that part of each photo alone (a fixed camera's lane),
    and read from the whole photo, so a plate the region's edge cuts is read whole; RoiError for a photo it misses.
    """

    def __init__(
        self,
        detector: DetectionPredictor | str | Path | None = None,
        recognizer: RecognitionPredictor | str | Path | None = None,
        prior: str | None = None,
        min_score: float = MIN_SCORE,
        min_confidence: float = 0.0,
        threads: int = 0,
        refine: bool = True,
        min_chars: int = MIN_CHARACTERS,
        tta: bool = False,
        candidates: int = 1,
        roi: Roi | None = None,
    ) -> None:
        self.detector = (
            detector if isinstance(detector, DetectionPredictor) else DetectionPredictor(detector, threads)
        )
        self.recognizer = (
            recognizer
            if isinstance(recognizer, RecognitionPredictor)
            else RecognitionPredictor(recognizer, prior=prior, threads=threads, tta=tta, candidates=candidates)
        )
        self.min_score = min_score
        self.min_confidence = min_confidence
        self.refine = refine
        self.min_chars = min_chars
        self.roi = roi

    def readings(self, image: np.ndarray) -> list[tuple[float, PlateResult]]:
        """(detector score, plate) for every detection above min_score, before the confidence filter."""
        detections = self._detections(image)
        first = self.recognizer.read([rectify(image, d.quad) for d in detections])
        chosen = [i for i, r in enumerate(first) if r.confidence >= REFINE_MIN_CONFIDENCE] if self.refine else []
        refined = refined_quads(self.detector, image, [detections[i].quad for i in chosen])
        readings = iter(self.recognizer.read([rectify(image, q) for group in refined for q in group]))
        quads = [[d.quad] for d in detections]
        views = [[r] for r in first]
        for i, group in zip(chosen, refined):
            quads[i] += group
            views[i] += [next(readings) for _ in group]
        found = []
        for detection, plate_quads, plate_views in zip(detections, quads, views):
            best, confidence = vote(plate_views)
            result = self._result(image, plate_quads[best], plate_views[best], detection.score * confidence)
            found.append((detection.score, result))
        return found

    def _detections(self, image: np.ndarray) -> list[Detection]:
        if self.roi is None:
            return self.detector.detect(image, self.min_score)
        view, corner = roi_view(image, self.roi)
        return [replace(d, quad=d.quad + corner) for d in self.detector.detect(view, self.min_score)]

    def read(self, image: np.ndarray) -> list[PlateResult]:
        # a reading of no characters is a detection nothing was read in, whatever min_chars allows (0: any length)
        kept = [p for _, p in self.readings(image)
                if p.confidence >= self.min_confidence and len(p.text) >= max(self.min_chars, 1)]
        return sorted(kept, key=lambda p: -p.confidence)

    @staticmethod
    def _result(image: np.ndarray, quad: np.ndarray, reading: PlateResult, confidence: float) -> PlateResult:
        """The reading of a plate's crop placed at its quad in the photo, at the plate's confidence."""
        return replace(reading.with_confidence(confidence), box=quad_box(quad, image.shape),
                       quad=tuple((float(x), float(y)) for x, y in quad))
