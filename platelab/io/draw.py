"""Pictures for people: plate outlines with labels on a photo, and contact sheets of many small images."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from platelab.io.results import PlateResult

BGR = tuple[int, int, int]
OUTLINE: BGR = (40, 220, 40)
REGION: BGR = (0, 170, 255)  # the region of interest plates were looked for in: amber, apart from the plates' green
LABEL_TEXT: BGR = (0, 0, 0)
CAPTION_BACKGROUND: BGR = (32, 32, 32)
CAPTION_TEXT: BGR = (235, 235, 235)
CELL_BACKGROUND: BGR = (64, 64, 64)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_GAP = 2  # pixels between montage cells
JPEG_MAX_SIDE = 65500  # OpenCV's JPEG encoder refuses longer sides
_DRAWS_UNICODE = int(cv2.__version__.split(".")[0]) >= 5  # OpenCV 4's Hershey fonts have only ASCII glyphs


def draw_plates(image: np.ndarray, plates: Sequence[PlateResult],
                roi: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """A BGR copy of image with each plate's quad outlined and labelled with its text and confidence, and the region
    of interest (x, y, w, h) they were looked for in, if any, outlined apart (shrunk where a side is longer than a
    JPEG can be)."""
    canvas = _as_bgr(image).copy()
    height, width = canvas.shape[:2]
    line = max(1, round(max(height, width) / 500))
    if roi is not None:
        x, y, w, h = roi
        cv2.rectangle(canvas, (x, y), (x + w - 1, y + h - 1), REGION, line, cv2.LINE_AA)
    scale = max(0.4, max(height, width) / 1200)  # label height follows image size so it reads at any zoom
    for plate in plates:
        corners = np.round(np.array(plate.quad, np.float64)).astype(np.int32)
        cv2.polylines(canvas, [corners], isClosed=True, color=OUTLINE, thickness=line, lineType=cv2.LINE_AA)
        label = f"{plate.text} {plate.confidence:.2f}"
        _put_label_above(canvas, label, (int(corners[:, 0].min()), int(corners[:, 1].min())), scale)
    return _within_jpeg_side(canvas)


def _within_jpeg_side(image: np.ndarray) -> np.ndarray:
    """The drawing shrunk where a side exceeds what JPEG can hold (a panorama can be read but not saved whole)."""
    longest = max(image.shape[:2])
    if longest <= JPEG_MAX_SIDE:
        return image
    factor = JPEG_MAX_SIDE / longest
    size = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _put_label_above(canvas: np.ndarray, text: str, anchor: tuple[int, int], scale: float) -> None:
    """Filled label whose bottom-left sits at anchor, moved inside the image where it would stick out."""
    text = _printable(text)
    thickness = max(1, round(scale * 1.5))
    (text_w, text_h), baseline = cv2.getTextSize(text, _FONT, scale, thickness)
    pad = max(2, text_h // 4)
    box_w, box_h = text_w + 2 * pad, text_h + baseline + 2 * pad
    x = min(max(anchor[0], 0), max(canvas.shape[1] - box_w, 0))
    y = anchor[1] - box_h if anchor[1] >= box_h else anchor[1]
    y = min(max(y, 0), max(canvas.shape[0] - box_h, 0))
    cv2.rectangle(canvas, (x, y), (x + box_w, y + box_h), OUTLINE, cv2.FILLED)
    cv2.putText(canvas, text, (x + pad, y + pad + text_h), _FONT, scale, LABEL_TEXT, thickness, cv2.LINE_AA)


def around_box(image: np.ndarray, box: tuple[float, float, float, float], context: float = 1.0) -> np.ndarray:
    """The part of image around box (x, y, w, h), context box widths on either side and as much in height."""
    x, y, w, h = (round(v) for v in box)  # scoring hands boxes back as floats; slicing needs whole pixels
    pad = round(context * w)
    height, width = image.shape[:2]
    x0, y0 = max(0, x - pad), max(0, y - pad // 2 - h)
    x1, y1 = min(width, x + w + pad), min(height, y + 2 * h + pad // 2)
    return image[y0:y1, x0:x1] if x1 > x0 and y1 > y0 else image


def montage(
    images: Sequence[np.ndarray],
    captions: Sequence[str] | None = None,
    cols: int = 6,
    cell: tuple[int, int] = (192, 96),
) -> np.ndarray:
    """Tile images, each letterboxed into a (width, height) cell, with an optional caption strip below."""
    if not images:
        raise ValueError("montage needs at least one image")
    if captions is not None and len(captions) != len(images):
        raise ValueError(f"got {len(captions)} captions for {len(images)} images")
    cell_w, cell_h = cell
    strip_h = max(12, round(cell_h * 0.25)) if captions is not None else 0
    cols = max(1, min(cols, len(images)))
    rows = math.ceil(len(images) / cols)
    pitch_x, pitch_y = cell_w + _GAP, cell_h + strip_h + _GAP
    sheet = np.zeros((rows * pitch_y - _GAP, cols * pitch_x - _GAP, 3), np.uint8)
    for index, image in enumerate(images):
        x, y = (index % cols) * pitch_x, (index // cols) * pitch_y
        sheet[y : y + cell_h, x : x + cell_w] = _letterbox(_as_bgr(image), cell)
        if captions is not None:
            _put_caption(sheet[y + cell_h : y + cell_h + strip_h, x : x + cell_w], captions[index])
    return sheet


def _letterbox(image: np.ndarray, cell: tuple[int, int]) -> np.ndarray:
    cell_w, cell_h = cell
    height, width = image.shape[:2]
    scale = min(cell_w / width, cell_h / height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    boxed = np.full((cell_h, cell_w, 3), CELL_BACKGROUND, np.uint8)
    x, y = (cell_w - new_w) // 2, (cell_h - new_h) // 2
    boxed[y : y + new_h, x : x + new_w] = resized
    return boxed


def _put_caption(strip: np.ndarray, caption: str) -> None:
    """Write caption into strip (a view into the sheet), shrunk to fit its height and width."""
    strip[:] = CAPTION_BACKGROUND
    text = _printable(caption)
    strip_h, strip_w = strip.shape[:2]
    scale = cv2.getFontScaleFromHeight(_FONT, max(1, round(strip_h * 0.6)), 1)
    text_w = cv2.getTextSize(text, _FONT, scale, 1)[0][0]
    if text_w > strip_w - 4:
        scale *= (strip_w - 4) / text_w
    (text_w, text_h), _ = cv2.getTextSize(text, _FONT, scale, 1)
    origin = (max(2, (strip_w - text_w) // 2), (strip_h + text_h) // 2)
    cv2.putText(strip, text, origin, _FONT, scale, CAPTION_TEXT, 1, cv2.LINE_AA)


def _as_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR) if image.shape[2] == 4 else image


def _printable(text: str) -> str:
    """Text as the installed OpenCV can draw it: one '?' per non-ASCII character on 4.x, not one per byte."""
    return text if _DRAWS_UNICODE else text.encode("ascii", "replace").decode("ascii")
