"""Sharper plate corners for small plates: detect each plate again in zoomed views of the photo around it.

In the detector's 640x384 view of a 1280x720 photo a 60-100 px plate is 30-50 px wide, and its corners are off
by a few photo pixels, enough for the crop to lose a character or gain a bolt. Re-detected in a small view
where it is about 120 px wide, the corners come out tighter. Each view that finds the plate gives one quad; the
reader reads every quad's crop and lets the readings vote, which also smooths out the remaining jitter. A view
that does not find the plate again gives none: re-reading the first crop there would only count its reading
twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from platelab.predict.detector import DetectionPredictor, quad_iou, quad_sides

MIN_VIEW_SCORE = 0.2  # the plate is known to be there; a weaker peak still has good corners
MIN_VIEW_IOU = 0.3  # a re-detection overlapping the plate less than this is a neighbour, not the plate
MAX_PLATE_ASPECT = 6.0  # the widest plate styles (EU) are 4.7 times as wide as high


@dataclass(frozen=True)
class ZoomView:
    """A view of size (width, height) px centred on the plate and zoom plate widths wide."""

    zoom: float
    size: tuple[int, int]


# Chosen on endtoend-us: views that make the plate 115-145 px wide read best.
ZOOM_VIEWS = (ZoomView(2.0, (256, 160)), ZoomView(2.25, (320, 192)), ZoomView(2.75, (320, 192)))


def _view(image: np.ndarray, quad: np.ndarray, view: ZoomView) -> tuple[np.ndarray, np.ndarray]:
    """The zoomed view as an image and the affine matrix from photo to view pixels."""
    width, height = view.size
    scale = width / max(view.zoom * quad_sides(quad)[0], 1.0)
    cx, cy = quad.mean(0)
    matrix = np.array([[scale, 0, width / 2 - scale * cx], [0, scale, height / 2 - scale * cy]], np.float32)
    pixels = cv2.warpAffine(image, matrix, view.size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return pixels, matrix


def _overlap(candidate: np.ndarray, quad: np.ndarray) -> float:
    """How well candidate matches the plate that quad marks: their IoU, except that a quad wider than any plate (a
    band across the characters, whose IoU with the whole plate stays low) matches fully a candidate holding its
    centre."""
    width, height = quad_sides(quad)
    if width > MAX_PLATE_ASPECT * max(height, 1.0):
        centre = tuple(float(v) for v in quad.mean(0))
        if cv2.pointPolygonTest(candidate.astype(np.float32), centre, False) >= 0:
            return 1.0
    return quad_iou(candidate, quad)


def refined_quads(
    detector: DetectionPredictor,
    image: np.ndarray,
    quads: list[np.ndarray],
    views: tuple[ZoomView, ...] = ZOOM_VIEWS,
) -> list[list[np.ndarray]]:
    """Per quad, the plate as re-detected in each view that shows it, in photo pixels (none where no view does).
    Views of one size run through the detector as one batch."""
    refined: list[dict[int, np.ndarray]] = [{} for _ in quads]
    for size in dict.fromkeys(v.size for v in views):
        jobs = [(i, j) for i in range(len(quads)) for j, v in enumerate(views) if v.size == size]
        shown = [_view(image, quads[i], views[j]) for i, j in jobs]
        found = detector.detect_batch([pixels for pixels, _ in shown], size, MIN_VIEW_SCORE)
        for (i, j), (_, matrix), detections in zip(jobs, shown, found):
            candidates = [(d.quad - matrix[:, 2]) / matrix[0, 0] for d in detections]
            overlaps = [_overlap(q, quads[i]) for q in candidates]
            best = max(range(len(candidates)), key=overlaps.__getitem__, default=None)
            if best is not None and overlaps[best] > MIN_VIEW_IOU:
                refined[i][j] = candidates[best]
    return [[found[j] for j in sorted(found)] for found in refined]
