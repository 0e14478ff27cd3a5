"""Procedural plate graphics: each style's `graphics` and `overlays` entries name one of these by `kind`.

Every function draws into a BGR uint8 canvas in place. Geometry comes in plate fractions (see style.py) and is
turned into pixels here; random shapes (mountain ridges, tree lines) take the plate's generator so the same seed
draws the same plate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import SupportsInt

import cv2
import numpy as np

from platelab.synth.style import Graphic

BGR = tuple[int, int, int]
Painter = Callable[[np.ndarray, Graphic, np.random.Generator], None]


def hex_to_bgr(colour: str) -> BGR:
    value = int(colour[1:], 16)
    return (value & 255, (value >> 8) & 255, value >> 16)


def to_bgr(channels: Iterable[SupportsInt]) -> BGR:
    """Three channel values as a colour, each truncated by int()."""
    b, g, r = (int(c) for c in channels)
    return b, g, r


def _rect(canvas: np.ndarray, g: Graphic) -> tuple[int, int, int, int]:
    h, w = canvas.shape[:2]
    x0, y0 = round(g.x * w), round(g.y * h)
    return x0, y0, max(x0 + 1, round((g.x + g.w) * w)), max(y0 + 1, round((g.y + g.h) * h))


def solid(height: int, width: int, colour: BGR) -> np.ndarray:
    """A height x width image of one colour.

    Filled a row at a time: numpy's own fill of a 3-tuple loops per pixel and is ~20x slower.
    """
    image = np.empty((height, width, 3), np.uint8)
    image.reshape(height, -1)[:] = np.tile(np.asarray(colour, np.uint8), width)
    return image


def blend_colour(canvas: np.ndarray, mask: np.ndarray, colour: BGR, opacity: float = 1.0) -> None:
    """Paint colour over canvas through mask (uint8 alpha), touching only the mask's bounding box."""
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0 or h == 0:
        return
    alpha = mask[y : y + h, x : x + w].astype(np.float32) * (opacity / 255.0)
    region = canvas[y : y + h, x : x + w]
    region[:] = cv2.blendLinear(region, solid(h, w, colour), 1 - alpha, alpha)


def _paint_polygons(canvas: np.ndarray, g: Graphic, polygons: list[np.ndarray], colour: str | None = None) -> None:
    mask = np.zeros(canvas.shape[:2], np.uint8)
    for polygon in polygons:  # one call per polygon: a single call leaves overlaps unfilled (even-odd rule)
        cv2.fillPoly(mask, [polygon.astype(np.int32)], 255, lineType=cv2.LINE_AA)
    blend_colour(canvas, mask, hex_to_bgr(colour or g.colour), g.opacity)


def rect(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    x0, y0, x1, y1 = _rect(canvas, g)
    _paint_polygons(canvas, g, [np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])])


def gradient_rect(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    x0, y0, x1, y1 = _rect(canvas, g)
    top = np.array(hex_to_bgr(g.colour), np.float32)
    bottom = np.array(hex_to_bgr(g.colour2 or g.colour), np.float32)
    t = np.linspace(0, 1, y1 - y0, dtype=np.float32)[:, None, None]
    layer = np.broadcast_to(top * (1 - t) + bottom * t, (y1 - y0, x1 - x0, 3))
    region = canvas[y0:y1, x0:x1]
    region[:] = (region * (1 - g.opacity) + layer[: region.shape[0], : region.shape[1]] * g.opacity).astype(np.uint8)


def ellipse(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    x0, y0, x1, y1 = _rect(canvas, g)
    mask = np.zeros(canvas.shape[:2], np.uint8)
    cv2.ellipse(mask, (((x0 + x1) / 2, (y0 + y1) / 2), (x1 - x0, y1 - y0), 0), 255, -1, cv2.LINE_AA)
    blend_colour(canvas, mask, hex_to_bgr(g.colour), g.opacity)


def _ridge(rng: np.random.Generator, x0: int, x1: int, base: int, height: int, peaks: int, jagged: float) -> np.ndarray:
    xs = np.linspace(x0, x1, peaks * 2 + 1)
    ys = base - height * np.where(
        np.arange(len(xs)) % 2 == 1, rng.uniform(0.55, 1.0, len(xs)), rng.uniform(0.1, 0.45, len(xs))
    )
    if jagged > 0:
        fine = np.linspace(x0, x1, peaks * 8 + 1)
        ys = np.interp(fine, xs, ys) + rng.normal(0, jagged * height, len(fine))
        xs = fine
    return np.array([[x0, base], *zip(xs, ys), [x1, base]])


def mountains(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    x0, y0, x1, y1 = _rect(canvas, g)
    ridge = _ridge(rng, x0, x1, y1, y1 - y0, max(g.count, 1), 0.04)
    _paint_polygons(canvas, g, [ridge])
    if g.colour2:  # snow caps: the ridge clipped to its upper third
        snow = ridge.copy()
        snow[:, 1] = np.minimum(snow[:, 1], y0 + (y1 - y0) * 0.45)
        _paint_polygons(canvas, g, [snow], g.colour2)


def hills(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    x0, y0, x1, y1 = _rect(canvas, g)
    xs = np.linspace(x0, x1, 64)
    phase, freq = rng.uniform(0, 2 * np.pi), rng.uniform(1.0, 2.5) * max(g.count, 1)
    ys = y0 + (y1 - y0) * (0.5 - 0.5 * np.sin(phase + freq * np.pi * (xs - x0) / max(x1 - x0, 1)))
    _paint_polygons(canvas, g, [np.array([[x0, y1], *zip(xs, ys), [x1, y1]])])


def trees(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    x0, y0, x1, y1 = _rect(canvas, g)
    polygons = []
    for cx in rng.uniform(x0, x1, max(g.count, 1)):
        height = (y1 - y0) * rng.uniform(0.5, 1.0)
        half = height * rng.uniform(0.18, 0.3)
        polygons.append(np.array([[cx - half, y1], [cx, y1 - height], [cx + half, y1]]))
    _paint_polygons(canvas, g, polygons)


def skyline(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    x0, y0, x1, y1 = _rect(canvas, g)
    polygons, x = [], float(x0)
    while x < x1:
        width = (x1 - x0) * rng.uniform(0.02, 0.06)
        top = y1 - (y1 - y0) * rng.uniform(0.3, 1.0)
        polygons.append(np.array([[x, y1], [x, top], [x + width, top], [x + width, y1]]))
        x += width * rng.uniform(0.9, 1.3)
    _paint_polygons(canvas, g, polygons)


def sun(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    h, w = canvas.shape[:2]
    centre, radius = (g.x * w, g.y * h), g.h * h
    angles = np.linspace(0, 2 * np.pi, 64)
    disc = np.stack([centre[0] + radius * np.cos(angles), centre[1] + radius * np.sin(angles)], 1)
    polygons = [disc]
    for a in np.linspace(0, 2 * np.pi, g.count, endpoint=False):
        tip = (centre[0] + 1.9 * radius * np.cos(a), centre[1] + 1.9 * radius * np.sin(a))
        side = 0.12
        polygons.append(
            np.array(
                [
                    [
                        centre[0] + 1.15 * radius * np.cos(a - side),
                        centre[1] + 1.15 * radius * np.sin(a - side),
                    ],
                    tip,
                    [
                        centre[0] + 1.15 * radius * np.cos(a + side),
                        centre[1] + 1.15 * radius * np.sin(a + side),
                    ],
                ]
            )
        )
    _paint_polygons(canvas, g, polygons)


def _star(cx: float, cy: float, r: float, points: int = 5) -> np.ndarray:
    angles = -np.pi / 2 + np.arange(points * 2) * np.pi / points
    radii = np.where(np.arange(points * 2) % 2 == 0, r, r * 0.4)
    return np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1)


def star(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    h, w = canvas.shape[:2]
    _paint_polygons(canvas, g, [_star(g.x * w, g.y * h, g.h * h)])


def star_ring(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    """The EU's circle of stars: centred at (x, y), ring radius h."""
    h, w = canvas.shape[:2]
    cx, cy, r = g.x * w, g.y * h, g.h * h
    angles = np.linspace(0, 2 * np.pi, g.count or 12, endpoint=False)
    _paint_polygons(canvas, g, [_star(cx + r * np.cos(a), cy + r * np.sin(a), r * 0.28) for a in angles])


def waves(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    x0, y0, x1, y1 = _rect(canvas, g)
    xs = np.linspace(x0, x1, 96)
    thickness = max(1, round((y1 - y0) / max(g.count, 1) / 3))
    mask = np.zeros(canvas.shape[:2], np.uint8)
    phase = rng.uniform(0, 2 * np.pi)
    for i in range(max(g.count, 1)):
        base = y0 + (i + 0.5) * (y1 - y0) / max(g.count, 1)
        ys = base + thickness * 1.5 * np.sin(phase + i + 6 * np.pi * (xs - x0) / max(x1 - x0, 1))
        cv2.polylines(mask, [np.stack([xs, ys], 1).astype(np.int32)], False, 255, thickness, cv2.LINE_AA)
    blend_colour(canvas, mask, hex_to_bgr(g.colour), g.opacity)


def arcs(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    """Concentric arcs (a rainbow) from colour to colour2 over the rectangle."""
    x0, y0, x1, y1 = _rect(canvas, g)
    start, end = np.array(hex_to_bgr(g.colour), float), np.array(hex_to_bgr(g.colour2 or g.colour), float)
    bands = max(g.count, 1)
    thickness = max(1, round((y1 - y0) / bands / 1.5))
    for i in range(bands):
        axes = (round((x1 - x0) / 2 - i * thickness), round((y1 - y0) - i * thickness))
        if min(axes) < 0:  # a box narrow for its bands: the inner ones have shrunk away
            break
        mask = np.zeros(canvas.shape[:2], np.uint8)
        cv2.ellipse(mask, ((x0 + x1) // 2, y1), axes, 0, 180, 360, 255, thickness, cv2.LINE_AA)
        blend_colour(canvas, mask, to_bgr(start + (end - start) * i / max(bands - 1, 1)), g.opacity)


def emblem(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    """A round seal: ring, disc and a star, as state seals and dealer logos look from afar."""
    h, w = canvas.shape[:2]
    cx, cy, r = g.x * w, g.y * h, g.h * h
    inner = g.colour2 or g.colour
    _paint_polygons(
        canvas,
        g,
        [np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1) for t in [np.linspace(0, 2 * np.pi, 48)]],
    )
    ring = np.linspace(0, 2 * np.pi, 48)
    _paint_polygons(canvas, g, [np.stack([cx + 0.8 * r * np.cos(ring), cy + 0.8 * r * np.sin(ring)], 1)], inner)
    _paint_polygons(canvas, g, [_star(cx, cy, 0.6 * r)])


def stripes(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    """count diagonal stripes across the rectangle."""
    x0, y0, x1, y1 = _rect(canvas, g)
    step = (x1 - x0) / max(g.count, 1)
    slant = (y1 - y0) * 0.6
    polygons = [
        np.array(
            [
                [x0 + i * step, y1],
                [x0 + i * step + slant, y0],
                [x0 + (i + 0.5) * step + slant, y0],
                [x0 + (i + 0.5) * step, y1],
            ]
        )
        for i in range(g.count)
    ]
    mask = np.zeros(canvas.shape[:2], np.uint8)
    cv2.fillPoly(mask, [p.astype(np.int32) for p in polygons], 255, cv2.LINE_AA)
    clip = np.zeros_like(mask)
    clip[y0:y1, x0:x1] = 255
    blend_colour(canvas, mask & clip, hex_to_bgr(g.colour), g.opacity)


# -- shapes added for the state, Brazilian and EU styles --------------------------------------------------


def _oval(cx: float, cy: float, rx: float, ry: float, angle: float = 0.0, points: int = 40) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, points, endpoint=False)
    x, y = rx * np.cos(t), ry * np.sin(t)
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([cx + x * c - y * s, cy + x * s + y * c], 1)


def _box(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def _bar(start: np.ndarray, end: np.ndarray, width: float) -> np.ndarray:
    """A straight bar of width from start to end (rays, struts)."""
    direction = (end - start) / max(float(np.hypot(*(end - start))), 1e-6)
    normal = np.array([-direction[1], direction[0]]) * width / 2
    return np.array([start + normal, end + normal, end - normal, start - normal])


def cactus(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    """count saguaros standing on the rectangle's bottom edge, each a trunk with two raised arms."""
    x0, y0, x1, y1 = _rect(canvas, g)
    polygons = []
    for cx in rng.uniform(x0, x1, max(g.count, 1)):
        height = (y1 - y0) * rng.uniform(0.7, 1.0)
        trunk = height * 0.15
        polygons.append(_oval(cx, y1 - height + trunk / 2, trunk / 2, trunk / 2))
        polygons.append(_box(cx - trunk / 2, y1 - height + trunk / 2, cx + trunk / 2, y1))
        for side in (-1, 1):
            elbow_y = y1 - height * rng.uniform(0.3, 0.55)
            arm_x = cx + side * trunk * rng.uniform(1.1, 1.6)
            arm_top = elbow_y - height * rng.uniform(0.2, 0.35)
            polygons.append(_box(min(cx, arm_x), elbow_y - trunk * 0.7, max(cx, arm_x), elbow_y))
            polygons.append(_box(arm_x - trunk * 0.35, arm_top, arm_x + trunk * 0.35, elbow_y))
            polygons.append(_oval(arm_x, arm_top, trunk * 0.35, trunk * 0.35))
    _paint_polygons(canvas, g, polygons)


def zia(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    """New Mexico's Zia: a disc of radius h at (x, y) in colour2 (colour if unset) and four groups of four thin rays
    in colour, the middle two of each group longest; the whole sign is about 8h across, as tall as the characters."""
    h, w = canvas.shape[:2]
    cx, cy, r = g.x * w, g.y * h, g.h * h
    rays = []
    for angle in np.arange(4) * np.pi / 2:
        direction = np.array([np.cos(angle), np.sin(angle)])
        normal = np.array([-direction[1], direction[0]])
        for i, length in enumerate((3.3, 4.0, 4.0, 3.3)):
            base = np.array([cx, cy]) + normal * (i - 1.5) * r * 0.55
            rays.append(_bar(base + direction * r * 1.35, base + direction * r * length, r * 0.2))
    _paint_polygons(canvas, g, rays)
    _paint_polygons(canvas, g, [_oval(cx, cy, r, r)], g.colour2)


def fruit(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    """A round fruit (orange, peach) of radius h at (x, y) in colour, a leaf in colour2 on its top right."""
    h, w = canvas.shape[:2]
    cx, cy, r = g.x * w, g.y * h, g.h * h
    _paint_polygons(canvas, g, [_oval(cx, cy, r, r)])
    _paint_polygons(canvas, g, [_oval(cx + 0.45 * r, cy - 0.95 * r, 0.55 * r, 0.22 * r, -0.5)], g.colour2)


def heart(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    """A heart of half-width h at (x, y), as printed between character groups on some plates."""
    h, w = canvas.shape[:2]
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    scale = g.h * h / 16
    xs = g.x * w + scale * 16 * np.sin(t) ** 3
    ys = g.y * h - scale * (13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    _paint_polygons(canvas, g, [np.stack([xs, ys], 1)])


def silhouette(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    """A boxy, ragged outline of half-size h at (x, y), like the small state shapes printed between groups."""
    h, w = canvas.shape[:2]
    t = np.linspace(0, 2 * np.pi, max(g.count, 12), endpoint=False)
    squareness = 1 / np.maximum(np.abs(np.cos(t)), np.abs(np.sin(t)))  # a square's radius at each angle
    radius = g.h * h * np.minimum(squareness, 1.3) * rng.uniform(0.7, 1.0, len(t))
    _paint_polygons(canvas, g, [np.stack([g.x * w + radius * np.cos(t), g.y * h + radius * np.sin(t)], 1)])


def bird(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    """A perched bird facing right (chickadee, pelican), body length 2h at (x, y); cap and beak in colour2."""
    h, w = canvas.shape[:2]
    cx, cy, size = g.x * w, g.y * h, g.h * h
    head = (cx + 0.7 * size, cy - 0.45 * size, 0.35 * size)
    tail = np.array(
        [
            [cx - 0.6 * size, cy - 0.1 * size],
            [cx - 1.3 * size, cy + 0.35 * size],
            [cx - 1.2 * size, cy + 0.55 * size],
            [cx - 0.5 * size, cy + 0.3 * size],
        ]
    )
    body = _oval(cx, cy, 0.8 * size, 0.45 * size, -0.25)
    _paint_polygons(canvas, g, [body, _oval(head[0], head[1], head[2], head[2]), tail])
    beak = np.array(
        [
            [head[0] + 0.3 * size, head[1] - 0.08 * size],
            [head[0] + 0.65 * size, head[1] + 0.05 * size],
            [head[0] + 0.3 * size, head[1] + 0.1 * size],
        ]
    )
    cap = _oval(head[0], head[1] - 0.45 * head[2], 0.95 * head[2], 0.55 * head[2])
    _paint_polygons(canvas, g, [beak, cap], g.colour2)


def bronco(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    """A bucking horse and rider filling the rectangle (Wyoming's emblem between county number and serial): a heavy
    silhouette with its rump and tail up on the left, head down on the right, the rider's hat raised."""
    x0, y0, x1, y1 = _rect(canvas, g)
    w, h = x1 - x0, y1 - y0
    lean = rng.uniform(-0.1, 0.1)

    def at(fx: float, fy: float) -> np.ndarray:
        return np.array([x0 + w * (fx + lean * (0.5 - fy)), y0 + h * fy])

    def oval_at(fx: float, fy: float, rx: float, ry: float, angle: float = 0.0) -> np.ndarray:
        cx, cy = at(fx, fy)
        return _oval(cx, cy, rx, ry, angle)

    thick = 0.1 * max(w, h)
    polygons = [
        oval_at(0.48, 0.55, 0.32 * w, 0.17 * h, 0.45),  # body, rump high
        _bar(at(0.66, 0.62), at(0.86, 0.84), thick * 1.4),  # neck down to the right
        oval_at(0.88, 0.88, 0.09 * w, 0.07 * h, 0.9),  # head
        _bar(at(0.26, 0.42), at(0.12, 0.22), thick * 0.6),  # tail up
        _bar(at(0.3, 0.58), at(0.34, 0.86), thick * 0.9),  # hind legs
        _bar(at(0.34, 0.86), at(0.44, 0.97), thick * 0.6),
        _bar(at(0.42, 0.64), at(0.45, 0.9), thick * 0.8),
        _bar(at(0.6, 0.7), at(0.62, 1.0), thick * 0.8),  # fore legs
        _bar(at(0.54, 0.68), at(0.5, 0.94), thick * 0.7),
        _bar(at(0.55, 0.46), at(0.6, 0.2), thick * 1.1),  # rider
        oval_at(0.62, 0.15, 0.06 * w, 0.06 * h),  # rider's head
        _bar(at(0.58, 0.28), at(0.48, 0.08), thick * 0.5),  # raised arm
        oval_at(0.47, 0.05, 0.1 * w, 0.045 * h),  # hat
        _bar(at(0.58, 0.45), at(0.66, 0.62), thick * 0.6),  # rider's leg
    ]
    _paint_polygons(canvas, g, polygons)


def diamond(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    """A rhombus touching the middle of each side of the rectangle (Brazil's flag, road signs)."""
    x0, y0, x1, y1 = _rect(canvas, g)
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    _paint_polygons(canvas, g, [np.array([[mx, y0], [x1, my], [mx, y1], [x0, my]])])


def qr_code(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    """A QR-like square at the rectangle's top left, count modules a side (21 if under 11), random data."""
    x0, y0, x1, y1 = _rect(canvas, g)
    side, n = min(x1 - x0, y1 - y0), g.count if g.count >= 11 else 21
    modules = (rng.random((n, n)) < 0.5).astype(np.uint8) * 255
    for fy, fx in ((0, 0), (0, n - 7), (n - 7, 0)):  # the three finder squares
        modules[fy : fy + 7, fx : fx + 7] = 255
        modules[fy + 1 : fy + 6, fx + 1 : fx + 6] = 0
        modules[fy + 2 : fy + 5, fx + 2 : fx + 5] = 255
    mask = np.zeros(canvas.shape[:2], np.uint8)
    patch = cv2.resize(modules, (side, side), interpolation=cv2.INTER_NEAREST)
    target = mask[y0 : y0 + side, x0 : x0 + side]
    target[:] = patch[: target.shape[0], : target.shape[1]]
    blend_colour(canvas, mask, hex_to_bgr(g.colour), g.opacity)


def biplane(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    """The Wright Flyer: two long wings joined by count struts, a canard in front; fills the rect."""
    x0, y0, x1, y1 = _rect(canvas, g)
    span, tall = x1 - x0, y1 - y0
    wing = tall * 0.07
    left = x0 + span * 0.25
    polygons = [
        _box(left, y0, x1, y0 + wing),
        _box(left, y1 - wing, x1, y1),
        _box(x0, y0 + tall * 0.45, x0 + span * 0.12, y0 + tall * 0.45 + wing),
    ]
    struts = np.linspace(left, x1, max(g.count, 2))
    polygons += [_box(x - span * 0.006, y0, x + span * 0.006, y1) for x in struts]
    boom = (np.array([x0 + span * 0.1, y0 + tall * 0.5]), np.array([left, y0 + tall * 0.55]))
    polygons.append(_bar(*boom, wing * 0.5))
    _paint_polygons(canvas, g, polygons)


def rainbow(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    """count concentric half-ellipse bands through the spectrum, red outside to violet inside, standing on the
    rectangle's bottom edge (colour is unused: a rainbow's colours are fixed)."""
    x0, y0, x1, y1 = _rect(canvas, g)
    bands = max(g.count, 2)
    thickness = (y1 - y0) / bands * 0.5
    hues = np.linspace(0, 135, bands).astype(np.uint8)  # OpenCV hue runs 0..180: red to violet
    hsv = np.stack([hues, np.full(bands, 200, np.uint8), np.full(bands, 245, np.uint8)], 1)[None]
    for i, colour in enumerate(cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0]):
        mask = np.zeros(canvas.shape[:2], np.uint8)
        axes = (max(1, round((x1 - x0) / 2 - i * thickness)), max(1, round(y1 - y0 - i * thickness)))
        cv2.ellipse(mask, ((x0 + x1) // 2, y1), axes, 0, 180, 360, 255, max(1, round(thickness)), cv2.LINE_AA)
        blend_colour(canvas, mask, to_bgr(colour), g.opacity)


PAINTERS: dict[str, Painter] = {
    "rect": rect,
    "gradient_rect": gradient_rect,
    "ellipse": ellipse,
    "mountains": mountains,
    "hills": hills,
    "trees": trees,
    "skyline": skyline,
    "sun": sun,
    "star": star,
    "star_ring": star_ring,
    "waves": waves,
    "arcs": arcs,
    "emblem": emblem,
    "stripes": stripes,
    "cactus": cactus,
    "zia": zia,
    "fruit": fruit,
    "heart": heart,
    "silhouette": silhouette,
    "bird": bird,
    "diamond": diamond,
    "bronco": bronco,
    "qr_code": qr_code,
    "biplane": biplane,
    "rainbow": rainbow,
}


def paint(canvas: np.ndarray, g: Graphic, rng: np.random.Generator) -> None:
    try:
        painter = PAINTERS[g.kind]
    except KeyError:
        raise ValueError(f"unknown graphic kind {g.kind!r}; known: {', '.join(sorted(PAINTERS))}") from None
    painter(canvas, g, rng)
