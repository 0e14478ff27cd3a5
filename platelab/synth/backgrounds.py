"""Scene backgrounds and the plate-like things a detector must learn to ignore.

Backgrounds are photos that ship inside installed packages (scikit-image, scikit-learn, Debian wallpapers when
present) and procedural ones (asphalt with lane marks, parking lots, walls, sky over a street). Each source is
prepared once per scene size, a little larger than the scene, and cached: a scene then costs one random crop
and maybe a flip. Procedural sources are drawn from their own fixed seed, so the cache never changes output.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from platelab.synth.geometry import perspective_homography, transform_points
from platelab.synth.graphics import BGR, to_bgr
from platelab.synth.render import draw_mask
from platelab.synth.surroundings import scaled_text

Size = tuple[int, int]  # width, height
COVER = 1.15  # cached sources are this much larger than the scene, so crops can move around
PROCEDURAL_VARIANTS = 4  # per procedural kind
WALLPAPER_DIRS = (Path("/usr/share/backgrounds"), Path("/usr/share/wallpapers"))
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "brick", "grass", "gravel")
SIGN_FONTS = ("DejaVuSans-Bold.ttf", "DejaVuSansCondensed-Bold.ttf", "DejaVuSerif-Bold.ttf")
SHOP_WORDS = (
    "PHARMACY",
    "CAFE",
    "BAKERY",
    "OPEN",
    "HOTEL",
    "PIZZA",
    "BANK",
    "SALE 50%",
    "PARKING",
    "TAXI",
    "EXIT",
    "MARKET",
    "BAR",
    "DENTIST",
    "NO PARKING",
    "KEEP CLEAR",
    "BUS ONLY",
    "TOWING",
)
STICKER_WORDS = ("PERMIT 2024", "RESIDENT", "VISITOR", "STAFF", "EV", "CARWASH", "I LOVE NY", "BABY ON BOARD")


# -- photo sources ------------------------------------------------------------------------------------------


def _as_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(image[:, :, :3], cv2.COLOR_RGB2BGR)


def _skimage_photos() -> list[np.ndarray]:
    try:
        from skimage import data
    except ImportError:
        return []
    photos = []
    for name in SKIMAGE_PHOTOS:
        try:  # some data images need a download; only the ones installed with the package are used
            photos.append(_as_bgr(getattr(data, name)()))
        except (AttributeError, ImportError, OSError, ValueError):
            continue
    return photos


def _sklearn_photos() -> list[np.ndarray]:
    try:
        from sklearn.datasets import load_sample_images
    except ImportError:
        return []
    return [_as_bgr(image) for image in load_sample_images().images]


def _wallpapers() -> list[np.ndarray]:
    files = sorted(
        p
        for d in WALLPAPER_DIRS
        if d.is_dir()
        for p in d.rglob("*")
        if p.suffix.lower() in {".jpg", ".jpeg", ".png"}
    )
    images = (_read_wallpaper(p) for p in files)
    return [image for image in images if image is not None]


def _read_wallpaper(path: Path) -> np.ndarray | None:
    # decoded from its bytes: cv2.imread crashes on a name that is not UTF-8 and cannot open a non-ASCII one on
    # Windows
    try:
        return cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
    except (OSError, cv2.error):  # unreadable, or empty
        return None


@lru_cache(maxsize=1)
def photos() -> tuple[np.ndarray, ...]:
    """Every background photo found on this machine, BGR; possibly none."""
    return (*_skimage_photos(), *_sklearn_photos(), *_wallpapers())


def _cover(image: np.ndarray, size: Size) -> np.ndarray:
    """Resize so the image covers COVER times size in both directions."""
    w, h = size
    scale = COVER * max(w / image.shape[1], h / image.shape[0])
    target = (max(w, round(image.shape[1] * scale)), max(h, round(image.shape[0] * scale)))
    return cv2.resize(image, target, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


@lru_cache(maxsize=32)
def _photo_source(index: int, size: Size) -> np.ndarray:
    return _cover(photos()[index], size)


# -- procedural sources -------------------------------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, size: Size, cells: int, amplitude: float) -> np.ndarray:
    """Low-frequency noise (cells across the width) plus fine grain, float32 around 0."""
    w, h = size
    coarse = rng.normal(0, amplitude, (max(2, cells * h // w), cells)).astype(np.float32)
    smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    return smooth + rng.normal(0, amplitude * 0.35, (h, w)).astype(np.float32)


def _textured(rng: np.random.Generator, size: Size, colour: BGR, amplitude: float) -> np.ndarray:
    noise = _smooth_noise(rng, size, int(rng.integers(6, 24)), amplitude)
    textured: np.ndarray = np.clip(np.asarray(colour, np.float32) + noise[:, :, None], 0, 255).astype(np.uint8)
    return textured


def _grey(rng: np.random.Generator, low: int, high: int) -> BGR:
    level = int(rng.integers(low, high))
    tint = rng.integers(-6, 7, 3)
    return to_bgr(np.clip(level + t, 0, 255) for t in tint)


def _road(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Asphalt seen from a pole camera: lane marks converging to a vanishing point above the frame."""
    w, h = size
    image = _textured(rng, size, _grey(rng, 55, 120), 14)
    vanish = (rng.uniform(0.2, 0.8) * w, -rng.uniform(0.3, 1.5) * h)
    colour = (235, 235, 235) if rng.random() < 0.7 else (40, 190, 230)
    for foot in np.linspace(-0.4 * w, 1.4 * w, int(rng.integers(3, 6))):
        for t0 in np.arange(0, 1, 0.18) + rng.uniform(0, 0.18):
            t1 = min(t0 + 0.09, 1.0)
            p0 = (int(vanish[0] + (foot - vanish[0]) * t0), int(vanish[1] + (h - vanish[1]) * t0))
            p1 = (int(vanish[0] + (foot - vanish[0]) * t1), int(vanish[1] + (h - vanish[1]) * t1))
            width = max(1, round(3 + 12 * t1))
            cv2.line(image, p0, p1, colour, width, cv2.LINE_AA)
    return image


def _parking(rng: np.random.Generator, size: Size) -> np.ndarray:
    w, h = size
    image = _textured(rng, size, _grey(rng, 50, 110), 16)
    for _ in range(int(rng.integers(5, 20))):  # oil stains
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(10, 80)), int(rng.integers(5, 40)))
        cv2.ellipse(image, centre, axes, rng.uniform(0, 180), 0, 360, _grey(rng, 25, 50), -1, cv2.LINE_AA)
    slant, spacing = rng.uniform(-0.5, 0.5) * h, rng.uniform(0.12, 0.3) * w
    for row_y in (rng.uniform(0, 0.4) * h, rng.uniform(0.6, 1.0) * h):
        for x in np.arange(-spacing, w + spacing, spacing):
            cv2.line(
                image,
                (int(x), int(row_y - 0.3 * h)),
                (int(x + slant), int(row_y + 0.3 * h)),
                (215, 215, 215),
                int(rng.integers(3, 9)),
                cv2.LINE_AA,
            )
    return image


def _wall(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Concrete, render or brickwork behind parked cars."""
    w, h = size
    if rng.random() < 0.5:
        colour = to_bgr(rng.integers(90, 230, 3))
        return _textured(rng, size, colour, 10)
    brick = (int(rng.integers(30, 70)), int(rng.integers(50, 90)), int(rng.integers(110, 170)))
    image = _textured(rng, size, brick, 18)
    course = int(rng.integers(14, 40))
    mortar = _grey(rng, 150, 210)
    for row, y in enumerate(range(0, h, course)):
        cv2.line(image, (0, y), (w, y), mortar, 2)
        offset = (row % 2) * course
        for x in range(offset, w, course * 2):
            cv2.line(image, (x, y), (x, y + course), mortar, 2)
    return image


def _street(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Sky gradient over building blocks and a road: the view of a dashboard or phone camera."""
    w, h = size
    horizon = int(rng.uniform(0.3, 0.6) * h)
    image = _textured(rng, size, _grey(rng, 60, 110), 12)
    top = np.array([rng.uniform(150, 255), rng.uniform(110, 200), rng.uniform(60, 140)], np.float32)
    bottom = np.array([235, 225, 215], np.float32)
    ramp = np.linspace(0, 1, horizon, dtype=np.float32)[:, None, None]
    image[:horizon] = (top * (1 - ramp) + bottom * ramp).astype(np.uint8)
    x = 0
    while x < w:
        width = int(rng.uniform(0.05, 0.2) * w)
        roof = int(horizon - rng.uniform(0.1, 0.9) * horizon)
        facade = _grey(rng, 70, 200)
        cv2.rectangle(image, (x, roof), (x + width, horizon), facade, -1)
        for wy in range(roof + 8, horizon - 10, 22):
            for wx in range(x + 6, x + width - 10, 18):
                cv2.rectangle(image, (wx, wy), (wx + 9, wy + 12), _grey(rng, 30, 90), -1)
        x += width
    return image


PROCEDURAL: tuple[Callable[[np.random.Generator, Size], np.ndarray], ...] = (_road, _parking, _wall, _street)


@lru_cache(maxsize=32)
def _procedural_source(index: int, size: Size) -> np.ndarray:
    cover = (round(size[0] * COVER), round(size[1] * COVER))
    return PROCEDURAL[index % len(PROCEDURAL)](np.random.default_rng(index), cover)


def random_background(rng: np.random.Generator, size: Size, photo_p: float) -> np.ndarray:
    """A fresh (writable) background: a random crop of a cached photo or procedural source, maybe mirrored."""
    pool = photos()
    if pool and rng.random() < photo_p:
        source = _photo_source(int(rng.integers(len(pool))), size)
    else:
        source = _procedural_source(int(rng.integers(len(PROCEDURAL) * PROCEDURAL_VARIANTS)), size)
    w, h = size
    x = int(rng.integers(source.shape[1] - w + 1))
    y = int(rng.integers(source.shape[0] - h + 1))
    crop = source[y : y + h, x : x + w]
    return cv2.flip(crop, 1) if rng.random() < 0.5 else crop.copy()


# -- pasting a flat patch in perspective --------------------------------------------------------------------


def _cv_matrix(matrix: np.ndarray, x: int, y: int) -> np.ndarray:
    """A homography in continuous coordinates (pixel i spans [i, i+1)) as cv2 wants it: on pixel centres,
    with the output's origin at (x, y)."""
    to_roi = np.array([[1, 0, -x - 0.5], [0, 1, -y - 0.5], [0, 0, 1]], float)
    from_centres = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]], float)
    homography: np.ndarray = to_roi @ matrix @ from_centres
    return homography


def _composite(roi: np.ndarray, layer: np.ndarray, coverage: np.ndarray) -> None:
    """Layer over roi by coverage (uint8), in place. Inside it is a masked copy and only the thin
    anti-aliased rim is blended: a full-size float blend costs twenty times more."""
    rows, cols = np.nonzero((coverage > 0) & (coverage < 255))
    below = roi[rows, cols].astype(np.float32)
    cv2.copyTo(layer, coverage, roi)
    alpha = coverage[rows, cols, None].astype(np.float32) * (1 / 255)
    roi[rows, cols] = (below + (layer[rows, cols] - below) * alpha + 0.5).astype(np.uint8)


def paste_warped(
    image: np.ndarray, patch: np.ndarray, matrix: np.ndarray, mask: np.ndarray | None = None
) -> tuple[tuple[int, int, int, int], np.ndarray | None]:
    """Warp patch (BGR, or BGRA with its own transparency) by matrix onto image in place, with anti-aliased
    edges, touching only its box.

    Returns the box (x, y, w, h) written and, when mask is given, the mask warped into that box.
    """
    ph, pw = patch.shape[:2]
    corners = transform_points(matrix, np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32))
    x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int), 0)
    x1 = min(int(np.ceil(corners[:, 0].max())), image.shape[1])
    y1 = min(int(np.ceil(corners[:, 1].max())), image.shape[0])
    if x1 <= x0 or y1 <= y0:
        return (0, 0, 0, 0), None
    size, cv_matrix = (x1 - x0, y1 - y0), _cv_matrix(matrix, x0, y0)
    warped = cv2.warpPerspective(
        patch, cv_matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    coverage = np.zeros((y1 - y0, x1 - x0), np.uint8)
    shift = 4  # sub-pixel polygon corners
    outline = np.round((corners - (x0, y0)) * 2**shift).astype(np.int32)
    cv2.fillConvexPoly(coverage, outline, 255, cv2.LINE_AA, shift)
    if patch.shape[2] == 4:
        coverage = cv2.multiply(coverage, warped[:, :, 3], scale=1 / 255)
        warped = cv2.cvtColor(warped, cv2.COLOR_BGRA2BGR)
    _composite(image[y0:y1, x0:x1], warped, coverage)
    box = (int(x0), int(y0), int(x1 - x0), int(y1 - y0))
    if mask is None:
        return box, None
    warped_mask = cv2.warpPerspective(
        mask, cv_matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return box, np.minimum(warped_mask, coverage)


# -- distractors --------------------------------------------------------------------------------------------


def _text_patch(text: str, font: str, cap: int, ink: BGR, paper: BGR, pad: float) -> np.ndarray:
    """A rectangle of paper with text centred on it, cap px tall letters."""
    mask = scaled_text(font, text, cap)
    margin = round(cap * pad)
    patch = np.empty((mask.shape[0] + 2 * margin, mask.shape[1] + 2 * margin, 3), np.uint8)
    cv2.rectangle(patch, (0, 0), (patch.shape[1], patch.shape[0]), paper, -1)
    inset = max(1, margin // 3)
    far_corner = (patch.shape[1] - 1 - inset, patch.shape[0] - 1 - inset)
    cv2.rectangle(patch, (inset, inset), far_corner, ink, max(1, cap // 10))
    draw_mask(patch, mask, margin, margin, ink)
    return patch


def _random_colour(rng: np.random.Generator) -> BGR:
    return to_bgr(rng.integers(0, 256, 3))


def _shop_sign(rng: np.random.Generator) -> np.ndarray:
    paper = _random_colour(rng)
    ink = (255, 255, 255) if sum(paper) < 380 else (20, 20, 20)
    font = SIGN_FONTS[rng.integers(len(SIGN_FONTS))]
    return _text_patch(SHOP_WORDS[rng.integers(len(SHOP_WORDS))], font, 32, ink, paper, rng.uniform(0.2, 0.8))


def _sticker(rng: np.random.Generator) -> np.ndarray:
    text = STICKER_WORDS[rng.integers(len(STICKER_WORDS))]
    return _text_patch(text, SIGN_FONTS[1], 24, _random_colour(rng), (245, 245, 240), rng.uniform(0.3, 1.0))


@lru_cache(maxsize=16)
def _speed_sign_face(limit: int) -> np.ndarray:
    """A round speed-limit sign, BGRA: transparent outside the disc."""
    side = 96
    centre = (side // 2, side // 2)
    face = np.zeros((side, side, 4), np.uint8)
    cv2.circle(face, centre, side // 2 - 1, (30, 30, 200, 255), -1, cv2.LINE_AA)
    cv2.circle(face, centre, int(side * 0.38), (250, 250, 250, 255), -1, cv2.LINE_AA)
    digits = scaled_text(SIGN_FONTS[0], str(limit), int(side * 0.36), int(side * 0.5))
    colour = face[:, :, :3].copy()
    draw_mask(colour, digits, side // 4, int(side * 0.32), (10, 10, 10))
    face[:, :, :3] = colour
    return face


def _speed_sign(rng: np.random.Generator) -> np.ndarray:
    return _speed_sign_face(int(rng.integers(2, 13)) * 10)


def _direction_sign(rng: np.random.Generator) -> np.ndarray:
    paper = [(140, 70, 0), (40, 110, 0), (250, 250, 250)][rng.integers(3)]
    ink = (20, 20, 20) if paper[0] > 200 else (255, 255, 255)
    words = " ".join(SHOP_WORDS[i] for i in rng.integers(len(SHOP_WORDS), size=int(rng.integers(1, 3))))
    return _text_patch(words, SIGN_FONTS[0], 28, ink, paper, 0.5)


DISTRACTORS = (_shop_sign, _sticker, _speed_sign, _direction_sign)


def draw_distractor(image: np.ndarray, rng: np.random.Generator, width: float) -> None:
    """A sign, sticker or lettered board about width px wide somewhere on image, in mild perspective."""
    patch = DISTRACTORS[rng.integers(len(DISTRACTORS))](rng)
    ph, pw = patch.shape[:2]
    scale = width / pw
    cx, cy = rng.uniform(0, image.shape[1]), rng.uniform(0, image.shape[0])
    pose = perspective_homography(
        (pw / 2, ph / 2),
        pw,
        rng.uniform(-40, 40),
        rng.uniform(-25, 25),
        rng.uniform(-15, 15),
        rng.uniform(1.5, 6),
    )
    place = np.array([[scale, 0, cx - scale * pw / 2], [0, scale, cy - scale * ph / 2], [0, 0, 1]])
    paste_warped(image, patch, place @ pose)
