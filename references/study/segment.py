"""Classic character segmentation of a plate crop: binarise, connected components, shape filters, order.

Each character comes out as a 28 x 28 MNIST-style image (white ink on black, the ink fitted into 20 x 20 and
centred by its centre of mass), the input of the character classifiers of routes 1 and 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from platelab.predict.preprocess import to_gray

WORK_HEIGHT = 96  # crops are scaled to this height first, so every size threshold below is in these pixels
CHAR_SIDE = 28
INK_SIDE = 20
MAX_CHARS = 10


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int
    label: int = 0  # the connected component's label

    @property
    def centre_y(self) -> float:
        return self.y + self.h / 2


def binarisations(gray: np.ndarray) -> list[np.ndarray]:
    """Ink masks to try: Otsu and adaptive thresholds, for dark-on-light and light-on-dark characters."""
    smooth = cv2.GaussianBlur(gray, (3, 3), 0)
    _, otsu = cv2.threshold(smooth, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    block = 2 * (WORK_HEIGHT // 4) + 1  # about half a character: adapts to shading across the plate
    adaptive = cv2.adaptiveThreshold(smooth, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 8)
    return [
        otsu,
        255 - otsu,
        adaptive,
        cv2.adaptiveThreshold(smooth, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, -8),
    ]


def character_like(box: Box, area: int, height: int, width: int) -> bool:
    """Plate characters: 30-90 % of the crop's height, narrower than tall, not a hairline, not a frame."""
    fill = area / (box.w * box.h)
    return (
        0.3 * height <= box.h <= 0.9 * height
        and 0.08 * box.h <= box.w <= 1.1 * box.h
        and box.w < 0.3 * width
        and fill >= 0.15
    )


def consistent_row(boxes: list[Box]) -> list[Box]:
    """The boxes of one text row: about the median height and centred on the median line."""
    if not boxes:
        return []
    height = float(np.median([b.h for b in boxes]))
    middle = float(np.median([b.centre_y for b in boxes]))
    return [
        b for b in boxes if abs(b.h - height) <= 0.2 * height and abs(b.centre_y - middle) <= 0.25 * height
    ]


def character_components(ink: np.ndarray) -> tuple[list[Box], np.ndarray]:
    """The character boxes of an ink mask, left to right, and the component label image they refer to."""
    height, width = ink.shape
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    boxes = [(Box(*map(int, stats[i, :4]), label=i), int(stats[i, 4])) for i in range(1, count)]
    kept = [b for b, area in boxes if character_like(b, area, height, width)]
    return sorted(consistent_row(kept), key=lambda b: b.x), labels


def mnist_style(mask: np.ndarray) -> np.ndarray:
    """A binary character mask -> 28 x 28 float32 in [0, 1], ink fitted into 20 x 20, centred by mass."""
    h, w = mask.shape
    scale = INK_SIDE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    ink = cv2.resize(mask.astype(np.float32) / 255, size, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((CHAR_SIDE, CHAR_SIDE), np.float32)
    y0, x0 = (CHAR_SIDE - size[1]) // 2, (CHAR_SIDE - size[0]) // 2
    canvas[y0 : y0 + size[1], x0 : x0 + size[0]] = ink
    moments = cv2.moments(canvas)
    if moments["m00"] > 0:
        shift = np.float32(
            [
                [1, 0, CHAR_SIDE / 2 - moments["m10"] / moments["m00"]],
                [0, 1, CHAR_SIDE / 2 - moments["m01"] / moments["m00"]],
            ]
        )
        canvas = cv2.warpAffine(canvas, shift, (CHAR_SIDE, CHAR_SIDE))
    return canvas


def segment_characters(image: np.ndarray) -> list[np.ndarray]:
    """The characters of a plate crop (BGR or grey), left to right, as 28 x 28 images.

    Of the candidate binarisations, the one giving the most character-like components (at most MAX_CHARS)
    wins; earlier ones win ties, so Otsu on dark text comes first.
    """
    gray = to_gray(image)
    scale = WORK_HEIGHT / gray.shape[0]
    gray = cv2.resize(gray, (max(1, round(gray.shape[1] * scale)), WORK_HEIGHT), interpolation=cv2.INTER_AREA)
    best_boxes: list[Box] = []
    best_labels = np.zeros(gray.shape, np.int32)
    for ink in binarisations(gray):
        boxes, labels = character_components(ink)
        if len(best_boxes) < len(boxes) <= MAX_CHARS:
            best_boxes, best_labels = boxes, labels
    # Only the component's own pixels: a neighbour reaching into its box is not part of the character.
    return [
        mnist_style(
            np.where(best_labels[b.y : b.y + b.h, b.x : b.x + b.w] == b.label, 255, 0).astype(np.uint8)
        )
        for b in best_boxes
    ]
