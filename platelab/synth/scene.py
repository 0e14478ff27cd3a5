"""Detection scenes: plates on procedural cars in perspective over photo or procedural backgrounds.

A plate is rendered near its final size, put on its surroundings (surroundings.surround), and placed with one
homography: the car's rear (or front) face is the plate's plane, so the car is drawn as polygons moved by the
same homography and the plate is one warp into its own box. Plates never overlap and no car covers another
car's plate. Coordinates are continuous (pixel i spans [i, i + 1)).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from platelab.synth.backgrounds import draw_distractor, paste_warped, random_background
from platelab.synth.camera import CameraConfig, LightConfig, apply_camera, apply_light
from platelab.synth.geometry import perspective_homography, transform_points
from platelab.synth.graphics import BGR, to_bgr
from platelab.synth.render import choose, render_plate
from platelab.synth.spans import (
    CountSpan,
    DistanceSpan,
    SideSpan,
    Size,
    Span,
    UnitSpan,
    WidthSpan,
    check_plates_fit,
)
from platelab.synth.style import PlateStyle
from platelab.synth.surroundings import (
    PLASTIC_BUMPER,
    SurroundConfig,
    Surrounded,
    random_paint,
    shade,
    surround,
)

Box = tuple[int, int, int, int]  # x, y, w, h
PLACEMENT_TRIES = 8
SHRINK_PER_TRY = 0.8  # a plate that does not fit is tried smaller
POLY_SHIFT = 4  # sub-pixel bits for cv2 polygon corners
RENDER_LEVELS = np.array([16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 256])
CAR_PER_PLATE_WIDTH = 3.5  # sets the perspective strength of a plate shown without a car


class SceneConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: Size = Field((1280, 720), description="scene width and height, px")
    plates: Span[Annotated[int, Field(ge=1, le=64)]] = Field(
        (1, 4), description="plates in a scene that has plates (min, max)"
    )
    extra_plate_p: float = Field(0.3, ge=0, le=1, description="chance of each plate beyond the minimum")
    empty_p: float = Field(0.08, ge=0, le=1, description="chance of a scene with no plate at all")
    plate_width: WidthSpan = Field(
        (40.0, 1200.0), description="plate width range, px, drawn log-uniformly (capped at the scene width)"
    )
    render_height: SideSpan = Field(
        (16, 128), description="flat plate render height range, px; plates render near their scene size"
    )
    yaw: float = Field(45.0, ge=0, le=70, description="max turn about the vertical axis, degrees")
    pitch: float = Field(30.0, ge=0, le=60, description="max tilt about the horizontal axis, degrees")
    roll: float = Field(30.0, ge=0, le=45, description="max in-plane rotation, degrees")
    camera_distance: DistanceSpan = Field(
        (1.2, 6.0), description="camera distance / car width: small means strong perspective"
    )
    car_p: float = Field(0.9, ge=0, le=1, description="chance a plate is on a drawn car (else on its own)")
    front_p: float = Field(0.35, ge=0, le=1, description="chance a car shows its front, not its rear")
    photo_p: float = Field(0.5, ge=0, le=1, description="chance of a photo background (else procedural)")
    distractor_p: float = Field(0.6, ge=0, le=1, description="chance of signs, stickers and lettered boards")
    distractors: CountSpan = Field((1, 5), description="how many distractors when there are any")
    distractor_width: WidthSpan = Field((30.0, 400.0), description="distractor width range, px")
    night_p: float = Field(0.12, ge=0, le=1, description="chance of a night scene: dark, lamps lit")
    night_level: UnitSpan = Field((0.12, 0.4), description="fraction of daylight left at night")
    surround: SurroundConfig = SurroundConfig()

    @model_validator(mode="after")
    def _plates_fit(self) -> SceneConfig:
        check_plates_fit(self.plate_width, self.size)
        return self


@dataclass(frozen=True)
class ScenePlate:
    """One plate in a scene: its corners (clockwise from top-left) and their bounding box (x, y, w, h)."""

    text: str
    region: str
    quad: np.ndarray
    box: Box


@dataclass(frozen=True)
class Scene:
    image: np.ndarray
    plates: tuple[ScenePlate, ...]


@dataclass(frozen=True)
class _Shape:
    polygon: np.ndarray  # (n, 2) in the surround canvas' coordinates
    colour: BGR
    lit: bool = False  # a lamp: stays bright at night


# -- cars ---------------------------------------------------------------------------------------------------


def _rounded_rect(x0: float, y0: float, x1: float, y1: float, radius: float) -> np.ndarray:
    r = min(radius, (x1 - x0) / 2, (y1 - y0) / 2)
    arc = np.linspace(0, np.pi / 2, 5)
    corners = [
        (x1 - r, y0 + r, -np.pi / 2),
        (x1 - r, y1 - r, 0.0),
        (x0 + r, y1 - r, np.pi / 2),
        (x0 + r, y0 + r, np.pi),
    ]
    return np.concatenate(
        [np.stack([cx + r * np.cos(a + arc), cy + r * np.sin(a + arc)], 1) for cx, cy, a in corners]
    )


def _trapezoid(cx: float, top: float, bottom: float, top_half: float, bottom_half: float) -> np.ndarray:
    return np.array(
        [[cx - top_half, top], [cx + top_half, top], [cx + bottom_half, bottom], [cx - bottom_half, bottom]]
    )


@dataclass(frozen=True)
class _Car:
    shapes: list[_Shape]  # back to front, with the plate's top-left corner at the origin
    behind: BGR  # the colour around the plate, so the surround's margin matches the car
    width: float


def _car(
    plate_w: int, plate_h: int, plate_mm: float, paint: BGR, front: bool, rng: np.random.Generator
) -> _Car:
    """A car face (rear or front) around a plate_w x plate_h px plate that is plate_mm wide."""
    mm = plate_w / plate_mm  # px per mm
    plate_height_mm = rng.uniform(350, 800)  # the plate centre's height above the road
    ground = plate_h / 2 + plate_height_mm * mm

    def y(height_mm: float) -> float:
        return ground - height_mm * mm

    cx = plate_w / 2 + rng.uniform(-80, 80) * mm
    half = rng.uniform(850, 980) * mm
    belt, roof = rng.uniform(880, 1150), rng.uniform(1350, 1800)
    bumper_top = rng.uniform(450, 650)
    glass = (int(rng.integers(15, 60)),) * 3
    wheel = (22, 22, 24)
    bumper = PLASTIC_BUMPER if rng.random() < 0.3 else paint
    shapes = [
        _Shape(_rounded_rect(cx - 1.05 * half, y(60), cx + 1.05 * half, y(-40), 20 * mm), (18, 18, 20)),
        _Shape(_rounded_rect(cx - half + 60 * mm, y(330), cx - half + 300 * mm, y(0), 40 * mm), wheel),
        _Shape(_rounded_rect(cx + half - 300 * mm, y(330), cx + half - 60 * mm, y(0), 40 * mm), wheel),
        _Shape(_trapezoid(cx, y(roof), y(belt - 20), 0.66 * half, 0.92 * half), paint),
        _Shape(_trapezoid(cx, y(roof - 70), y(belt + 40), 0.6 * half, 0.84 * half), glass),
        _Shape(_rounded_rect(cx - half, y(belt), cx + half, y(180), 150 * mm), paint),
        _Shape(_rounded_rect(cx - half - 8 * mm, y(bumper_top), cx + half + 8 * mm, y(180), 60 * mm), bumper),
        *_lamps(cx, half, y, mm, front, rng),
    ]
    return _Car(shapes, bumper if plate_height_mm < bumper_top else paint, 2 * half)


def _lamps(
    cx: float, half: float, y: Callable[[float], float], mm: float, front: bool, rng: np.random.Generator
) -> list[_Shape]:
    """Tail lights, or headlights with a grille between them."""
    low, high = (
        (rng.uniform(650, 800), rng.uniform(830, 950))
        if front
        else (rng.uniform(780, 900), rng.uniform(930, 1080))
    )
    width = rng.uniform(0.3, 0.45) * half
    colour = (215, 215, 205) if front else (35, 35, 185)
    shapes = []
    for side in (-1, 1):
        outer = cx + side * (half - 30 * mm)
        inner = outer - side * width
        shapes.append(
            _Shape(
                _rounded_rect(min(outer, inner), y(high), max(outer, inner), y(low), 40 * mm),
                colour,
                lit=True,
            )
        )
    if front:
        grille = _rounded_rect(
            cx - half + width + 80 * mm, y(high - 20), cx + half - width - 80 * mm, y(low + 20), 30 * mm
        )
        shapes.append(_Shape(grille, (28, 28, 30)))
        for bar in np.linspace(low + 50, high - 50, 3):
            left, right = cx - half + width + 100 * mm, cx + half - width - 100 * mm
            slat = _rounded_rect(left, y(bar + 8), right, y(bar - 8), 4 * mm)
            shapes.append(_Shape(slat, (120, 120, 125)))
    return shapes


def _in_front_of_camera(matrix: np.ndarray, points: np.ndarray) -> bool:
    """True if every point stays well in front of the camera (no wrap-around through infinity)."""
    w = np.hstack([points, np.ones((len(points), 1))]) @ matrix[2]
    return bool(w.min() > 0.2 * w.max())


def _lamp_on(colour: BGR) -> BGR:
    """A lamp's colour when switched on: the same hue at full brightness."""
    gain = 255 / max(max(colour), 1)
    return to_bgr(c * gain for c in colour)


def _draw_shapes(image: np.ndarray, shapes: list[_Shape], matrix: np.ndarray, night: float | None) -> None:
    for shape in shapes:
        colour = shape.colour
        if night is not None:
            colour = _lamp_on(colour) if shape.lit else shade(colour, night)
        points = np.round(transform_points(matrix, shape.polygon) * 2**POLY_SHIFT).astype(np.int32)
        cv2.fillPoly(image, [points], colour, cv2.LINE_AA, POLY_SHIFT)


# -- placing plates -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Placement:
    matrix: np.ndarray  # surround canvas -> scene
    quad: np.ndarray
    box: Box  # the plate's box


def _bounds(points: np.ndarray, size: tuple[int, int]) -> Box:
    """Integer box (x, y, w, h) around points, clipped to the scene."""
    x0, y0 = (max(int(np.floor(v)), 0) for v in points.min(0))
    x1 = min(int(np.ceil(points[:, 0].max())), size[0])
    y1 = min(int(np.ceil(points[:, 1].max())), size[1])
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _grow(box: Box, fraction: float) -> Box:
    dx, dy = round(box[2] * fraction), round(box[3] * fraction)
    return box[0] - dx, box[1] - dy, box[2] + 2 * dx, box[3] + 2 * dy


def _place(
    around: Surrounded,
    shapes: list[_Shape],
    width: float,
    car_width: float,
    rng: np.random.Generator,
    cfg: SceneConfig,
    taken: list[Box],
) -> _Placement | None:
    """A random pose that keeps the plate inside the scene and the car off every plate already placed."""
    size = cfg.size
    quad = around.quad
    centre = quad.mean(0)
    canvas_h, canvas_w = around.image.shape[:2]
    outline = np.array([[0, 0], [canvas_w, 0], [canvas_w, canvas_h], [0, canvas_h]], np.float32)
    extent = np.concatenate([outline, *(s.polygon for s in shapes)]) if shapes else outline
    for _ in range(PLACEMENT_TRIES):
        scale = width / float(quad[1, 0] - quad[0, 0])
        yaw, pitch = rng.uniform(-cfg.yaw, cfg.yaw), rng.uniform(-cfg.pitch, cfg.pitch)
        roll = cfg.roll * rng.uniform(-1, 1) * rng.random()  # mostly level, sometimes strongly rolled
        distance = rng.uniform(*cfg.camera_distance)
        pose = perspective_homography(tuple(centre), car_width, yaw, pitch, roll, distance)
        target = rng.uniform((0, 0), size)
        move = np.array(
            [[scale, 0, target[0] - scale * centre[0]], [0, scale, target[1] - scale * centre[1]], [0, 0, 1]]
        )
        matrix = move @ pose
        seen = transform_points(matrix, quad)
        inside = seen.min() >= 1 and (seen[:, 0].max() <= size[0] - 1) and (seen[:, 1].max() <= size[1] - 1)
        if inside and _in_front_of_camera(matrix, extent):
            reach = _bounds(transform_points(matrix, extent), size)
            if not any(_overlap(reach, other) for other in taken):
                return _Placement(matrix, seen, _bounds(seen, size))
        width = max(width * SHRINK_PER_TRY, cfg.plate_width[0])
    return None


def _plate_count(rng: np.random.Generator, cfg: SceneConfig) -> int:
    if rng.random() < cfg.empty_p:
        return 0
    count = cfg.plates[0]
    while count < cfg.plates[1] and rng.random() < cfg.extra_plate_p:
        count += 1
    return count


def _plate_widths(rng: np.random.Generator, cfg: SceneConfig, count: int) -> np.ndarray:
    """Log-uniform widths, smallest (farthest) first so nearer cars are drawn over farther ones."""
    low = cfg.plate_width[0]
    high = max(low, min(cfg.plate_width[1], cfg.size[0] * 0.95 / max(1.0, 1.5 * (count - 1))))
    return np.sort(np.exp(rng.uniform(np.log(low), np.log(high), count)))


def _render_height(scene_height: float, cfg: SceneConfig) -> int:
    """A render height a little above the plate's height in the scene, from a few levels so that the
    renderer's per-size cache of static plate layers keeps hitting."""
    wanted = np.clip(scene_height * 1.1, *cfg.render_height)
    level = np.searchsorted(RENDER_LEVELS, wanted)
    # above the top level (a config allowing taller renders), multiples of it keep the cache hitting
    top = RENDER_LEVELS[-1]
    height = RENDER_LEVELS[level] if level < len(RENDER_LEVELS) else top * np.ceil(wanted / top)
    return int(np.clip(height, *cfg.render_height))


def _night_lit(around: Surrounded, night: float, rng: np.random.Generator) -> np.ndarray:
    """The surroundings dark, the plate under its lamp."""
    dark = cv2.convertScaleAbs(around.image, alpha=night)
    lamp = cv2.convertScaleAbs(around.image, alpha=rng.uniform(0.55, 1.0))
    cv2.copyTo(lamp, around.plate_mask, dark)
    return dark


def _add_plate(
    image: np.ndarray,
    plate_mask: np.ndarray,
    style: PlateStyle,
    width: float,
    rng: np.random.Generator,
    cfg: SceneConfig,
    night: float | None,
    taken: list[Box],
) -> ScenePlate | None:
    height = _render_height(width / style.aspect, cfg)
    plate = render_plate(style, rng, height=height)
    paint = random_paint(rng, cfg.surround)
    plate_h, plate_w = plate.image.shape[:2]
    car = None
    if rng.random() < cfg.car_p:
        car = _car(plate_w, plate_h, style.size_mm[0], paint, rng.random() < cfg.front_p, rng)
    around = surround(plate, rng, cfg.surround, body=paint if car is None else car.behind)
    shapes = [] if car is None else [_Shape(s.polygon + around.quad[0], s.colour, s.lit) for s in car.shapes]
    car_width = CAR_PER_PLATE_WIDTH * plate_w if car is None else car.width
    placed = _place(around, shapes, width, car_width, rng, cfg, taken)
    if placed is None:
        return None
    _draw_shapes(image, shapes, placed.matrix, night)
    lit = around.image if night is None else _night_lit(around, night, rng)
    (x, y, w, h), warped_mask = paste_warped(image, lit, placed.matrix, around.plate_mask)
    if warped_mask is not None:
        np.maximum(plate_mask[y : y + h, x : x + w], warped_mask, out=plate_mask[y : y + h, x : x + w])
    taken.append(_grow(placed.box, 0.1))
    return ScenePlate(plate.text, style.region, placed.quad, placed.box)


def render_scene(
    styles: Sequence[PlateStyle],
    rng: np.random.Generator,
    cfg: SceneConfig,
    light: LightConfig,
    camera: CameraConfig,
) -> Scene:
    """One scene with 0 to cfg.plates[1] plates, lit and seen through a camera."""
    image = random_background(rng, cfg.size, cfg.photo_p)
    if rng.random() < cfg.distractor_p:
        for _ in range(int(rng.integers(cfg.distractors[0], cfg.distractors[1] + 1))):
            draw_distractor(image, rng, rng.uniform(*cfg.distractor_width))
    night = float(rng.uniform(*cfg.night_level)) if rng.random() < cfg.night_p else None
    if night is not None:
        image = cv2.convertScaleAbs(image, alpha=night)

    plate_mask = np.zeros(image.shape[:2], np.uint8)
    plates: list[ScenePlate] = []
    taken: list[Box] = []
    for width in _plate_widths(rng, cfg, _plate_count(rng, cfg)):
        style = choose(rng, list(styles), [s.weight for s in styles])
        placed = _add_plate(image, plate_mask, style, float(width), rng, cfg, night, taken)
        if placed is not None:
            plates.append(placed)

    image = apply_light(image, rng, light, plate_mask if plates else None)
    return Scene(apply_camera(image, rng, camera), tuple(plates))
