"""Text -> a clean, flat plate image with the box of every character.

The static part of a style (background, graphics, border, fixed printed text) is drawn once per size and cached;
per plate only the characters, stickers and optional printed text are drawn, which keeps rendering cheap. A style
that draws graphics or printed text per plate draws them on a copy of its static layer, and its border and bolt holes
after them (blank_plate).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import cv2
import numpy as np

from platelab.synth.fonts import FONT_SHAPES, GLYPH_PX, DieShapes, draws_alike, glyph, style_fonts, text_mask
from platelab.synth.formats import read_as_by_country
from platelab.synth.graphics import blend_colour, hex_to_bgr, paint
from platelab.synth.specialty import Decoration, decorate, pick_emblem, style_specialty
from platelab.synth.style import (
    LABEL_FONT,
    SEPARATORS,
    Graphic,
    PlateFormat,
    PlateStyle,
    PrintedText,
    TextRow,
    text_positions,
)

T = TypeVar("T")
BACKGROUND_VARIANTS = 4  # random graphics (ridges, trees) are drawn in a few variants per style and size
SEPARATOR_WIDTH = {"dash": 0.4, "gap": 0.45, "dot": 0.3}  # a "_" emblem gap: the style's gap_width
STACK_SHARE = 0.45  # a stacked code's character height / the row's, for one or two characters
STACK_GAP = 0.05  # the least gap between stacked characters / the row's character height


@dataclass(frozen=True)
class RenderedPlate:
    """A plate as printed: BGR image, its text (A-Z0-9 only) and one box (x0, y0, x1, y1) per character."""

    image: np.ndarray
    text: str
    char_boxes: np.ndarray
    style: PlateStyle
    font: str = ""
    separators: list[tuple[str, tuple[float, float, float, float]]] = field(default_factory=list)


@dataclass(frozen=True)
class Token:
    kind: str  # "char", "stack" or a separator kind
    chars: str = ""


def plate_size(style: PlateStyle, height: int) -> tuple[int, int]:
    return round(height * style.aspect), height


def tokenize(pattern: str) -> list[Token]:
    """Pattern -> tokens: alphabet positions, separators, and stacked groups in parentheses."""
    tokens, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "(":
            end = pattern.index(")", i)
            tokens.append(Token("stack", pattern[i + 1 : end]))
            i = end + 1
            continue
        tokens.append(Token(SEPARATORS[ch]) if ch in SEPARATORS else Token("char", ch))
        i += 1
    return tokens


def _fill(tokens: list[Token], alphabets: dict[str, str], rng: np.random.Generator) -> list[Token]:
    def pick(name: str) -> str:
        letters = alphabets[name]
        return letters[rng.integers(len(letters))]

    return [Token(t.kind, "".join(pick(c) for c in t.chars)) if t.kind in ("char", "stack") else t for t in tokens]


def _matches(pattern: str, alphabets: dict[str, str], text: str) -> bool:
    positions = text_positions(pattern, alphabets)
    return len(positions) == len(text) and all(c in alphabets[p] for p, c in zip(positions, text))


def _as_written(pattern: list[Token], filled: list[Token], alphabets: dict[str, str],
                written_as: dict[str, str]) -> list[Token]:
    """filled with each character in written_as replaced by how it is written, where its position allows that."""
    def written(name: str, char: str) -> str:
        return written_as[char] if char in written_as and written_as[char] in alphabets[name] else char

    return [Token("char", written(p.chars, t.chars)) if t.kind == "char" else t for p, t in zip(pattern, filled)]


def _format_for_text(style: PlateStyle, text: str, rng: np.random.Generator) -> tuple[PlateFormat, list[list[Token]]]:
    """The style's first format that can hold text, filled with it; a plain one-row format otherwise."""
    alphabets = style.all_alphabets
    for fmt in style.formats:
        if _matches("".join(fmt.patterns), alphabets, text):
            rest = iter(text)
            rows = [_fill(tokenize(pattern), alphabets, rng) for pattern in fmt.patterns]
            return fmt, [[Token("char", next(rest)) if t.kind == "char" else t for t in row] for row in rows]
    return PlateFormat(patterns=["A" * len(text)], rows=[style.rows[0]]), [[Token("char", c) for c in text]]


def _decorated(
    tokens: list[Token], decoration: Decoration, alphabets: dict[str, str], rng: np.random.Generator
) -> list[Token]:
    """The row's tokens with the decoration's stacked codes at its ends and emblem gap after a character, unless
    the format has an emblem gap already: a plate's row carries one emblem (Wyoming's horse, New Mexico's Zia)."""
    emblem = SEPARATORS["_"]
    middle_gap = -1 if any(token.kind == emblem for token in tokens) else decoration.middle_gap
    out, seen = [], 0
    for token in tokens:
        out.append(token)
        seen += token.kind == "char"
        if token.kind == "char" and seen == middle_gap:
            out.append(Token(emblem))

    def stacked(code: str) -> list[Token]:
        return _fill([Token("stack", code)], alphabets, rng) if code else []

    return stacked(decoration.prefix) + out + stacked(decoration.suffix)


def _paint_in_box(
    canvas: np.ndarray, box: tuple[float, float, float, float], g: Graphic, rng: np.random.Generator
) -> None:
    x0, y0, x1, y1 = (max(0, round(v)) for v in box)
    region = canvas[y0:y1, x0:x1]
    if region.size:
        paint(region, g, rng)


def choose(rng: np.random.Generator, items: Sequence[T], weights: Sequence[float]) -> T:
    """One item drawn with probability proportional to its weight (one uniform draw; rng.choice(p=...) is slow)."""
    cumulative = np.cumsum(weights)
    return items[min(int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")), len(items) - 1)]


# -- static layer -------------------------------------------------------------------------------------------


def draw_mask(
    canvas: np.ndarray, mask: np.ndarray, x: int, y: int, colour: tuple[int, int, int], opacity: float = 1.0
) -> None:
    """Alpha-blend a mask's ink in colour with its top-left corner at (x, y), clipped to the canvas."""
    h, w = mask.shape
    cx0, cy0 = max(x, 0), max(y, 0)
    cx1, cy1 = min(x + w, canvas.shape[1]), min(y + h, canvas.shape[0])
    if cx1 <= cx0 or cy1 <= cy0:
        return
    blend_colour(canvas[cy0:cy1, cx0:cx1], mask[cy0 - y : cy1 - y, cx0 - x : cx1 - x], colour, opacity)


def _stamp(ink: np.ndarray, mask: np.ndarray, x: int, y: int) -> None:
    """Add a mask's ink into a canvas-sized ink layer, clipped to it."""
    h, w = mask.shape
    cx0, cy0 = max(x, 0), max(y, 0)
    cx1, cy1 = min(x + w, ink.shape[1]), min(y + h, ink.shape[0])
    if cx1 > cx0 and cy1 > cy0:
        region = ink[cy0:cy1, cx0:cx1]
        np.maximum(region, mask[cy0 - y : cy1 - y, cx0 - x : cx1 - x], out=region)


def _italic(mask: np.ndarray, slant: float = 0.2) -> np.ndarray:
    h, w = mask.shape
    shift = int(slant * h)
    matrix = np.array([[1, -slant, shift], [0, 1, 0]], np.float32)
    return cv2.warpAffine(mask, matrix, (w + shift, h))


def draw_printed(canvas: np.ndarray, printed: PrintedText, text: str) -> None:
    h, w = canvas.shape[:2]
    mask = text_mask(printed.font or LABEL_FONT, text)
    if printed.italic:
        mask = _italic(mask)
    if printed.vertical:
        mask = np.rot90(mask, -1)
        scale = printed.height * h / max(mask.shape[1], 1)
        size = (
            max(1, round(mask.shape[1] * scale)),
            max(1, min(round(mask.shape[0] * scale), round(printed.max_width * h))),
        )
    else:
        scale = printed.height * h / GLYPH_PX
        size = (
            max(1, min(round(mask.shape[1] * scale), round(printed.max_width * w))),
            max(1, round(mask.shape[0] * scale)),
        )
    mask = cv2.resize(mask, size, interpolation=cv2.INTER_AREA)
    anchor = printed.x * w
    x = anchor - size[0] / 2 if printed.align == "center" else anchor if printed.align == "left" else anchor - size[0]
    draw_mask(canvas, mask, round(x), round(printed.y * h - size[1] / 2), hex_to_bgr(printed.colour))


def _background(style: PlateStyle, width: int, height: int) -> np.ndarray:
    canvas = np.empty((height, width, 3), np.uint8)
    if style.background.gradient:
        ys = np.linspace(0, 1, height)
        stops = style.background.gradient
        for channel in range(3):
            values = [hex_to_bgr(c)[channel] for _, c in stops]
            canvas[:, :, channel] = np.interp(ys, [y for y, _ in stops], values).astype(np.uint8)[:, None]
    else:
        canvas[:] = hex_to_bgr(style.background.colour)
    return canvas


def _is_static(item: Graphic | PrintedText) -> bool:
    if isinstance(item, PrintedText):
        return item.probability == 1.0 and len(item.text) == 1
    return item.probability == 1.0 and item.text is None


_static_cache: dict[tuple[str, int, int], np.ndarray] = {}
# id -> (style, content hash): the style is held so its id cannot be reused by another object meanwhile
_fingerprints: dict[int, tuple[PlateStyle, str]] = {}
STATIC_HEIGHTS = (64, 128, 256, 512)  # the static layer is drawn at the next of these and scaled down
HIDDEN_SHARE = 0.08  # a sticker may cover this much of a character box (a corner of its margin), no more


def _fingerprint(style: PlateStyle) -> str:
    """The style's content hash: edited copies of a style share its name but must not share its drawings."""
    entry = _fingerprints.get(id(style))
    if entry is None or entry[0] is not style:
        entry = (style, hashlib.sha1(style.model_dump_json().encode()).hexdigest())
        _fingerprints[id(style)] = entry
    return entry[1]


def _varies(style: PlateStyle) -> bool:
    """Whether the style prints graphics or text per plate. Its border and bolt holes, which lie on top of all its
    print as on a real plate, are then drawn per plate after them rather than cached in its static layer."""
    return any(not _is_static(g) for g in style.background.graphics) or any(not _is_static(p) for p in style.printed)


def static_layer(style: PlateStyle, bucket: int, variant: int) -> np.ndarray:
    """Background, static graphics, fixed printed text, border and bolt holes at one of STATIC_HEIGHTS (the cache's
    own array: copy it to draw on it); no border nor bolt holes where the style _varies."""
    key = (_fingerprint(style), bucket, variant)
    layer = _static_cache.get(key)
    if layer is None:
        layer = _draw_static_layer(style, bucket, variant)
        _static_cache[key] = layer
    return layer


def blank_plate(style: PlateStyle, height: int, rng: np.random.Generator) -> np.ndarray:
    """Everything on the plate but its characters, at height px (a fresh array).

    The graphics and printed texts a style draws per plate go on a copy of its static layer, at that layer's height,
    before its border and bolt holes (on a real plate the rim and the holes lie on top of the print); the whole is
    then scaled as the static layer alone is, so a plate that draws none of them is the static layer as it was
    cached with its border and holes, pixel for pixel.
    """
    bucket = next((h for h in STATIC_HEIGHTS if h >= height), STATIC_HEIGHTS[-1])
    layer = static_layer(style, bucket, int(rng.integers(BACKGROUND_VARIANTS)))
    if _varies(style):
        layer = layer.copy()
        for g in style.background.graphics:
            if not _is_static(g) and rng.random() < g.probability:
                paint(layer, g, rng)
        for printed in style.printed:
            if not _is_static(printed) and rng.random() < printed.probability:
                draw_printed(layer, printed, printed.text[rng.integers(len(printed.text))])
        _draw_frame(layer, style)
    if bucket == height:
        return layer.copy()
    return cv2.resize(layer, plate_size(style, height), interpolation=cv2.INTER_LINEAR)


def _draw_static_layer(style: PlateStyle, height: int, variant: int) -> np.ndarray:
    width, height = plate_size(style, height)
    canvas = _background(style, width, height)
    rng = np.random.default_rng(variant)
    for g in style.background.graphics:
        if _is_static(g):
            paint(canvas, g, rng)
    for printed in style.printed:
        if _is_static(printed):
            draw_printed(canvas, printed, printed.text[0])
    if not _varies(style):
        _draw_frame(canvas, style)
    return canvas


def _draw_frame(canvas: np.ndarray, style: PlateStyle) -> None:
    """The style's border and bolt holes, sized to the canvas."""
    height, width = canvas.shape[:2]
    if style.border:
        b = style.border
        inset, line = b.inset * height + b.width * height / 2, max(1, round(b.width * height))
        radius = round(b.radius * height)
        x0, y0, x1, y1 = round(inset), round(inset), round(width - 1 - inset), round(height - 1 - inset)
        colour = hex_to_bgr(b.colour)
        for p0, p1 in (
            ((x0 + radius, y0), (x1 - radius, y0)),
            ((x0 + radius, y1), (x1 - radius, y1)),
            ((x0, y0 + radius), (x0, y1 - radius)),
            ((x1, y0 + radius), (x1, y1 - radius)),
        ):
            cv2.line(canvas, p0, p1, colour, line, cv2.LINE_AA)
        for centre, angle in (
            ((x0 + radius, y0 + radius), 180),
            ((x1 - radius, y0 + radius), 270),
            ((x1 - radius, y1 - radius), 0),
            ((x0 + radius, y1 - radius), 90),
        ):
            cv2.ellipse(canvas, centre, (radius, radius), angle, 0, 90, colour, line, cv2.LINE_AA)
    for bx, by in style.bolt_holes:
        axes = (max(1, round(0.035 * height)), max(1, round(0.022 * height)))
        cv2.ellipse(canvas, (round(bx * width), round(by * height)), axes, 0, 0, 360, (60, 60, 60), -1, cv2.LINE_AA)


# -- characters ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Placed:
    token: Token
    width: float  # in units of character height


def _stack_share(count: int) -> float:
    """The character height of a stacked code of count characters / the row's: STACK_SHARE for one or two; three or
    more shrink to fit the row's height with STACK_GAP between them (0.3 each for three)."""
    return min(STACK_SHARE, (1 - STACK_GAP * (count - 1)) / count)


def _glyph_width(font: str, char: str, stroke: int, condense: float, die: DieShapes, share: float = 1.0) -> float:
    """The width of char drawn share of the character height high, in units of character height."""
    width_px: int = glyph(font, char, stroke, die).mask.shape[1]
    return share * width_px / GLYPH_PX * condense


def _layout_row(
    tokens: list[Token],
    font: str,
    stroke: int,
    condense: float,
    spacing: float,
    gap_width: float,
    die: DieShapes = FONT_SHAPES,
) -> list[_Placed]:
    placed = []
    for token in tokens:
        if token.kind == "char":
            placed.append(_Placed(token, _glyph_width(font, token.chars, stroke, condense, die)))
        elif token.kind == "stack":
            share = _stack_share(len(token.chars))
            placed.append(_Placed(token, max(_glyph_width(font, c, stroke, condense, die, share) for c in token.chars)))
        else:
            width = gap_width if token.kind == "emblem" else SEPARATOR_WIDTH[token.kind]
            placed.append(_Placed(token, width - spacing))
    return placed


def _draw_glyph(
    ink: np.ndarray,
    font: str,
    char: str,
    stroke: int,
    box: tuple[float, float, float, float],
    die: DieShapes = FONT_SHAPES,
) -> tuple[float, float, float, float]:
    """Stamp char into the ink layer, scaled so its cap height fills box; returns the ink box it covers."""
    g = glyph(font, char, stroke, die)
    x0, y0, x1, y1 = box
    scale_y = (y1 - y0) / GLYPH_PX
    w = max(1, round(x1 - x0))
    h = max(1, round(g.mask.shape[0] * scale_y))
    # area averaging only where linear would alias: it costs ~3x more
    mask = cv2.resize(g.mask, (w, h), interpolation=cv2.INTER_AREA if scale_y < 0.5 else cv2.INTER_LINEAR)
    top = round(y0 + g.top * scale_y)
    _stamp(ink, mask, round(x0), top)
    return x0, top, x0 + w, top + h


def _draw_separator(ink: np.ndarray, kind: str, box: tuple[float, float, float, float]) -> None:
    x0, y0, x1, y1 = box
    cx, cy, ch = (x0 + x1) / 2, (y0 + y1) / 2, y1 - y0
    if kind == "dash":
        cv2.rectangle(
            ink,
            (round(x0 + 0.05 * ch), round(cy - 0.05 * ch)),
            (round(x1 - 0.05 * ch), round(cy + 0.05 * ch)),
            255,
            -1,
            cv2.LINE_AA,
        )
    elif kind == "dot":
        cv2.circle(ink, (round(cx), round(cy)), max(1, round(0.07 * ch)), 255, -1, cv2.LINE_AA)


def _draw_row(
    ink: np.ndarray,
    tokens: list[Token],
    row: TextRow,
    font: str,
    stroke: int,
    condense: float,
    spacing: float,
    gap_width: float,
    scale: float = 1.0,
    die: DieShapes = FONT_SHAPES,
) -> tuple[list[tuple[float, float, float, float]], list[tuple[str, tuple[float, float, float, float]]]]:
    h, w = ink.shape[:2]
    char_h = min(row.height * scale, 0.95) * h
    placed = _layout_row(tokens, font, stroke, condense, spacing, gap_width, die)
    units = sum(p.width for p in placed) + spacing * (len(placed) - 1)
    # larger text may use a little more of the width, as embossers and designers do
    grow = max(0.0, scale - 1.0) * 0.5 * min(row.x0, 1 - row.x1)
    room = (row.x1 - row.x0 + 2 * grow) * w
    squeeze = min(1.0, room / max(units * char_h, 1))  # over-long text is condensed, never shrunk in height
    total = units * char_h * squeeze
    left = (row.x0 - grow) * w
    if row.align == "center":
        left += (room - total) / 2
    elif row.align == "right":
        left += room - total
    # a row the style puts at the plate's edge, drawn larger (text_scale), is moved inward rather than cut off by
    # the edge under its label; the style's rows are on the plate at its own height, so those at it stay put
    y0 = min(max(row.y * h - char_h / 2, 0.0), h - char_h)
    boxes, separators, x = [], [], left
    for p in placed:
        width = p.width * char_h * squeeze
        if p.token.kind == "char":
            boxes.append(_draw_glyph(ink, font, p.token.chars, stroke, (x, y0, x + width, y0 + char_h), die))
        elif p.token.kind == "stack":
            chars = p.token.chars
            share = _stack_share(len(chars))
            small = char_h * share
            for i, c in enumerate(chars):
                top = y0 + i * (char_h - small) / (len(chars) - 1) if len(chars) > 1 else y0 + (char_h - small) / 2
                # each at its own width, centred in the column, as the row's characters are drawn: stretched to the
                # widest one's width, an I would be a block
                own = _glyph_width(font, c, stroke, condense, die, share) * char_h * squeeze
                glyph_left = x + (width - own) / 2
                _draw_glyph(ink, font, c, stroke, (glyph_left, top, glyph_left + own, top + small), die)
        else:
            _draw_separator(ink, p.token.kind, (x, y0, x + width, y0 + char_h))
            separators.append((p.token.kind, (x, y0, x + width, y0 + char_h)))
        x += width + spacing * char_h * squeeze
    return boxes, separators


def _draw_graphic_text(canvas: np.ndarray, g: Graphic, text: str) -> None:
    printed = PrintedText(
        text=[text],
        x=g.x + g.w / 2,
        y=g.y + g.h / 2,
        height=g.h * 0.6,
        colour=g.colour2 or "#000000",
        max_width=g.w * 0.9,
    )
    draw_printed(canvas, printed, text)


def warp_ink(ink: np.ndarray, rng: np.random.Generator, char_height: float, amount: float) -> tuple[np.ndarray, float]:
    """The ink layer bent by a smooth random field (nodes half a character apart across, one character down);
    returns it and the largest shift.

    No installable face is a plate die: bending each glyph a little (amount: the field's spread as a fraction of
    char_height) shows the network shapes between the faces it has, so it learns a letter's strokes, not a font.
    """
    h, w = ink.shape
    across, down = max(char_height * 0.5, 2.0), max(char_height, 2.0)
    grid = (int(np.ceil(h / down)) + 1, int(np.ceil(w / across)) + 1)
    field = rng.normal(0.0, amount * char_height, (2, *grid)).astype(np.float32)
    dx, dy = (cv2.resize(f, (w, h), interpolation=cv2.INTER_CUBIC) for f in field)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    bent = cv2.remap(ink, xs + dx, ys + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return bent, float(max(np.abs(dx).max(), np.abs(dy).max()))


def _hides_a_character(before: np.ndarray, after: np.ndarray, boxes: Sequence[Sequence[float]]) -> bool:
    """Whether what was drawn between before and after covers more than HIDDEN_SHARE of a character's box."""
    changed = np.any(before != after, axis=-1)
    for x0, y0, x1, y1 in boxes:
        region = changed[max(int(y0), 0) : max(int(np.ceil(y1)), 0), max(int(x0), 0) : max(int(np.ceil(x1)), 0)]
        if region.size and region.mean() > HIDDEN_SHARE:
            return True
    return False


def render_plate(
    style: PlateStyle,
    rng: np.random.Generator,
    height: int = 96,
    text: str | None = None,
    text_scale: tuple[float, float] = (1.0, 1.0),
    glyph_warp: float = 0.0,
) -> RenderedPlate:
    """Render one flat plate of style at height pixels; a random text from the style's formats unless given.

    text_scale scales the characters' height around the style's value (plates of one design vary by issue year
    and maker); glyph_warp > 0 bends the characters (see warp_ink). A style that is not a PlateStyle, a height
    under a pixel or a text with a character none of the style's alphabets holds is an error naming it.
    """
    if not isinstance(style, PlateStyle):  # a style's name is the likely slip
        raise TypeError(f"style must be a PlateStyle (builtin_styles()[name] or load_style(path)), got {style!r}")
    if height < 1:
        raise ValueError(f"height must be 1 pixel or more, got {height}")
    alphabets = style.all_alphabets
    if text is not None and (foreign := sorted(set(text) - set("".join(alphabets.values())))):
        raise ValueError(f"text {text!r}: {''.join(foreign)!r} in no alphabet of style {style.name}")
    canvas = blank_plate(style, height, rng)

    if text is None:
        fmt = choose(rng, style.formats, [f.weight for f in style.formats])
        rows_tokens = [_fill(tokenize(p), alphabets, rng) for p in fmt.patterns]
    else:
        fmt, rows_tokens = _format_for_text(style, text, rng)
    fonts = style_fonts(style)
    font_choice = choose(rng, fonts, [f.weight for f in fonts])
    stroke = int(rng.integers(font_choice.stroke[0], font_choice.stroke[1] + 1))
    condense = float(rng.uniform(*font_choice.condense))
    colours = [style.text_colour, *style.text_colours]
    colour = hex_to_bgr(colours[rng.integers(len(colours))])

    scale = float(rng.uniform(*text_scale))
    one_draw = rng.random()
    die = DieShapes(
        serif_i=bool(rng.random() < font_choice.serif_i),
        monospaced=bool(rng.random() < font_choice.monospaced),
        die_w=bool(rng.random() < font_choice.die_w),
        flag_one=bool(one_draw < font_choice.flag_one),
        bare_one=bool(font_choice.flag_one <= one_draw < font_choice.flag_one + font_choice.bare_one),
        zero_o=bool(rng.random() < font_choice.zero_o),
        box_zero=bool(rng.random() < font_choice.box_zero),
    )
    # A face that stamps O and 0 from one shape leaves only the country's way of writing it to tell them apart (US
    # labels write it 0 where a 0 can stand), so a label never asks for what no image shows.
    if text is None:
        written_as = {read: written for read, written in read_as_by_country().get(style.prior_country, {}).items()
                      if draws_alike(font_choice.file, read, written, stroke, die)}
        if written_as:
            rows_tokens = [_as_written(tokenize(p), tokens, alphabets, written_as)
                           for p, tokens in zip(fmt.patterns, rows_tokens)]
    rows = list(fmt.rows or style.rows)
    specialty = style_specialty(style)
    emblem_box = None
    if specialty is not None and len(rows_tokens) == 1:
        decoration = decorate(specialty, rows[0], sum(t.kind == "char" for t in rows_tokens[0]), rng)
        rows[0], emblem_box = decoration.row, decoration.emblem_box
        rows_tokens[0] = _decorated(rows_tokens[0], decoration, alphabets, rng)
    boxes, separators = [], []
    ink = np.zeros(canvas.shape[:2], np.uint8)
    for tokens, row in zip(rows_tokens, rows):
        spacing = float(rng.uniform(*row.spacing))
        row_boxes, row_separators = _draw_row(ink, tokens, row, font_choice.file, stroke, condense, spacing,
                                              style.gap_width, scale, die)
        boxes += row_boxes
        separators += row_separators
    if glyph_warp > 0 and boxes:
        char_height = float(np.median([b[3] - b[1] for b in boxes]))
        ink, shift = warp_ink(ink, rng, char_height, glyph_warp)
        boxes = [(x0 - shift, y0 - shift, x1 + shift, y1 + shift) for x0, y0, x1, y1 in boxes]
    if style.emboss > 0:  # pressed metal: a dark edge below-right and a light one above-left of each stroke
        offset = max(1, round(height * 0.015))
        draw_mask(canvas, ink, offset, offset, (40, 40, 40), 0.5 * style.emboss)
        draw_mask(canvas, ink, -offset, -offset, (235, 235, 235), 0.35 * style.emboss)
    draw_mask(canvas, ink, 0, 0, colour)
    h, w = canvas.shape[:2]
    for kind, box in separators:
        if kind == "emblem":
            gap_graphics = style.gap_graphics or ([pick_emblem(specialty, rng)] if specialty else [])
            for g in gap_graphics:
                if rng.random() < g.probability:
                    _paint_in_box(canvas, box, g, rng)
    if emblem_box is not None and specialty is not None:
        half = 0.6 * rows[0].height * h
        box = (emblem_box[0] * w, rows[0].y * h - half, emblem_box[1] * w, rows[0].y * h + half)
        _paint_in_box(canvas, box, pick_emblem(specialty, rng), rng)

    for g in style.overlays:
        if rng.random() < g.probability:
            # drawn on a copy first: a sticker that would hide part of a character is left off, or the label would
            # name what the image no longer shows (its random draws are made all the same, so the rest stays)
            stuck = canvas.copy()
            paint(stuck, g, rng)
            if g.text:
                filler = _fill(
                    [Token("char", g.text)],
                    {**alphabets, **{c: c for c in g.text if c not in alphabets}},
                    rng,
                )
                _draw_graphic_text(stuck, g, filler[0].chars)
            if not _hides_a_character(canvas, stuck, boxes):
                canvas = stuck

    plate_text = "".join(t.chars for tokens in rows_tokens for t in tokens if t.kind == "char")
    return RenderedPlate(
        canvas, plate_text, np.array(boxes, np.float32).reshape(-1, 4), style, font_choice.file, separators
    )
