"""What light, lens, sensor and codec do to a plate image.

`apply_light` changes how the scene is lit (exposure, colour of the light, shadows, glare, night, infrared)
and what the plate's surface looks like (sheen, dirt, rust, fading); `apply_camera` adds what the camera does
to the light it receives (blur, vignetting, low resolution, sensor noise, interlacing, JPEG or video codecs).

Both take BGR uint8 images of any size and return a new array of the same shape. Every effect fires with its
own probability and draws its parameters from the caller's generator, so a seed gives byte-identical output.
Speed matters (this runs inside training loops): work is done with cv2 on uint8 where possible, smooth maps
(illumination, vignetting) are computed small and resized, and plate effects touch only the plate's box.
"""

from __future__ import annotations

import math
from functools import cache

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from platelab.synth.spans import (
    CountSpan,
    GainSpan,
    LevelSpan,
    PixelSpan,
    Probability,
    QualitySpan,
    ShrinkSpan,
    UnitSpan,
)

Box = tuple[int, int, int, int]  # x, y, w, h

GRADIENT_GRID = 24  # cells along the long side of the map a light falloff is computed on
UNIT = 128  # a uint8 gain map holds gain * UNIT, so it can brighten up to 2x
NOISE_BANK_PIXELS = 1536 * 1024  # precomputed noise covers this many BGR pixels without repeating
NOISE_MID, NOISE_UNIT = 128, 32  # bank value = NOISE_MID + NOISE_UNIT * N(0, 1), clipped to uint8 (4 sigma)
NOISE_SEED = 20240531
MOTION_ANGLE_STEP = 15  # degrees: motion kernels are cached per (length, angle bucket)
LUMA_BGR = np.array([0.114, 0.587, 0.299], np.float32)
IDENTITY, ONES = np.eye(3, dtype=np.float32), np.ones(3, np.float32)


class LightConfig(BaseModel):
    """How the plate and its scene are lit, and what weather and age did to the plate's surface."""

    model_config = ConfigDict(extra="forbid")

    brightness_p: Probability = Field(0.5, description="chance of an exposure offset")
    brightness: LevelSpan = Field((-35.0, 30.0), description="grey levels added to every channel")
    contrast_p: Probability = Field(0.4, description="chance of a contrast change")
    contrast: GainSpan = Field((0.65, 1.3), description="contrast gain around mid-grey")
    gamma_p: Probability = Field(0.3, description="chance of a gamma (tone curve) change")
    gamma: GainSpan = Field((0.6, 1.7), description="exponent of the tone curve; above 1 darkens mid-tones")
    washout_p: Probability = Field(0.06, description="chance of a washed-out, low-contrast look")
    washout_contrast: UnitSpan = Field((0.4, 0.7), description="contrast kept when washed out")
    washout_lift: LevelSpan = Field((20.0, 70.0), description="grey levels the washed-out blacks rise by")
    cast_p: Probability = Field(0.35, description="chance of a sodium, LED or white-balance cast")
    cast_strength: UnitSpan = Field((0.3, 1.0), description="how far a sodium or LED cast goes")
    white_balance: GainSpan = Field((0.85, 1.15), description="per-channel gains of a white-balance error")
    gradient_p: Probability = Field(0.35, description="chance of a linear illumination falloff")
    gradient_strength: UnitSpan = Field((0.15, 0.6), description="fraction of light lost across the plate")
    shadow_p: Probability = Field(0.25, description="chance of a hard or soft shadow")
    shadow_soft_p: Probability = Field(0.5, description="chance a shadow has a soft (penumbra) edge")
    shadow_band_p: Probability = Field(0.35, description="chance a shadow is a band (pole, wire) not an edge")
    shadow_darkness: UnitSpan = Field((0.3, 0.7), description="fraction of light a shadow takes away")
    glare_p: Probability = Field(0.12, description="chance of specular glare blobs")
    glare_strength: LevelSpan = Field((60.0, 220.0), description="grey levels a glare blob adds at its peak")
    glare_size: GainSpan = Field((0.15, 0.8), description="glare blob radius, fraction of plate height")
    sheen_p: Probability = Field(0.2, description="chance of a retroreflective sheen band on the plate")
    sheen_strength: LevelSpan = Field((15.0, 60.0), description="grey levels the sheen adds at its brightest")
    night_p: Probability = Field(0.04, description="chance of a night shot: dark, noisy, plate lamp-lit")
    night_exposure: UnitSpan = Field((0.2, 0.5), description="fraction of the light left at night")
    night_plate_gain: GainSpan = Field((1.8, 3.5), description="how much brighter the lamp-lit plate stays")
    night_noise: PixelSpan = Field((3.0, 10.0), description="sensor noise sigma at night, grey levels")
    infrared_p: Probability = Field(0.04, description="chance of an infrared look: grey, flat bright plate")
    dirt_p: Probability = Field(0.1, description="chance of dirt spots and road spray on the plate")
    dirt_opacity: UnitSpan = Field((0.15, 0.6), description="opacity of the dirt at its thickest")
    dirt_spots: CountSpan = Field((3, 15), description="number of dirt spots")
    rust_p: Probability = Field(0.06, description="chance of rust spots and streaks from the bolt holes")
    rust_opacity: UnitSpan = Field((0.4, 0.9), description="opacity of rust at its thickest")
    fade_p: Probability = Field(0.08, description="chance of sun-faded, worn paint")
    fade_amount: UnitSpan = Field((0.15, 0.5), description="how far the plate fades towards pale grey")


class CameraConfig(BaseModel):
    """What the lens, sensor and codec of a traffic camera or phone do to the light they receive."""

    model_config = ConfigDict(extra="forbid")

    defocus_p: Probability = Field(0.25, description="chance of defocus blur")
    defocus_sigma: PixelSpan = Field((0.3, 1.1), description="gaussian defocus sigma, px")
    defocus_disk_p: Probability = Field(0.3, description="chance defocus is a lens disk, not a gaussian")
    defocus_radius: CountSpan = Field((1, 2), description="lens disk radius, px")
    motion_p: Probability = Field(0.08, description="chance of motion blur in a random direction")
    motion_length: CountSpan = Field((2, 6), description="motion blur length, px")
    vignette_p: Probability = Field(0.15, description="chance of vignetting (darker towards the corners)")
    vignette_strength: UnitSpan = Field((0.15, 0.5), description="fraction of light lost in the corners")
    lowres_p: Probability = Field(0.25, description="chance the sensor saw fewer pixels (downscale, upscale)")
    lowres_scale: ShrinkSpan = Field((0.35, 0.9), description="fraction of the size the sensor saw")
    noise_p: Probability = Field(0.4, description="chance of sensor noise")
    noise_sigma: PixelSpan = Field((1.0, 5.0), description="read noise sigma, grey levels")
    noise_shot_p: Probability = Field(0.5, description="chance of shot noise too, growing with brightness")
    noise_shot: UnitSpan = Field((0.01, 0.05), description="shot noise sigma, fraction of the pixel's value")
    noise_colour_p: Probability = Field(0.4, description="chance noise is independent per channel (colour)")
    interlace_p: Probability = Field(0.03, description="chance of interlacing: odd rows shifted sideways")
    interlace_shift: CountSpan = Field((1, 3), description="horizontal shift of the odd rows, px")
    jpeg_p: Probability = Field(0.4, description="chance of JPEG compression")
    jpeg_quality: QualitySpan = Field((35, 95), description="JPEG quality")
    video_p: Probability = Field(0.04, description="chance of video-like compression (replaces JPEG)")
    video_quality: QualitySpan = Field((8, 30), description="quality of a video frame: blocky, colour smeared")


# ---------------------------------------------------------------------------------------------- small helpers


def _draw(rng: np.random.Generator, span: tuple[float, float]) -> float:
    return span[0] + (span[1] - span[0]) * rng.random()


def _draw_int(rng: np.random.Generator, span: tuple[int, int]) -> int:
    return int(rng.integers(span[0], span[1] + 1))


def _fire(rng: np.random.Generator, cfg: BaseModel, effects: tuple[str, ...]) -> dict[str, bool]:
    """Which effects happen this time: each by its own `<name>_p`, all from one draw."""
    draws = rng.random(len(effects)).tolist()
    return {name: draw < getattr(cfg, name + "_p") for name, draw in zip(effects, draws, strict=True)}


def _plate_box(shape: tuple[int, ...], plate_mask: np.ndarray | None) -> Box:
    """Where plate effects go and what shadows and glare are sized by: the mask's box, else the image."""
    if plate_mask is not None:
        x, y, w, h = cv2.boundingRect(plate_mask)
        if w > 0 and h > 0:
            return x, y, w, h
    return 0, 0, shape[1], shape[0]


def _to_u8(values: np.ndarray, scale: float) -> np.ndarray:
    """Non-negative float map * scale -> uint8, rounded and saturated (cv2: far cheaper than np.clip)."""
    return cv2.convertScaleAbs(values, alpha=scale)


def _three(channel: np.ndarray) -> np.ndarray:
    return cv2.merge([channel, channel, channel])


def _apply_gain(image: np.ndarray, gain: np.ndarray) -> None:
    """image *= gain / UNIT in place, gain being a one-channel uint8 map of the image's size."""
    cv2.multiply(image, _three(gain), dst=image, scale=1 / UNIT)


def _plate_alpha(small: np.ndarray, box: Box, plate_mask: np.ndarray | None) -> np.ndarray:
    """A small float map in [0, 1] -> uint8 alpha (255 = full) over the plate box, zero off the plate."""
    x, y, w, h = box
    alpha = cv2.resize(_to_u8(small, 255), (w, h), interpolation=cv2.INTER_LINEAR)
    if plate_mask is not None:
        alpha = cv2.multiply(alpha, plate_mask[y : y + h, x : x + w], scale=1 / 255)
    return alpha


def _blend_towards(region: np.ndarray, alpha: np.ndarray, colour: tuple[float, float, float]) -> None:
    """region = region * (1 - alpha) + colour * alpha, in place, in uint8 (float blending is 5x slower)."""
    paint = cv2.merge([cv2.convertScaleAbs(alpha, alpha=c / 255) for c in colour])
    region[:] = cv2.add(cv2.multiply(region, _three(255 - alpha), scale=1 / 255), paint)


def _add_grey(region: np.ndarray, alpha: np.ndarray, level: float) -> None:
    """region += alpha / 255 * level on every channel, in place, saturating."""
    region[:] = cv2.add(region, _three(cv2.convertScaleAbs(alpha, alpha=level / 255)))


def _mottle(rng: np.random.Generator, rows: int, cols: int, size: tuple[int, int]) -> np.ndarray:
    """Smooth random field in [0, 1] of the given (w, h) size: a coarse random grid, interpolated."""
    coarse = rng.random((rows, cols), dtype=np.float32)
    return cv2.resize(coarse, size, interpolation=cv2.INTER_CUBIC).clip(0, 1)


# ---------------------------------------------------------------------------------------- plate surface


def _fade(
    image: np.ndarray, rng: np.random.Generator, cfg: LightConfig, box: Box, plate_mask: np.ndarray | None
) -> None:
    """Sun-bleached paint: the plate drifts, unevenly, towards a pale grey."""
    small = _draw(rng, cfg.fade_amount) * (0.6 + 0.4 * _mottle(rng, 3, 6, (24, 12)))
    pale = rng.uniform(195, 235) + rng.uniform(-8, 8, 3)
    x, y, w, h = box
    _blend_towards(image[y : y + h, x : x + w], _plate_alpha(small, box, plate_mask), tuple(pale))


def _dirt(
    image: np.ndarray, rng: np.random.Generator, cfg: LightConfig, box: Box, plate_mask: np.ndarray | None
) -> None:
    """Mud spots plus road spray that thickens towards the bottom edge."""
    x, y, w, h = box
    mh, mw = 24, max(8, round(24 * w / h))
    spots = np.zeros((mh, mw), np.uint8)
    count = _draw_int(rng, cfg.dirt_spots)
    centres = rng.random((count, 2)) * (mw, mh)
    axes = np.maximum(1, rng.uniform(0.02, 0.1, (count, 2)) * mh)
    for (cx, cy), (ax, ay), angle, ink in zip(
        centres.astype(int).tolist(),
        axes.astype(int).tolist(),
        rng.uniform(0, 180, count).tolist(),
        rng.integers(80, 200, count).tolist(),
        strict=True,
    ):
        cv2.ellipse(spots, (cx, cy), (ax, ay), angle, 0, 360, ink, -1, cv2.LINE_AA)
    spray = np.linspace(0, 1, mh, dtype=np.float32)[:, None] ** rng.uniform(1.5, 4)
    film = spray * _mottle(rng, 4, 8, (mw, mh)) * rng.uniform(0.3, 1)
    small = np.maximum(spots * (1 / 255), film) * _draw(rng, cfg.dirt_opacity)
    mud = tuple(rng.uniform((25, 40, 50), (70, 90, 110)))
    _blend_towards(image[y : y + h, x : x + w], _plate_alpha(small, box, plate_mask), mud)


def _rust(
    image: np.ndarray, rng: np.random.Generator, cfg: LightConfig, box: Box, plate_mask: np.ndarray | None
) -> None:
    """Rust around the bolt holes, streaks running down from them, and specks along the edges."""
    x, y, w, h = box
    mh, mw = 32, max(16, round(32 * w / h))
    rust = np.zeros((mh, mw), np.uint8)
    for hole_x in (0.15, 0.85):
        if rng.random() < 0.75:
            cx, cy = int(mw * (hole_x + rng.uniform(-0.04, 0.04))), int(mh * rng.uniform(0.08, 0.18))
            cv2.circle(rust, (cx, cy), int(mh * rng.uniform(0.04, 0.1)) + 1, 255, -1, cv2.LINE_AA)
            streak_end = (cx + int(rng.integers(-2, 3)), cy + int(mh * rng.uniform(0.2, 0.8)))
            cv2.line(rust, (cx, cy), streak_end, int(rng.integers(100, 230)), 1, cv2.LINE_AA)
    count = int(rng.integers(2, 12))
    specks_y = np.where(rng.random(count) < 0.5, rng.choice((1, mh - 2), count), rng.integers(0, mh, count))
    for cx, cy, radius, ink in zip(
        rng.integers(0, mw, count).tolist(),
        specks_y.tolist(),
        (rng.uniform(0.01, 0.05, count) * mh + 1).astype(int).tolist(),
        rng.integers(100, 256, count).tolist(),
        strict=True,
    ):
        cv2.circle(rust, (cx, cy), radius, ink, -1, cv2.LINE_AA)
    small = cv2.GaussianBlur(rust, (3, 3), 0) * (_draw(rng, cfg.rust_opacity) / 255)
    colour = tuple(rng.uniform((15, 45, 90), (45, 80, 150)))
    _blend_towards(image[y : y + h, x : x + w], _plate_alpha(small, box, plate_mask), colour)


def _sheen(
    image: np.ndarray, rng: np.random.Generator, cfg: LightConfig, box: Box, plate_mask: np.ndarray | None
) -> None:
    """Retroreflective sheeting catching the light: a broad soft bright band across the plate."""
    x, y, w, h = box
    mh, mw = 8, max(8, round(8 * w / h))
    xs = np.arange(mw, dtype=np.float32)[None, :] * (w / h / (mw - 1))
    ys = np.arange(mh, dtype=np.float32)[:, None] * (1 / (mh - 1))
    angle = math.pi * rng.random()
    along = xs * math.cos(angle) + ys * math.sin(angle)
    centre, width = rng.uniform(along.min(), along.max()), rng.uniform(0.3, 1.2)
    band = np.exp(-(((along - centre) / width) ** 2)) * 0.8 + 0.2
    lift = _plate_alpha(band, box, plate_mask)
    _add_grey(image[y : y + h, x : x + w], lift, _draw(rng, cfg.sheen_strength))


# ------------------------------------------------------------------------------------------- illumination


def _shadow_polygon(rng: np.random.Generator, box: Box, reach: float) -> np.ndarray:
    """A shadow through the plate box: a half-plane with a ragged edge, or a ragged band."""
    x, y, w, h = box
    centre = np.array([x + w * rng.random(), y + h * rng.random()])
    angle = rng.uniform(0, np.pi)
    along, normal = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])

    def ragged_edge(offset: float) -> np.ndarray:
        steps = np.sort(rng.uniform(-1, 1, int(rng.integers(3, 8))))
        ts = np.concatenate(([-reach], steps * max(w, h), [reach]))
        jitter = rng.normal(0, 0.08 * h, len(ts))
        edge: np.ndarray = centre + ts[:, None] * along + (offset + jitter)[:, None] * normal
        return edge

    near = ragged_edge(0.0)
    is_band = rng.random() < 0.5  # a band has a second ragged edge 0.15 to 0.7 plate heights away
    far = ragged_edge(h * rng.uniform(0.15, 0.7)) if is_band else near + reach * normal
    return np.concatenate([near, far[::-1]])


def _shade(rng: np.random.Generator, cfg: LightConfig, box: Box, shape: tuple[int, int]) -> np.ndarray:
    """uint8 map of the image's shape: 255 in the shadow, 0 in the light, with a hard or a soft edge."""
    height, width = shape
    polygon = _shadow_polygon(rng, box, reach=2.0 * (height + width))
    shrink = 1.0
    if rng.random() < cfg.shadow_soft_p:  # a penumbra of 5-25% of the plate height
        shrink = min(1.0, 2.0 / (box[3] * rng.uniform(0.05, 0.25)))  # drawn where it is ~2 px, scaled up
    small = (max(1, round(height * shrink)), max(1, round(width * shrink)))
    shade = np.zeros(small, np.uint8)  # uint8: cv2 anti-aliases only 8-bit drawings
    cv2.fillPoly(shade, [np.round(polygon * shrink).astype(np.int32)], 255, cv2.LINE_AA)
    if shrink == 1.0:
        return shade
    return cv2.resize(cv2.GaussianBlur(shade, (5, 5), 0), (width, height), interpolation=cv2.INTER_LINEAR)


def _gradient(rng: np.random.Generator, cfg: LightConfig, box: Box, shape: tuple[int, int]) -> np.ndarray:
    """uint8 gain map (UNIT = 1) of the image's shape: light falling off linearly across the plate box.
    Computed on a coarse grid: resizing bilinearly reproduces a linear ramp exactly."""
    height, width = shape
    scale = GRADIENT_GRID / max(height, width)
    rows, cols = max(2, round(height * scale)), max(2, round(width * scale))
    x, y, w, h = box  # cell centres in plate heights from the box's top-left corner:
    ys = ((np.arange(rows, dtype=np.float32) + 0.5) * (height / rows) - y) / h
    xs = ((np.arange(cols, dtype=np.float32) + 0.5) * (width / cols) - x) / h
    angle = 2 * math.pi * rng.random()
    cos, sin = math.cos(angle), math.sin(angle)
    along = xs[None, :] * cos + ys[:, None] * sin
    corners = (0.0, cos * w / h, sin, cos * w / h + sin)
    ramp = np.clip((along - min(corners)) / max(max(corners) - min(corners), 1e-3), 0, 1)
    gain = _to_u8(1 - _draw(rng, cfg.gradient_strength) * ramp, UNIT)
    return cv2.resize(gain, (width, height), interpolation=cv2.INTER_LINEAR)


def _illumination(image: np.ndarray, rng: np.random.Generator, cfg: LightConfig, box: Box,
                  gradient: bool, shadow: bool) -> None:
    """A linear falloff and/or a shadow, applied in place as one uint8 gain map."""
    shape = image.shape[:2]
    gain = _gradient(rng, cfg, box, shape) if gradient else np.full(shape, UNIT, np.uint8)
    if shadow:
        lit = 255 - cv2.convertScaleAbs(_shade(rng, cfg, box, shape), alpha=_draw(rng, cfg.shadow_darkness))
        gain = cv2.multiply(gain, lit, scale=1 / 255)
    _apply_gain(image, gain)


@cache
def _glare_blob() -> np.ndarray:
    r = np.linspace(-1, 1, 33, dtype=np.float32)
    return _to_u8(np.exp(-4 * (r[None, :] ** 2 + r[:, None] ** 2)), 255)


def _glare(image: np.ndarray, rng: np.random.Generator, cfg: LightConfig, box: Box) -> None:
    """Specular highlights: one to three soft white blobs added near the plate."""
    height, width = image.shape[:2]
    x, y, w, h = box
    for _ in range(int(rng.integers(1, 4))):
        radius = h * _draw(rng, cfg.glare_size)
        rx, ry = max(1, round(radius * rng.uniform(0.8, 2.5))), max(1, round(radius))
        cx, cy = round(x + w * rng.random()), round(y + h * rng.random())
        x0, y0, x1, y1 = max(0, cx - rx), max(0, cy - ry), min(width, cx + rx + 1), min(height, cy + ry + 1)
        if x1 <= x0 or y1 <= y0:
            continue
        blob = cv2.resize(_glare_blob(), (2 * rx + 1, 2 * ry + 1), interpolation=cv2.INTER_LINEAR)
        visible = blob[y0 - cy + ry : y1 - cy + ry, x0 - cx + rx : x1 - cx + rx]
        _add_grey(image[y0:y1, x0:x1], visible, _draw(rng, cfg.glare_strength))


# ------------------------------------------------------------------------------------ night and infrared


def _lamp_lit_plate(
    image: np.ndarray, rng: np.random.Generator, cfg: LightConfig, box: Box, plate_mask: np.ndarray
) -> None:
    """At night the plate lamp keeps the plate brighter than the dark car around it."""
    x, y, w, h = box
    region = image[y : y + h, x : x + w]
    lit = cv2.convertScaleAbs(region, alpha=_draw(rng, cfg.night_plate_gain))
    np.copyto(region, lit, where=plate_mask[y : y + h, x : x + w, None] > 0)


def _infrared(image: np.ndarray, rng: np.random.Generator, plate_mask: np.ndarray | None) -> np.ndarray:
    """IR camera look: grey; the retroreflective plate bright and flat with dark characters, the rest dim."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    levels = np.arange(256, dtype=np.float32)
    threshold, softness = rng.uniform(90, 150), rng.uniform(6, 15)
    plate_curve = rng.uniform(15, 45) + rng.uniform(190, 225) / (1 + np.exp(-(levels - threshold) / softness))
    ir = cv2.LUT(grey, np.clip(plate_curve, 0, 255).astype(np.uint8))
    if plate_mask is not None:
        scene = cv2.LUT(grey, np.clip(levels * rng.uniform(0.25, 0.6), 0, 255).astype(np.uint8))
        ir = np.where(plate_mask > 0, ir, scene)
    return cv2.cvtColor(ir, cv2.COLOR_GRAY2BGR)


# ----------------------------------------------------------------------------------------- exposure, tone


def _cast_gains(rng: np.random.Generator, cfg: LightConfig) -> np.ndarray:
    """Per-channel (B, G, R) gains of the light: sodium orange, cold LED blue or a white balance error."""
    kind = rng.random()
    if kind < 0.35:
        toward = np.array([0.55, 0.82, 1.12], np.float32)
    elif kind < 0.6:
        toward = np.array([1.15, 1.02, 0.86], np.float32)
    else:
        return rng.uniform(*cfg.white_balance, 3).astype(np.float32)
    return 1 + (toward - 1) * _draw(rng, cfg.cast_strength)


def _tone_matrix(rng: np.random.Generator, cfg: LightConfig, fired: dict[str, bool]) -> np.ndarray | None:
    """One 3x4 colour matrix for exposure, contrast, wash-out, night and colour cast: one image pass."""
    if not any(fired[k] for k in ("brightness", "contrast", "washout", "cast", "night")):
        return None
    contrast, offset, saturation, exposure = 1.0, 0.0, 1.0, 1.0
    if fired["brightness"]:
        offset += _draw(rng, cfg.brightness)
    if fired["contrast"]:
        contrast *= _draw(rng, cfg.contrast)
    if fired["washout"]:
        contrast = min(contrast, _draw(rng, cfg.washout_contrast))
        offset += _draw(rng, cfg.washout_lift)
        saturation = rng.uniform(0.3, 0.8)
    if fired["night"]:
        exposure = _draw(rng, cfg.night_exposure)
    gains = _cast_gains(rng, cfg) if fired["cast"] else ONES
    desaturate = saturation * IDENTITY + (1 - saturation) * LUMA_BGR[None, :]
    matrix = np.empty((3, 4), np.float32)
    matrix[:, :3] = (gains * exposure * contrast)[:, None] * desaturate
    matrix[:, 3] = gains * exposure * (128 * (1 - contrast) + offset)
    return matrix


LIGHT_EFFECTS = (
    "fade",
    "dirt",
    "rust",
    "gradient",
    "shadow",
    "sheen",
    "glare",
    "night",
    "infrared",
    "brightness",
    "contrast",
    "gamma",
    "washout",
    "cast",
)


def apply_light(
    image: np.ndarray, rng: np.random.Generator, cfg: LightConfig, plate_mask: np.ndarray | None = None
) -> np.ndarray:
    """Light the scene and age the plate. plate_mask (uint8, 255 on the plate) keeps sheen, dirt, rust and
    fading on the plate and sizes shadows and glare by it; without it they cover the whole image."""
    fired = _fire(rng, cfg, LIGHT_EFFECTS)
    fired["night"] &= not fired["infrared"]
    box = _plate_box(image.shape, plate_mask)
    out = image.copy()  # every step below works in place on it: fresh full-size buffers cost more
    for name, effect in (("fade", _fade), ("dirt", _dirt), ("rust", _rust), ("sheen", _sheen)):
        if fired[name]:
            effect(out, rng, cfg, box, plate_mask)
    if fired["gradient"] or fired["shadow"]:
        _illumination(out, rng, cfg, box, fired["gradient"], fired["shadow"])
    if fired["glare"]:
        _glare(out, rng, cfg, box)
    if fired["infrared"]:
        out = _infrared(out, rng, plate_mask)
        fired["cast"] = False
    if fired["night"] and plate_mask is not None:
        _lamp_lit_plate(out, rng, cfg, box, plate_mask)
    matrix = _tone_matrix(rng, cfg, fired)
    if matrix is not None:
        cv2.transform(out, matrix, dst=out)
    if fired["gamma"]:
        curve = 255 * (np.arange(256, dtype=np.float32) / 255) ** _draw(rng, cfg.gamma)
        cv2.LUT(out, _to_u8(curve, 1), dst=out)
    if fired["night"]:
        _add_noise(out, rng, _draw(rng, cfg.night_noise), shot=0.03, colour=True)
    return out


# ---------------------------------------------------------------------------------------------- the lens


@cache
def _disk_kernel(radius: int) -> np.ndarray:
    size = 2 * radius + 1
    kernel = np.zeros((size, size), np.uint8)  # uint8: cv2 anti-aliases only 8-bit drawings
    cv2.circle(kernel, (radius, radius), radius, 255, -1, cv2.LINE_AA)
    return kernel.astype(np.float32) / float(kernel.sum())


@cache
def _motion_kernel(length: int, angle_bucket: int) -> np.ndarray:
    """A normalised anti-aliased line, cropped to its rows and columns that carry weight (cv2's cost)."""
    size = length | 1
    angle = np.deg2rad(angle_bucket * MOTION_ANGLE_STEP)
    half = (length - 1) / 2
    dx, dy = half * np.cos(angle), half * np.sin(angle)
    kernel = np.zeros((size, size), np.uint8)  # uint8: cv2 anti-aliases only 8-bit drawings
    centre = size // 2
    shift = 4  # sub-pixel line ends
    start = (round((centre - dx) * 2**shift), round((centre - dy) * 2**shift))
    end = (round((centre + dx) * 2**shift), round((centre + dy) * 2**shift))
    cv2.line(kernel, start, end, 255, 1, cv2.LINE_AA, shift)
    rows, cols = np.nonzero(kernel.sum(1))[0], np.nonzero(kernel.sum(0))[0]
    # keep the kernel centred so the image does not move: crop symmetrically around the centre
    ry, rx = max(abs(rows - centre)), max(abs(cols - centre))
    kernel = kernel[centre - ry : centre + ry + 1, centre - rx : centre + rx + 1].astype(np.float32)
    normalised: np.ndarray = kernel / kernel.sum()
    return normalised


def _defocus(image: np.ndarray, rng: np.random.Generator, cfg: CameraConfig) -> None:
    if rng.random() < cfg.defocus_disk_p:
        cv2.filter2D(image, -1, _disk_kernel(_draw_int(rng, cfg.defocus_radius)), dst=image)
        return
    sigma = _draw(rng, cfg.defocus_sigma)
    size = 2 * math.ceil(2 * sigma) + 1  # +-2 sigma: cv2's default +-3 sigma costs more and looks the same
    cv2.GaussianBlur(image, (size, size), sigma, dst=image)


def _motion_blur(image: np.ndarray, rng: np.random.Generator, cfg: CameraConfig) -> None:
    bucket = int(rng.integers(180 // MOTION_ANGLE_STEP))
    cv2.filter2D(image, -1, _motion_kernel(max(2, _draw_int(rng, cfg.motion_length)), bucket), dst=image)


@cache
def _radius_squared() -> np.ndarray:
    r = np.linspace(-1, 1, 17, dtype=np.float32)
    return (r[None, :] ** 2 + r[:, None] ** 2) / 2


def _vignette(image: np.ndarray, rng: np.random.Generator, cfg: CameraConfig) -> None:
    centre_gain = 1 + 0.1 * rng.random()  # cameras expose for the middle
    gain = _to_u8(centre_gain - _draw(rng, cfg.vignette_strength) * _radius_squared(), UNIT)
    height, width = image.shape[:2]
    _apply_gain(image, cv2.resize(gain, (width, height), interpolation=cv2.INTER_LINEAR))


# -------------------------------------------------------------------------------------------- the sensor


@cache
def _noise_bank(colour: bool) -> np.ndarray:
    """Gaussian noise drawn once (seeded) as flat uint8 NOISE_MID + NOISE_UNIT * N(0, 1): drawing fresh
    noise per call costs more than everything else here together. Images take contiguous slices of it.

    colour=False gives mostly luminance noise (one shared field, a little per channel), as most cameras'
    processing leaves it; colour=True gives independent channels."""
    noise = np.random.default_rng(NOISE_SEED).standard_normal((NOISE_BANK_PIXELS, 3), dtype=np.float32)
    if not colour:
        noise = 0.9 * noise[:, :1] + 0.436 * noise[:, [1, 2, 0]]  # unit variance, correlated channels
    return np.clip(noise * NOISE_UNIT + NOISE_MID, 0, 255).astype(np.uint8).ravel()


def _noise_patch(bank: np.ndarray, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """A zero-copy, contiguous random slice of the bank in the image's shape (repeated for huge images)."""
    size = math.prod(shape)
    if size > bank.size:
        bank = np.resize(bank, size)
    start = int(rng.integers(bank.size - size + 1))
    return bank[start : start + size].reshape(shape)


def _add_noise(image: np.ndarray, rng: np.random.Generator, sigma: float, shot: float, colour: bool) -> None:
    """Read noise of sigma grey levels plus shot noise of shot * the pixel's value (brighter is noisier), in
    place. Both are uint8 passes with the bank's offset folded into cv2.addWeighted's constant."""
    bank = _noise_bank(colour)
    if shot > 0:
        # image * bank / 256 = image * (1/2 + n/8) never saturates; mixing 8 * shot of it in, and taking
        # the half back off the image's own weight, leaves image * (1 + shot * n)
        grainy = cv2.multiply(image, _noise_patch(bank, image.shape, rng), scale=1 / (2 * NOISE_MID))
        cv2.addWeighted(image, 1 - 4 * shot, grainy, 8 * shot, 0, dst=image)
    weight = sigma / NOISE_UNIT
    cv2.addWeighted(image, 1, _noise_patch(bank, image.shape, rng), weight, -NOISE_MID * weight, dst=image)


def _interlace(image: np.ndarray, rng: np.random.Generator, cfg: CameraConfig) -> None:
    """The odd field was exposed a moment later, while the car moved sideways (in place)."""
    shift = min(_draw_int(rng, cfg.interlace_shift), image.shape[1] - 1)
    odd = image[1::2]
    if rng.random() < 0.5:
        odd[:, shift:] = odd[:, : odd.shape[1] - shift].copy()
    else:
        odd[:, : odd.shape[1] - shift] = odd[:, shift:].copy()


def _shrink(image: np.ndarray, scale: float) -> np.ndarray:
    """Downscale as a sensor with fewer pixels would see it: exact halvings (bilinear at 1/2 averages 2x2
    blocks, and is 8x faster than cv2's area resize at odd factors), then one bilinear step."""
    height, width = image.shape[:2]
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    while image.shape[1] >= 2 * target[0] and image.shape[0] >= 2 * target[1]:
        image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(image, target, interpolation=cv2.INTER_LINEAR)


# --------------------------------------------------------------------------------------------- the codec


def _jpeg(image: np.ndarray, quality: int, sampling: int) -> np.ndarray:
    """Encode and decode: sampling is the chroma subsampling, 4:2:0 for photos, 4:1:1 for (DV-like) video."""
    params = [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, sampling]
    ok, data = cv2.imencode(".jpg", image, params)
    if not ok:
        raise RuntimeError("cv2 could not JPEG-encode the image")
    decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if decoded is None:
        raise RuntimeError("cv2 could not decode its own JPEG")
    return decoded


UPSCALE_INTERPOLATIONS = (cv2.INTER_LINEAR, cv2.INTER_LINEAR, cv2.INTER_LINEAR, cv2.INTER_NEAREST)
CAMERA_EFFECTS = ("defocus", "motion", "vignette", "lowres", "noise", "interlace", "video", "jpeg")


def apply_camera(image: np.ndarray, rng: np.random.Generator, cfg: CameraConfig) -> np.ndarray:
    """Lens, then sensor, then codec. With lowres the noise, interlacing and compression happen at the
    sensor's own (small) size before the image is scaled back, as in a crop upscaled from a distant plate.
    Effects work in place on one copy: fresh full-size buffers per step cost more than the steps."""
    fired = _fire(rng, cfg, CAMERA_EFFECTS)
    height, width = image.shape[:2]
    out = image.copy()
    for name, lens_effect in (("defocus", _defocus), ("motion", _motion_blur), ("vignette", _vignette)):
        if fired[name]:
            lens_effect(out, rng, cfg)
    if fired["lowres"]:
        out = _shrink(out, _draw(rng, cfg.lowres_scale))
    if fired["noise"]:
        colour, shot = (rng.random(2) < (cfg.noise_colour_p, cfg.noise_shot_p)).tolist()
        _add_noise(out, rng, _draw(rng, cfg.noise_sigma), _draw(rng, cfg.noise_shot) if shot else 0.0, colour)
    if fired["interlace"]:
        _interlace(out, rng, cfg)
    if fired["video"]:
        out = _jpeg(out, _draw_int(rng, cfg.video_quality), cv2.IMWRITE_JPEG_SAMPLING_FACTOR_411)
    elif fired["jpeg"]:
        out = _jpeg(out, _draw_int(rng, cfg.jpeg_quality), cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420)
    if fired["lowres"]:
        interpolation = UPSCALE_INTERPOLATIONS[int(rng.integers(len(UPSCALE_INTERPOLATIONS)))]
        out = cv2.resize(out, (width, height), interpolation=interpolation)
    return out
