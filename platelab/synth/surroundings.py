"""What is around a plate on a car: paint, bumper edge, plate recess, frames, screws and partial occluders.

Everything is drawn at the flat plate's own resolution with integer-aligned rectangles, so the plate keeps
crisp edges and one call costs a fraction of a millisecond. Coordinates are continuous: pixel i spans
[i, i + 1), the same convention as RenderedPlate.char_boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from platelab.synth.fonts import GLYPH_PX, text_mask
from platelab.synth.graphics import BGR, hex_to_bgr, to_bgr
from platelab.synth.render import RenderedPlate, draw_mask
from platelab.synth.spans import HexColour, Span, UnitSpan

CAR_PAINTS = [  # neutral paints repeated: they are most of the cars on the road
    "#f4f4f2",
    "#e9e7e0",
    "#f4f4f2",
    "#141416",
    "#202226",
    "#141416",
    "#b9bcc0",
    "#a4a8ad",
    "#b9bcc0",
    "#6c7075",
    "#45494f",
    "#6c7075",
    "#a5161b",
    "#6e1116",
    "#1f3f8b",
    "#1b2747",
    "#3a6fb0",
    "#2f4b35",
    "#c9b99b",
    "#5b4232",
    "#d8b429",
    "#c65a1f",
]
DEALER_FONT = "DejaVuSansCondensed-Bold.ttf"
DEALER_NAMES = ["CITY", "VALLEY", "METRO", "BAYSIDE", "HILLTOP", "NORTH", "RIVER", "SUNSET", "PREMIER"]
DEALER_KINDS = ["MOTORS", "AUTO", "TOYOTA", "HONDA", "FORD", "CHEVROLET", "NISSAN", "AUTO GROUP", "CARS"]
PLASTIC_BUMPER: BGR = (38, 38, 40)
Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 in px, x1 and y1 exclusive


class SurroundConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    margin: Span[Annotated[float, Field(ge=0.0, le=2.0)]] = Field(
        (0.3, 0.9), description="canvas added on each side of the plate, fraction of plate height (min, max)"
    )
    body_colours: list[HexColour] = Field(
        CAR_PAINTS, min_length=1, description="car paints '#rrggbb', any equally"
    )
    bumper_p: float = Field(0.5, ge=0, le=1, description="chance of a bumper crease or plastic bumper edge")
    recess_p: float = Field(0.5, ge=0, le=1, description="chance of a darker plate recess around the plate")
    shadow_p: float = Field(0.6, ge=0, le=1, description="chance of a drop shadow below-right of the plate")
    frame_p: float = Field(0.55, ge=0, le=1, description="chance of a plate frame or holder")
    frame_width: UnitSpan = Field(
        (0.03, 0.16), description="frame side width range, fraction of plate height; top/bottom may be wider"
    )
    frame_cover: float = Field(
        0.14,
        ge=0,
        le=0.4,
        description="max reach of the frame over the plate edge, fraction of plate height; never over text",
    )
    dealer_p: float = Field(0.35, ge=0, le=1, description="chance that a frame carries small dealer text")
    screw_p: float = Field(0.6, ge=0, le=1, description="chance of visible screws")
    occlusion_p: float = Field(0.08, ge=0, le=1, description="chance of a bar or shadow on the plate")
    occlusion_width: float = Field(
        0.45, ge=0, le=1, description="max width of an upright bar, fraction of the narrowest character"
    )


@dataclass(frozen=True)
class Surrounded:
    """The plate on its surroundings.

    quad is the plate's corners (clockwise from top-left), char_boxes its characters, plate_mask 255 where the
    plate itself is visible (not under a frame or occluder).
    """

    image: np.ndarray
    quad: np.ndarray
    char_boxes: np.ndarray
    plate_mask: np.ndarray


def random_paint(rng: np.random.Generator, cfg: SurroundConfig) -> BGR:
    return hex_to_bgr(cfg.body_colours[rng.integers(len(cfg.body_colours))])


def shade(colour: BGR, factor: float) -> BGR:
    """colour scaled toward black (factor < 1) or white (factor > 1)."""
    if factor <= 1:
        return to_bgr(c * factor for c in colour)
    return to_bgr(c + (255 - c) * min(factor - 1, 1) for c in colour)


def _painted_canvas(height: int, width: int, colour: BGR) -> np.ndarray:
    canvas = np.empty((height, width, 3), np.uint8)
    cv2.rectangle(canvas, (0, 0), (width - 1, height - 1), colour, -1)  # much faster than numpy's fill
    return canvas


def _bumper(canvas: np.ndarray, plate: Rect, colour: BGR, rng: np.random.Generator) -> None:
    """A body crease above or below the plate; below it sometimes becomes an unpainted plastic bumper."""
    _, y0, _, y1 = plate
    h, w = canvas.shape[:2]
    line = max(1, round((y1 - y0) * 0.03))
    below = rng.random() < 0.6
    y = int(rng.integers(y1 + 1, h)) if below and y1 + 1 < h else int(rng.integers(0, max(y0, 1)))
    if below and rng.random() < 0.5:
        canvas[y:] = PLASTIC_BUMPER
    cv2.rectangle(canvas, (0, y), (w, y + line - 1), shade(colour, 0.45), -1)
    cv2.rectangle(canvas, (0, y - line), (w, y - 1), shade(colour, 1.35), -1)


def _recess(canvas: np.ndarray, plate: Rect, colour: BGR, rng: np.random.Generator) -> None:
    """A pressed-in plate pocket: darker than the paint, with its top and left walls in shadow."""
    x0, y0, x1, y1 = plate
    ph = y1 - y0
    pad_x, pad_y = (rng.uniform(0.04, 0.35, 2) * ph).round().astype(int)
    rx0, ry0, rx1, ry1 = x0 - pad_x, y0 - pad_y, x1 + pad_x, y1 + pad_y
    cv2.rectangle(canvas, (rx0, ry0), (rx1 - 1, ry1 - 1), shade(colour, rng.uniform(0.55, 0.85)), -1)
    wall = max(1, round(ph * rng.uniform(0.03, 0.1)))
    cv2.rectangle(canvas, (rx0, ry0), (rx1 - 1, ry0 + wall - 1), shade(colour, 0.4), -1)
    cv2.rectangle(canvas, (rx0, ry0), (rx0 + wall - 1, ry1 - 1), shade(colour, 0.55), -1)
    cv2.rectangle(canvas, (rx0, ry1), (rx1 - 1, ry1 + wall - 1), shade(colour, 1.3), -1)


def _drop_shadow(canvas: np.ndarray, plate: Rect, colour: BGR, rng: np.random.Generator) -> None:
    x0, y0, x1, y1 = plate
    dx, dy = (rng.uniform(0.01, 0.06, 2) * (y1 - y0)).round().astype(int) + 1
    cv2.rectangle(canvas, (x0 + dx, y0 + dy), (x1 - 1 + dx, y1 - 1 + dy), shade(colour, 0.3), -1)


@dataclass(frozen=True)
class _FrameLook:
    colour: BGR
    light: BGR  # highlight along the outer top edge
    dark: BGR  # shadow along the inner top edge
    text: BGR


def _frame_look(rng: np.random.Generator, body: BGR) -> _FrameLook:
    kind = rng.choice(4, p=[0.45, 0.3, 0.15, 0.1])
    if kind == 0:  # black plastic
        grey = int(rng.integers(12, 45))
        return _FrameLook((grey, grey, grey), (grey + 50,) * 3, (5, 5, 5), (235, 235, 235))
    if kind == 1:  # chrome
        grey = int(rng.integers(160, 215))
        return _FrameLook((grey, grey, grey + 5), (250, 250, 250), (70, 70, 75), (30, 30, 30))
    if kind == 2:  # painted holder, same colour as the car
        return _FrameLook(shade(body, 0.9), shade(body, 1.3), shade(body, 0.4), (240, 240, 240))
    colour = to_bgr(rng.integers(0, 256, 3))  # dealer-branded colour
    return _FrameLook(colour, shade(colour, 1.4), shade(colour, 0.4), (245, 245, 245))


def _dealer_text(rng: np.random.Generator) -> tuple[str, str]:
    name = f"{DEALER_NAMES[rng.integers(len(DEALER_NAMES))]} {DEALER_KINDS[rng.integers(len(DEALER_KINDS))]}"
    if rng.random() < 0.5:
        return name, f"{rng.integers(200, 999)}-{rng.integers(200, 999)}-{rng.integers(1000, 9999)}"
    return name, f"{name.split()[0]}{name.split()[-1]}.COM"


@lru_cache(maxsize=512)
def scaled_text(font: str, text: str, cap: int, max_width: int | None = None) -> np.ndarray:
    """text's ink mask with cap px tall capitals, condensed to max_width; cached, callers must not write."""
    mask = text_mask(font, text)
    scale = cap / GLYPH_PX
    width = max(1, round(mask.shape[1] * scale))
    if max_width is not None:
        width = min(width, max_width)
    return cv2.resize(mask, (width, max(1, round(mask.shape[0] * scale))), interpolation=cv2.INTER_AREA)


def _band_text(canvas: np.ndarray, text: str, band: Rect, colour: BGR) -> None:
    """Centre text in a frame band if the band is tall enough to hold something legible-looking."""
    x0, y0, x1, y1 = band
    cap = round((y1 - y0) * 0.55)
    if cap < 4:
        return
    mask = scaled_text(DEALER_FONT, text, cap, round((x1 - x0) * 0.8))
    draw_mask(canvas, mask, (x0 + x1 - mask.shape[1]) // 2, (y0 + y1 - mask.shape[0]) // 2, colour)


def _cover_limits(plate: Rect, boxes: np.ndarray) -> Rect:
    """How far (px) a frame may reach over each plate edge (left, top, right, bottom) and miss the text."""
    x0, y0, x1, y1 = plate
    if len(boxes) == 0:
        return (x1 - x0) // 4, (y1 - y0) // 4, (x1 - x0) // 4, (y1 - y0) // 4
    bx0, by0 = np.floor(boxes[:, :2].min(0)).astype(int)
    bx1, by1 = np.ceil(boxes[:, 2:].max(0)).astype(int)
    return max(0, bx0 - x0 - 1), max(0, by0 - y0 - 1), max(0, x1 - bx1 - 1), max(0, y1 - by1 - 1)


def _frame(
    canvas: np.ndarray,
    mask: np.ndarray,
    plate: Rect,
    boxes: np.ndarray,
    body: BGR,
    rng: np.random.Generator,
    cfg: SurroundConfig,
) -> Rect:
    """Draw a frame around (and a little over) the plate; returns the frame's outer rectangle."""
    x0, y0, x1, y1 = plate
    ph = y1 - y0
    side = rng.uniform(*cfg.frame_width) * ph
    outer = np.array([side, side * rng.uniform(0.8, 1.6), side, side * rng.uniform(1.0, 2.8)])
    limits = np.array(_cover_limits(plate, boxes))
    cover = np.minimum(rng.uniform(0, cfg.frame_cover * ph, 4) * (rng.random(4) < 0.6), limits)
    reach = (outer - cover).round().astype(int)
    cover = cover.round().astype(int)
    fx0, fy0, fx1, fy1 = x0 - reach[0], y0 - reach[1], x1 + reach[2], y1 + reach[3]
    ix0, iy0, ix1, iy1 = x0 + cover[0], y0 + cover[1], x1 - cover[2], y1 - cover[3]
    look = _frame_look(rng, body)
    for band in ((fx0, fy0, fx1, iy0), (fx0, iy1, fx1, fy1), (fx0, iy0, ix0, iy1), (ix1, iy0, fx1, iy1)):
        cv2.rectangle(canvas, band[:2], (band[2] - 1, band[3] - 1), look.colour, -1)
    cv2.line(canvas, (fx0, fy0), (fx1 - 1, fy0), look.light, 1)
    cv2.line(canvas, (ix0, iy0 - 1), (ix1 - 1, iy0 - 1), look.dark, 1)
    mask[:iy0], mask[iy1:], mask[:, :ix0], mask[:, ix1:] = 0, 0, 0, 0
    if rng.random() < cfg.dealer_p:
        top, bottom = _dealer_text(rng)
        _band_text(canvas, top, (ix0, fy0, ix1, iy0), look.text)
        _band_text(canvas, bottom, (ix0, iy1, ix1, fy1), look.text)
    return fx0, fy0, fx1, fy1


def _screws(
    canvas: np.ndarray, plate: Rect, holes: list[tuple[float, float]], rng: np.random.Generator
) -> None:
    x0, y0, x1, y1 = plate
    pw, ph = x1 - x0, y1 - y0
    spots = holes or [(0.12, 0.1), (0.88, 0.1)]
    radius = max(1, round(ph * rng.uniform(0.03, 0.055)))
    head = (int(rng.integers(150, 230)),) * 3 if rng.random() < 0.7 else (30, 30, 30)
    for fx, fy in spots:
        centre = (round(x0 + fx * pw), round(y0 + fy * ph))
        cv2.circle(canvas, centre, radius, head, -1, cv2.LINE_AA)
        if radius >= 3:
            slot = radius - 1
            cv2.line(canvas, (centre[0] - slot, centre[1]), (centre[0] + slot, centre[1]), (60, 60, 60), 1)


def _upright_bar(
    canvas: np.ndarray,
    mask: np.ndarray,
    plate: Rect,
    boxes: np.ndarray,
    rng: np.random.Generator,
    cfg: SurroundConfig,
) -> None:
    """A tow hook or rack strap rising from below: narrower than a character so no character vanishes."""
    x0, y0, x1, y1 = plate
    char_w = float((boxes[:, 2] - boxes[:, 0]).min()) if len(boxes) else (x1 - x0) / 8
    width = max(1, round(char_w * rng.uniform(min(0.2, cfg.occlusion_width), cfg.occlusion_width)))
    x = round(rng.uniform(x0, x1))
    tip = (round(x + rng.uniform(-0.3, 0.3) * (y1 - y0)), round(y1 - (y1 - y0) * rng.uniform(0.3, 1.1)))
    foot = (x, canvas.shape[0])
    grey = int(rng.integers(15, 90))
    cv2.line(canvas, tip, foot, (grey, grey, grey), width, cv2.LINE_AA)
    cv2.line(mask, tip, foot, 0, width)


def _rack_bar(canvas: np.ndarray, mask: np.ndarray, plate: Rect, rng: np.random.Generator) -> None:
    """A bike-rack bar along the top or bottom edge, reaching a little into the plate."""
    _, y0, _, y1 = plate
    ph = y1 - y0
    thick = max(2, round(ph * rng.uniform(0.08, 0.2)))
    inside = round(ph * rng.uniform(0.02, 0.1))
    y = y0 + inside - thick if rng.random() < 0.5 else y1 - inside
    grey = int(rng.integers(20, 120))
    cv2.rectangle(canvas, (0, y), (canvas.shape[1] - 1, y + thick - 1), (grey, grey, grey), -1)
    cv2.line(canvas, (0, y), (canvas.shape[1] - 1, y), (grey + 60,) * 3, 1)
    mask[max(y, 0) : y + thick] = 0


def _shadow_band(canvas: np.ndarray, plate: Rect, rng: np.random.Generator) -> None:
    """A slanted shadow (a pole, a rack) darkening part of the plate without hiding it."""
    x0, _, x1, _ = plate
    h, w = canvas.shape[:2]
    centre, half = rng.uniform(x0, x1), (x1 - x0) * rng.uniform(0.04, 0.15)
    slant = rng.uniform(-0.6, 0.6) * h
    polygon = np.array(
        [
            [centre - half - slant, 0],
            [centre + half - slant, 0],
            [centre + half + slant, h],
            [centre - half + slant, h],
        ],
        np.int32,
    )
    left = max(0, int(polygon[:, 0].min()))
    right = min(w, int(polygon[:, 0].max()) + 1)
    if right <= left:
        return
    roi = canvas[:, left:right]
    inside = np.zeros(roi.shape[:2], np.uint8)
    cv2.fillConvexPoly(inside, polygon - np.array([left, 0], np.int32), 255)
    np.copyto(roi, cv2.convertScaleAbs(roi, alpha=rng.uniform(0.35, 0.7)), where=inside[:, :, None] > 0)


def _occlude(
    canvas: np.ndarray,
    mask: np.ndarray,
    plate: Rect,
    boxes: np.ndarray,
    rng: np.random.Generator,
    cfg: SurroundConfig,
) -> None:
    kind = rng.integers(3)
    if kind == 0:
        _upright_bar(canvas, mask, plate, boxes, rng, cfg)
    elif kind == 1:
        _rack_bar(canvas, mask, plate, rng)
    else:
        _shadow_band(canvas, plate, rng)


def surround(
    plate: RenderedPlate, rng: np.random.Generator, cfg: SurroundConfig, body: BGR | None = None
) -> Surrounded:
    """Put the flat plate on a canvas of car around it; body fixes the paint (a scene's car), else random."""
    ph, pw = plate.image.shape[:2]
    left, top, right, bottom = (rng.uniform(*cfg.margin, 4) * ph).round().astype(int)
    colour = body if body is not None else random_paint(rng, cfg)
    canvas = _painted_canvas(ph + top + bottom, pw + left + right, colour)
    rect = (int(left), int(top), int(left + pw), int(top + ph))
    boxes = plate.char_boxes + np.array([left, top, left, top], np.float32)

    if rng.random() < cfg.bumper_p:
        _bumper(canvas, rect, colour, rng)
    if rng.random() < cfg.recess_p:
        _recess(canvas, rect, colour, rng)
    if rng.random() < cfg.shadow_p:
        _drop_shadow(canvas, rect, colour, rng)
    canvas[top : top + ph, left : left + pw] = plate.image
    mask = np.zeros(canvas.shape[:2], np.uint8)
    mask[top : top + ph, left : left + pw] = 255
    if rng.random() < cfg.frame_p:
        _frame(canvas, mask, rect, boxes, colour, rng, cfg)
    if rng.random() < cfg.screw_p:
        _screws(canvas, rect, plate.style.bolt_holes, rng)
    if rng.random() < cfg.occlusion_p:
        _occlude(canvas, mask, rect, boxes, rng, cfg)

    quad = np.array([[left, top], [left + pw, top], [left + pw, top + ph], [left, top + ph]], np.float32)
    return Surrounded(canvas, quad, boxes, mask)
