"""Route 2: a character classifier trained on A-Z0-9 rendered from the plate fonts (Chars74K-Fnt style)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from platelab.synth.fonts import FontNotFoundError, find_font, font_sets, glyph
from references.study.charclass import SegmentedScores, score_segmented, train_classifier
from references.study.segment import mnist_style

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
NOT_PLATE_CHARACTERS = {"sans-label", "us-serif-title"}  # font sets for printed words, not plate numbers


@dataclass(frozen=True)
class FontResult:
    fonts: int
    plates: SegmentedScores


def plate_fonts() -> list[str]:
    """Every installed font file that a font set for plate characters names."""
    sets = font_sets()
    names = sorted(
        {f.file for name, fonts in sets.items() if name not in NOT_PLATE_CHARACTERS for f in fonts}
    )
    installed = []
    for name in names:
        try:
            find_font(name)
        except FontNotFoundError:
            continue
        installed.append(name)
    return installed


def render_char(font: str, char: str, rng: np.random.Generator) -> np.ndarray:
    """One character as the segmenter would cut it: varied weight, width, slant and blur, then binarised."""
    mask = glyph(font, char, int(rng.integers(0, 4))).mask
    h, w = mask.shape
    mask = cv2.resize(mask, (max(1, round(w * rng.uniform(0.7, 1.15))), h), interpolation=cv2.INTER_AREA)
    pad = h // 6
    mask = cv2.copyMakeBorder(mask, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    centre = (mask.shape[1] / 2, mask.shape[0] / 2)
    matrix = cv2.getRotationMatrix2D(centre, rng.uniform(-4, 4), 1.0)
    matrix[0, 1] += rng.uniform(-0.1, 0.1)
    mask = cv2.warpAffine(mask, matrix, (mask.shape[1], mask.shape[0]))
    # Drawn at about the size the segmenter sees (half its 96 px work height), then blurred and thresholded.
    small = cv2.resize(
        mask, (max(1, mask.shape[1] * 48 // h), mask.shape[0] * 48 // h), interpolation=cv2.INTER_AREA
    )
    small = cv2.GaussianBlur(small, (0, 0), rng.uniform(0.3, 1.5))
    _, ink = cv2.threshold(small, int(rng.integers(90, 170)), 255, cv2.THRESH_BINARY)
    ys, xs = np.nonzero(ink)
    if len(xs) == 0:
        return mnist_style(small)
    return mnist_style(ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])


def font_dataset(per_char: int, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(images (N, 28, 28), labels (N,), number of fonts): per_char samples of every character."""
    fonts = plate_fonts()
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, char in enumerate(ALPHABET):
        for _ in range(per_char):
            images.append(render_char(fonts[int(rng.integers(len(fonts)))], char, rng))
            labels.append(label)
    return np.stack(images), np.array(labels, np.int64), len(fonts)


def run_font_route(
    images: list[np.ndarray], texts: list[str], per_char: int, steps: int, batch: int, seed: int
) -> FontResult:
    train_x, train_y, fonts = font_dataset(per_char, seed)
    model = train_classifier(train_x, train_y, len(ALPHABET), steps, batch, seed)
    return FontResult(fonts, score_segmented(model, ALPHABET, images, texts))
