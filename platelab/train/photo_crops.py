"""Labelled photos as fine-tuning crops, each plate cut as the photo reader first cuts it.

A user adapting the reader to their cameras has photos with plates marked, not crops. The recognizer reads
what the detector's corners and the reader's margin make of a plate (a crop about 9% wider than a hand-drawn
box on the benchmark photos), so a plate is cut from the detection that finds its labelled box when there is
one, and from the label's own corners (or box) when the detector misses it. (The reader also re-detects each
plate in zoomed views and reads those crops too; the first crop stands for them here.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from platelab.eval.metrics import overlaps
from platelab.io.labels import PhotoLabel
from platelab.predict.detector import Detection, DetectionPredictor
from platelab.predict.reader import quad_box, rectify
from platelab.utils.boxes import Box, box_iou

# A weak detection that finds the labelled plate still gives the reader's corners; the photo benchmarks count a
# detection as finding a plate from this overlap (or its centre inside the box), platelab.eval.metrics.
MIN_DETECTION_SCORE = 0.05
MATCH_IOU = 0.3


def label_quad(label: PhotoLabel) -> np.ndarray:
    """The labelled plate's corners, clockwise from top-left: its quad if labelled, else its box's."""
    if label.quad is not None:
        return np.asarray(label.quad, np.float32)
    x, y, w, h = label.box
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)


def detected_quad(label: PhotoLabel, detections: Sequence[Detection], boxes: Sequence[Box]) -> np.ndarray | None:
    """The corners the reader would first cut the labelled plate at: of the detections (boxes: theirs in the photo)
    that find its box, the one overlapping it most (a loose box may also hold a neighbouring plate's centre); None
    if none finds it."""
    found = [i for i, box in enumerate(boxes) if overlaps(box, label.box, MATCH_IOU)]
    if not found:
        return None
    return detections[max(found, key=lambda i: (box_iou(boxes[i], label.box), detections[i].score))].quad


def photo_plate_crops(
    image: np.ndarray, labels: Sequence[PhotoLabel], detector: DetectionPredictor
) -> list[tuple[np.ndarray, bool]]:
    """(crop, whether the detector found the plate) for each labelled plate of the photo, in the labels' order."""
    detections = detector.detect(image, MIN_DETECTION_SCORE)
    boxes = [quad_box(d.quad, image.shape) for d in detections]
    quads = [detected_quad(label, detections, boxes) for label in labels]
    return [(rectify(image, label_quad(label) if quad is None else quad), quad is not None)
            for label, quad in zip(labels, quads)]
