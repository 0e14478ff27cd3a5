"""Crop -> recognizer input: the one transform shared by training and reading, so they never drift apart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

INPUT_SIZE = (128, 64)  # width, height


@dataclass(frozen=True)
class Jitter:
    """A small move of the recognizer's input: dx, dy in input pixels, scale about the centre."""

    dx: float = 0.0
    dy: float = 0.0
    scale: float = 1.0

    def apply(self, image: np.ndarray) -> np.ndarray:
        if self == NO_JITTER:
            return image
        height, width = image.shape[:2]
        matrix = np.array([
            [self.scale, 0, (1 - self.scale) * width / 2 + self.dx],
            [0, self.scale, (1 - self.scale) * height / 2 + self.dy],
        ], np.float32)
        return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)


NO_JITTER = Jitter()


def to_gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def preprocess_crops(
    images: Sequence[np.ndarray], size: tuple[int, int] = INPUT_SIZE, jitters: Sequence[Jitter] = (NO_JITTER,)
) -> np.ndarray:
    """BGR or grey uint8 crops of any size -> float32 batch (jitters x N, 1, H, W), each crop standardised: every
    crop at the first jitter, then every crop at the next (test-time jitter moves the resized crop).

    Standardising each crop (zero mean, unit spread) removes exposure and contrast, the largest gap between
    synthetic and real crops, before the network sees them.
    """
    width, height = size
    batch = np.empty((len(jitters), len(images), 1, height, width), np.float32)
    for i, image in enumerate(images):
        gray = to_gray(image)
        interpolation = cv2.INTER_AREA if gray.shape[0] > height else cv2.INTER_LINEAR
        resized = cv2.resize(gray, (width, height), interpolation=interpolation).astype(np.float32)
        for j, jitter in enumerate(jitters):
            moved = jitter.apply(resized)
            mean, std = cv2.meanStdDev(moved)
            batch[j, i, 0] = (moved - mean[0, 0]) / max(std[0, 0], 8.0)
    return batch.reshape(-1, 1, height, width)
