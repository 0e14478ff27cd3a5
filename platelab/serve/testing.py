"""A stand-in reader that always finds the same plate, to test and load-test the server without models."""

from __future__ import annotations

import time

import numpy as np

from platelab.io.results import CharResult, PlateResult

FIXED_TEXT = "PL8TE42"


class FixedReader:
    """Finds FIXED_TEXT in the middle of every photo, after sleeping delay_s (a stand-in for inference)."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s

    def read(self, image: np.ndarray) -> list[PlateResult]:
        if self.delay_s:
            time.sleep(self.delay_s)
        height, width = image.shape[:2]
        x, y, w, h = width // 4, height // 3, width // 2, height // 6
        return [PlateResult(
            text=FIXED_TEXT,
            confidence=0.9,
            chars=tuple(CharResult(char, 0.9) for char in FIXED_TEXT),
            box=(x, y, w, h),
            quad=((x, y), (x + w, y), (x + w, y + h), (x, y + h)),
        )]
