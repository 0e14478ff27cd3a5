"""Finding plates in photos with onnxruntime: letterbox, ONNX heatmap + corners, peak decoding (no torch).

The network sees the photo in grey, shrunk to fit INPUT_SIZE and padded at the right and bottom. Each cell of
its stride-STRIDE output holds a plate-centre score and the plate's 4 corners as offsets from the cell's
centre, stored compressed by `encode_offsets` so large and small plates weigh alike in training.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from platelab.predict.preprocess import to_gray
from platelab.predict.session import (
    checked_finite,
    checked_probabilities,
    load_session,
    metadata_read,
    size_pair,
)
from platelab.predict.thresholds import MIN_SCORE
from platelab.weights import default_model

INPUT_SIZE = (640, 384)  # width, height
STRIDE = 4
MAX_DETECTIONS = 64
OVERLAP_IOU = 0.3  # a weaker detection overlapping a stronger one this much is the same plate
MIN_STD = 8.0  # a flat image is not stretched into noise


@dataclass(frozen=True)
class Detection:
    """A plate found in an image: score in [0, 1], quad (4, 2) float32 clockwise from top-left, pixels."""

    score: float
    quad: np.ndarray


@dataclass(frozen=True)
class Letterboxed:
    """A photo as the detector's input (H, W) float32, and the factor from photo pixels to input pixels."""

    image: np.ndarray
    scale: float


def letterbox(image: np.ndarray, size: tuple[int, int] = INPUT_SIZE) -> Letterboxed:
    """BGR or grey uint8 image of any size -> standardised grey input, photo at the top-left, padding 0.

    Standardising over the photo (not the padding) removes exposure, so night and day scenes look alike.
    Grey, because the synthetic scenes' colours (paint, backgrounds) are their least realistic part, while
    the plate's shape, edges and characters carry over from synthetic to real photos.
    """
    width, height = size
    gray = to_gray(image)
    scale = min(width / gray.shape[1], height / gray.shape[0])
    fit_w = min(width, max(1, round(gray.shape[1] * scale)))
    fit_h = min(height, max(1, round(gray.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(gray, (fit_w, fit_h), interpolation=interpolation).astype(np.float32)
    mean, std = cv2.meanStdDev(resized)
    out = np.zeros((height, width), np.float32)
    out[:fit_h, :fit_w] = (resized - mean[0, 0]) / max(std[0, 0], MIN_STD)
    return Letterboxed(out, scale)


def encode_offsets(offsets: np.ndarray) -> np.ndarray:
    """Corner offsets in cells -> targets: linear near 0, logarithmic for the far corners of big plates."""
    encoded: np.ndarray = np.sign(offsets) * np.log1p(np.abs(offsets))
    return encoded


def decode_offsets(encoded: np.ndarray) -> np.ndarray:
    offsets: np.ndarray = np.sign(encoded) * np.expm1(np.abs(encoded))
    return offsets


def cell_centres(height: int, width: int) -> np.ndarray:
    """(2, H, W) x, y of every output cell's centre, in cells."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([xs + 0.5, ys + 0.5])


def find_peaks(heatmap: np.ndarray, min_score: float, limit: int = MAX_DETECTIONS) -> np.ndarray:
    """(K, 2) row, column of the local maxima (3x3) scoring at least min_score, best first."""
    local_max = cv2.dilate(heatmap, np.ones((3, 3), np.uint8))
    rows, cols = np.nonzero((heatmap >= local_max) & (heatmap >= min_score))
    order = np.argsort(-heatmap[rows, cols], kind="stable")[:limit]
    return np.stack([rows[order], cols[order]], 1)


def quad_sides(quad: np.ndarray) -> tuple[float, float]:
    """Mean width and height of a quad ordered clockwise from top-left."""
    top, right, bottom, left = (float(np.linalg.norm(quad[(i + 1) % 4] - quad[i])) for i in range(4))
    return (top + bottom) / 2, (left + right) / 2


def quad_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two quads, taken as their convex hulls (a bad prediction may self-cross)."""
    hull_a = cv2.convexHull(a.astype(np.float32))
    hull_b = cv2.convexHull(b.astype(np.float32))
    inter, _ = cv2.intersectConvexConvex(hull_a, hull_b)
    union = cv2.contourArea(hull_a) + cv2.contourArea(hull_b) - inter
    return float(inter / union) if union > 0 else 0.0


def suppress_overlaps(detections: list[Detection], max_iou: float = OVERLAP_IOU) -> list[Detection]:
    """Keep the best of detections that overlap (a big plate can make two heatmap peaks); input best first."""
    kept: list[Detection] = []
    for detection in detections:
        if all(quad_iou(detection.quad, k.quad) <= max_iou for k in kept):
            kept.append(detection)
    return kept


def decode_detections(
    heatmap: np.ndarray, corners: np.ndarray, min_score: float, stride: int = STRIDE
) -> list[Detection]:
    """One image's outputs, heatmap (H, W) and encoded corners (8, H, W), -> detections in input pixels."""
    found = []
    # no corner of a plate in view lies farther from its centre than the view is wide: a peak whose corners do (their
    # exponential decoding overflows to inf, and its crop's size to NaN) holds nothing to read
    reach = np.log1p(max(heatmap.shape))
    for row, col in find_peaks(heatmap, min_score):
        encoded = corners[:, row, col].reshape(4, 2)
        if not np.abs(encoded).max() <= reach:
            continue
        quad = (decode_offsets(encoded) + np.array([col + 0.5, row + 0.5], np.float32)) * stride
        found.append(Detection(float(heatmap[row, col]), quad.astype(np.float32)))
    return suppress_overlaps(found)


class DetectionPredictor:
    """Photos (BGR or grey arrays) -> plate quads in the photo's own pixels."""

    def __init__(self, model: str | Path | None = None, threads: int = 0) -> None:
        if model is not None and not str(model):  # os.environ.get("MODEL", ""): not a way to ask for the bundled one
            raise ValueError("an empty detector model path (None for the bundled model)")
        self.path = Path(model) if model is not None else default_model("detector")
        self.session, metadata = load_session(self.path, "detector", threads)
        with metadata_read(self.path):
            self.input_size = size_pair(json.loads(metadata.get("input_size", json.dumps(INPUT_SIZE))), "input_size")
            self.stride = int(metadata.get("stride", STRIDE))
            if self.stride < 1:
                raise ValueError(f"stride {self.stride} is not a positive number of pixels")
        # exported with open height and width, the network also runs on other sizes (zoomed views)
        self.any_size = all(isinstance(d, str) for d in self.session.get_inputs()[0].shape[2:])

    def detect(self, image: np.ndarray, min_score: float = MIN_SCORE) -> list[Detection]:
        """The plates in one BGR image, in its own pixels; min_score as the reader's (MIN_SCORE)."""
        return self.detect_batch([image], self.input_size, min_score)[0]

    def detect_batch(
        self, images: list[np.ndarray], size: tuple[int, int], min_score: float
    ) -> list[list[Detection]]:
        """Detections in each image's own pixels, every image fitted into size (the model's own unless any_size),
        in one run of the network."""
        if not images:
            return []
        boxed = [letterbox(image, size if self.any_size else self.input_size) for image in images]
        heatmaps, corners = self.session.run(None, {"image": np.stack([b.image for b in boxed])[:, None]})
        heatmaps = checked_probabilities(self.path, heatmaps, "heatmap scores")
        checked_finite(self.path, corners, "corners")
        found = [decode_detections(h[0], c, min_score, self.stride) for h, c in zip(heatmaps, corners)]
        return [[Detection(d.score, d.quad / np.float32(b.scale)) for d in f] for b, f in zip(boxed, found)]
