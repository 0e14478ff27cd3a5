"""Finding registry-installed fonts and turning their glyphs into cached alpha masks."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, cast

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydantic import Field, RootModel

from platelab.synth.style import FontChoice, PlateStyle, StyleError
from platelab.utils.config_file import load_model_file
from platelab.utils.errors import shown

FONT_SETS_FILE = Path(__file__).parent / "fonts.yaml"
GLYPH_PX = 64  # glyphs are rasterised once at this cap height and scaled when drawn
FONT_DIRS_ENV = "PLATELAB_FONT_DIRS"


class FontNotFoundError(StyleError):
    pass


FONT_SUFFIXES = (".ttf", ".otf")  # what PIL's FreeType loader draws from a file name alone
# The Debian and Ubuntu packages of the bundled styles' fonts (.ci/apt-runtime.txt installs them, with Python): named
# in the errors, since a wheel's user has no checkout to read that list in.
FONT_PACKAGES = ("fonts-opendin", "fonts-roadgeek", "fonts-bebas-neue", "fonts-dejavu-core", "fonts-liberation",
                 "fonts-roboto-unhinted", "fonts-urw-base35", "fonts-texgyre", "fonts-paratype", "fonts-b612",
                 "fonts-tiresias", "fonts-national-park")


def fonts_install_hint() -> str:
    """Where the bundled styles' fonts come from, for a message saying one is missing."""
    return f"on Debian or Ubuntu: apt-get install {' '.join(FONT_PACKAGES)}"


def font_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get(FONT_DIRS_ENV, "").split(os.pathsep) if p]
    home = Path.home()
    user_data = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    system = [
        Path("/usr/share/fonts"),
        Path("/usr/share/texmf/fonts"),
        Path("/usr/local/share/fonts"),
        home / ".fonts",
        user_data / "fonts",  # where fc-list finds a user's own fonts
        Path("/Library/Fonts"),  # macOS
        home / "Library" / "Fonts",
        Path(os.environ.get("WINDIR", r"C:\Windows")) / "Fonts",
        Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local")) / "Microsoft" / "Windows" / "Fonts",
    ]
    packaged = [Path(p) for p in sys.path if p.endswith("site-packages")]
    return [d for d in (*extra, *system) if d.is_dir()] + [d for d in packaged if d.is_dir()]


@lru_cache(maxsize=1)
def _font_index() -> dict[str, Path]:
    index: dict[str, Path] = {}
    for folder in font_dirs():
        pattern = "fontpkg*/**/*" if "site-packages" in folder.parts else "**/*"
        for path in folder.glob(pattern):
            if path.suffix.lower() in FONT_SUFFIXES:
                index.setdefault(path.name, path)
    return index


def find_font(name: str) -> Path:
    """A font by file name, looked for in font_dirs(), or by its absolute path."""
    given = Path(name).expanduser()
    if given.suffix.lower() not in FONT_SUFFIXES:
        raise FontNotFoundError(f"font {shown(name)}: platelab draws TrueType and OpenType files "
                                f"({', '.join(FONT_SUFFIXES)}), not {given.suffix or 'a file without a suffix'}")
    if given.is_absolute():
        if given.is_file():
            return given
        raise FontNotFoundError(f"font {shown(name)}: no such file")
    path = _font_index().get(name)
    if path is None:
        raise FontNotFoundError(
            f"font {shown(name)} is not installed; install the package that holds it (the bundled styles' fonts: "
            f"{fonts_install_hint()}), give its absolute path, or add its folder to {FONT_DIRS_ENV}"
        )
    return path


class _FontSets(RootModel[dict[str, Annotated[list[FontChoice], Field(min_length=1)]]]):
    pass


@lru_cache(maxsize=1)
def font_sets() -> dict[str, list[FontChoice]]:
    """The sets of fonts.yaml by name; a set that cannot be drawn (no font, one not installed) is one line naming
    the file and the field."""
    return load_model_file(FONT_SETS_FILE, _FontSets, StyleError).root


def style_fonts(style: PlateStyle) -> list[FontChoice]:
    if isinstance(style.fonts, list):
        return style.fonts
    try:
        return font_sets()[style.fonts]
    except KeyError:
        raise StyleError(f"style {style.name}: field fonts: no font set named {shown(style.fonts)}") from None


@dataclass(frozen=True)
class Glyph:
    """A character's ink as an alpha mask at GLYPH_PX cap height.

    top is the mask's first row relative to the cap line (negative for ink above it).
    """

    mask: np.ndarray
    top: int


@lru_cache(maxsize=64)
def _pil_font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(find_font(name)), size)


@lru_cache(maxsize=64)
def _cap_metrics(name: str) -> tuple[int, int]:
    """Font size that gives GLYPH_PX cap height, and where the cap line sits in a rendered canvas."""
    probe = _pil_font(name, 100)
    _, top, _, bottom = probe.getbbox("H")
    size = max(8, round(100 * GLYPH_PX / max(bottom - top, 1)))
    # Pillow types the box as float for fractional stroke widths; with no stroke it is whole pixels
    top = cast(int, _pil_font(name, size).getbbox("H")[1])
    return size, top


@dataclass(frozen=True)
class DieShapes:
    """Glyph shapes of plate dies (US, Brazil's grey plates) that no registry font has; readers trained without
    them misread the real ones (the crossbarred I as T; W and M, squeezed to the width of every other character, as
    H; the die's W, upright sides and a middle apex at half height, as H or M; the 1 that is a bare bar, flagged or
    not, as I; the 0 drawn as a rounded box with straight sides, and the grey plates' O, the same box, as D)."""

    serif_i: bool = False
    monospaced: bool = False
    die_w: bool = False
    flag_one: bool = False
    bare_one: bool = False
    zero_o: bool = False
    box_zero: bool = False


FONT_SHAPES = DieShapes()
WIDE_LETTERS = "MW"
DIE_CELL = 1.1  # a die's character cell, in widths of the font's H
DIE_W_APEX = 0.45  # how far the middle apex of a die's W rises, in cap heights
ALIKE_INK = 0.05  # share of two glyphs' ink that may differ for draws_alike to call them one shape
BOX_ZERO_POWER = 4.0  # superellipse exponent of a die's boxed 0: 2 is an ellipse, higher is squarer


@lru_cache(maxsize=8192)
def glyph(font: str, char: str, stroke: int = 0, die: DieShapes = FONT_SHAPES) -> Glyph:
    """The char's ink at GLYPH_PX cap height, with die shapes replacing the font's I, 1, O or W where asked."""
    if die.serif_i and char == "I":
        return _serifed_i(glyph(font, "I", stroke))
    if die.flag_one and char == "1":
        return _flag_one(glyph(font, "I", stroke))
    if die.bare_one and char == "1":
        return glyph(font, "I", stroke)
    if die.zero_o and char == "O":
        return glyph(font, "0", stroke, die)
    if die.box_zero and char == "0":
        return _box_zero(glyph(font, "I", stroke), glyph(font, "0", stroke).mask.shape[1])
    if die.die_w and char == "W":
        return _die_w(glyph(font, "I", stroke), _die_cell(font, stroke))
    if die.monospaced and char in WIDE_LETTERS:
        return _die_width(glyph(font, char, stroke), _die_cell(font, stroke))
    size, cap_top = _cap_metrics(font)
    pil_font = _pil_font(font, size)
    canvas_h = int(GLYPH_PX * 2)
    canvas_w = int(size * 1.6) + 4 * stroke
    image = Image.new("L", (canvas_w, canvas_h), 0)
    ImageDraw.Draw(image).text((2 * stroke, 0), char, font=pil_font, fill=255, stroke_width=stroke, stroke_fill=255)
    ink = np.asarray(image)
    ys, xs = np.nonzero(ink > 8)
    if len(xs) == 0:
        raise FontNotFoundError(f"font {font!r} has no glyph for {char!r}")
    mask = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return Glyph(mask=np.ascontiguousarray(mask), top=int(ys.min()) - cap_top)


@lru_cache(maxsize=4096)
def draws_alike(font: str, a: str, b: str, stroke: int = 0, die: DieShapes = FONT_SHAPES) -> bool:
    """Whether the face (with its die shapes) draws a and b as one shape: the same size to a pixel, and their
    inks, at one size, differing in under ALIKE_INK of their pixels. At a plate crop's character height (about half
    GLYPH_PX) both are less than a pixel's anti-aliasing, so no image can tell them apart (RG2014B's 0 is one
    pixel wider than its O here)."""
    first, second = glyph(font, a, stroke, die), glyph(font, b, stroke, die)
    size_a, size_b = np.array(first.mask.shape), np.array(second.mask.shape)
    if np.abs(size_a - size_b).max() > 1 or first.top != second.top:
        return False
    ink_a = first.mask > 127
    ink_b = cv2.resize(second.mask, (int(size_a[1]), int(size_a[0])), interpolation=cv2.INTER_AREA) > 127
    return bool((ink_a ^ ink_b).sum() < ALIKE_INK * (ink_a | ink_b).sum())


def _die_cell(font: str, stroke: int) -> int:
    """Width of a monospaced die's character cell, px at GLYPH_PX cap height."""
    width: int = glyph(font, "H", stroke).mask.shape[1]
    return round(DIE_CELL * width)


def _serifed_i(bar: Glyph) -> Glyph:
    height, stroke = bar.mask.shape
    width = max(stroke * 3, round(0.42 * GLYPH_PX))
    thick = max(2, round(stroke * 0.8))
    mask = np.zeros((height, width), np.uint8)
    left = (width - stroke) // 2
    mask[:, left : left + stroke] = bar.mask
    mask[:thick] = 255
    mask[height - thick :] = 255
    return Glyph(mask=mask, top=bar.top)


def _flag_one(bar: Glyph) -> Glyph:
    """A 1 drawn as the font's bar with a short flag falling to the left from its top, and no base."""
    height, stroke = bar.mask.shape
    flag = max(stroke, round(0.18 * height))
    mask = np.zeros((height, flag + stroke), np.uint8)
    mask[:, flag:] = bar.mask
    cv2.line(
        mask, (flag + stroke // 2, stroke // 2), (stroke // 2, flag), 255, max(1, round(0.8 * stroke)), cv2.LINE_AA
    )
    return Glyph(mask=mask, top=bar.top)


def _die_w(bar: Glyph, width: int) -> Glyph:
    """The W of US dies: two near-upright sides and a short middle V, strokes as thick as the font's I."""
    height, stroke = bar.mask.shape
    scale = 4  # drawn large and shrunk, for anti-aliased edges
    big = np.zeros((height * scale, width * scale), np.uint8)
    s, w, h = stroke * scale, width * scale, height * scale
    foot_l, foot_r, apex = 0.3 * w, 0.7 * w, (1 - DIE_W_APEX) * h
    strokes = [
        ((s / 2, 0), (foot_l, h - s / 2)),
        ((w - s / 2, 0), (foot_r, h - s / 2)),
        ((foot_l, h - s / 2), (w / 2, apex)),
        ((w / 2, apex), (foot_r, h - s / 2)),
    ]
    for start, end in strokes:
        cv2.line(big, tuple(round(v) for v in start), tuple(round(v) for v in end), 255, max(1, round(s)))
    mask = cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA)
    return Glyph(mask=mask, top=bar.top)


def _box_zero(bar: Glyph, width: int) -> Glyph:
    """A 0 as a rounded box: straight sides joined by tight curves (a superellipse ring), strokes as the font's I."""
    height, stroke = bar.mask.shape
    scale = 4  # drawn large and shrunk, for anti-aliased edges
    ys, xs = np.mgrid[0 : height * scale, 0 : width * scale].astype(np.float32) + 0.5
    x, y = np.abs(xs / scale - width / 2), np.abs(ys / scale - height / 2)

    def inside(half_w: float, half_h: float) -> np.ndarray:
        within: np.ndarray = (x / half_w) ** BOX_ZERO_POWER + (y / half_h) ** BOX_ZERO_POWER <= 1
        return within

    thin = 0.85 * stroke  # tops and bottoms of die characters are a little thinner than their sides
    ring = inside(width / 2, height / 2) & ~inside(max(width / 2 - stroke, 1), max(height / 2 - thin, 1))
    mask = cv2.resize(ring.astype(np.uint8) * 255, (width, height), interpolation=cv2.INTER_AREA)
    return Glyph(mask=mask, top=bar.top)


def _die_width(font_glyph: Glyph, cell: int) -> Glyph:
    """A wide letter squeezed into the cell every character gets on a monospaced die."""
    height, width = font_glyph.mask.shape
    if width <= cell:
        return font_glyph
    return Glyph(mask=cv2.resize(font_glyph.mask, (cell, height), interpolation=cv2.INTER_AREA), top=font_glyph.top)


def text_mask(font: str, text: str, spacing: float = 0.08) -> np.ndarray:
    """A whole word as one mask at GLYPH_PX cap height (printed text such as state names)."""
    glyphs = [glyph(font, ch) if ch != " " else None for ch in text]
    gap = max(1, int(spacing * GLYPH_PX))
    space = int(0.35 * GLYPH_PX)
    top = min((g.top for g in glyphs if g), default=0)
    bottom = max((g.top + g.mask.shape[0] for g in glyphs if g), default=GLYPH_PX)
    width = sum((g.mask.shape[1] if g else space) + gap for g in glyphs)
    out = np.zeros((bottom - top, max(width, 1)), np.uint8)
    x = 0
    for g in glyphs:
        if g is None:
            x += space + gap
            continue
        y = g.top - top
        h, w = g.mask.shape
        np.maximum(out[y : y + h, x : x + w], g.mask, out=out[y : y + h, x : x + w])
        x += w + gap
    return out[:, : max(x - gap, 1)]
