"""Plate styles as data: the pydantic schema of one style file and its loader.

Positions and sizes are fractions of the plate (x of its width, y and heights of its height) so one style
renders at any resolution. Colours are "#rrggbb" strings.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Sequence
from fnmatch import fnmatch
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, TypeAlias

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from platelab.predict.decode import AUTO_PRIOR
from platelab.synth.spans import Span, check_colour
from platelab.utils.config_file import file_fields, load_model_file
from platelab.utils.errors import ConfigError, shown

STYLES_DIR = Path(__file__).parent / "styles"
STYLE_SUFFIXES = (".yaml", ".yml")
# A region or country names a format prior (`--prior`, chosen in lower case) and fills the labels' state column
REGION_CODE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")

DEFAULT_ALPHABETS: dict[str, str] = {
    "L": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "N": "0123456789",
    "A": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
}
# Printed in a pattern but never part of the plate's text: a dash, a gap, a middle dot, an emblem gap.
SEPARATORS = {"-": "dash", " ": "gap", "·": "dot", "_": "emblem"}
LABEL_FONT = "DejaVuSansCondensed-Bold.ttf"  # printed text's, where its entry names none
# A label holds these only: an alphabet may draw nothing else (a plate's glyphs, the recognizer's charset).
PLATE_CHARACTERS = re.compile(r"[A-Z0-9]+")
# Plates' width / height, with a margin around the real ones: square-ish motorcycle plates (about 1.2) to the
# EU's long single-row plates (520 x 110 mm, 4.7)
ASPECT_RANGE = (0.5, 6.0)
# Positions and sizes in fractions of the plate (or of a graphic's box): a little beyond it may be drawn (a
# graphic cut by the plate's edge), not so far that drawing it would need an image many times the plate's size
Fraction: TypeAlias = Annotated[float, Field(ge=-1.0, le=2.0)]
# Horizontal scale of a glyph: the shipped fonts use 0.65 to 1.3; beyond these a face is no longer itself
CondenseSpan: TypeAlias = Span[Annotated[float, Field(ge=0.5, le=2.0)]]
# Extra stroke, px at 64 px glyph height: the shipped fonts add up to 4; more closes the counters of letters
StrokeSpan: TypeAlias = Span[Annotated[int, Field(ge=0, le=8)]]
# Gap between characters / character height: the shipped rows use 0.04 to 0.16. Negative gaps overlap the
# characters (and put them off the plate), wide ones leave the text to be squeezed into the row
SpacingSpan: TypeAlias = Span[Annotated[float, Field(ge=0.0, le=0.5)]]
EmblemSpan: TypeAlias = Span[Annotated[float, Field(ge=0.0, le=0.5)]]  # a side emblem's width / plate width
PlateSide: TypeAlias = Annotated[float, Field(ge=50.0, le=1000.0)]  # mm; real plates are 100 to 520 mm a side
# Characters under this contrast with their background (WCAG 2's ratio of relative luminances, 1 to 21) barely show,
# yet are labelled: a difference of hue alone hardly survives a camera, least of all at night or in a grey crop.
# WCAG's own floor for large text, 3, would refuse real designs: New Mexico's yellow on turquoise, the least of the
# bundled styles, is 2. Embossed characters show by their shading too, but not in every light: they are held to it.
MIN_TEXT_CONTRAST = 1.5


def _unknown_alphabets(pattern: str, alphabets: dict[str, str]) -> list[str]:
    return sorted({ch for ch in pattern if ch not in alphabets})


def text_positions(pattern: str, alphabets: dict[str, str]) -> list[str]:
    """Alphabet names of the pattern's positions that belong to the plate number (stacked groups do not)."""
    positions, depth = [], 0
    for ch in pattern:
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and ch in alphabets:
            positions.append(ch)
    return positions


def relative_luminance(colour: str) -> float:
    """WCAG 2's relative luminance of a "#rrggbb" colour: 0 for black to 1 for white."""
    def linear(channel: str) -> float:
        value = int(channel, 16) / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2's contrast ratio of two "#rrggbb" colours: 1 for the same luminance to 21 for black on white."""
    high, low = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


class StyleError(ConfigError):
    """A style file that cannot be used; the message names the file and the field."""


Colour = str


class Strict(BaseModel):
    # .inf passes a lower bound alone (a weight's gt=0) and .nan a float with no bound (a gradient stop's y): an
    # infinite weight was never drawn, and a stop at nan painted the plate black under its labelled characters
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class FontChoice(Strict):
    file: str = Field(description="font file name (.ttf, .otf), found under the system, user and package font folders "
                      "and PLATELAB_FONT_DIRS, or its absolute path")
    weight: float = Field(1.0, gt=0, description="how often this font is drawn relative to the others")
    condense: CondenseSpan = Field((1.0, 1.0), description="horizontal scale range of each glyph")
    stroke: StrokeSpan = Field((0, 0), description="extra stroke width range, px at 64 px glyph height")
    serif_i: float = Field(0.0, ge=0, le=1, description="chance a plate draws I with crossbars (US dies do)")
    monospaced: float = Field(
        0.0, ge=0, le=1, description="chance a plate squeezes W and M to the other characters' width (US dies do)"
    )
    die_w: float = Field(0.0, ge=0, le=1, description="chance a plate draws the W of US dies (short middle V)")
    flag_one: float = Field(0.0, ge=0, le=1, description="chance a plate draws 1 as a bare bar with a short flag")
    bare_one: float = Field(0.0, ge=0, le=1, description="chance a plate draws 1 as a bare bar, no flag nor base")
    zero_o: float = Field(0.0, ge=0, le=1, description="chance a plate draws the letter O as its digit 0")
    box_zero: float = Field(0.0, ge=0, le=1, description="chance a plate draws 0 as a rounded box, straight sides")

    @model_validator(mode="after")
    def _one_shapes_exclusive(self) -> FontChoice:
        if self.flag_one + self.bare_one > 1:
            raise ValueError("flag_one + bare_one is the chance of a drawn 1 and cannot exceed 1")
        return self


class TextRow(Strict):
    y: float = Field(ge=0, le=1, description="vertical centre of the characters")
    height: float = Field(gt=0, le=1, description="character height")
    x0: float = Field(0.06, ge=0, le=1, description="left limit of the text")
    x1: float = Field(0.94, ge=0, le=1, description="right limit of the text")
    spacing: SpacingSpan = Field((0.06, 0.16), description="gap between characters / char height")
    align: Literal["center", "left", "right"] = "center"

    @model_validator(mode="after")
    def _on_the_plate(self) -> TextRow:
        # characters drawn past the plate's edge, or squeezed into no width, would still be labelled
        if self.x0 >= self.x1:
            raise ValueError(f"x0 {self.x0} must be left of x1 {self.x1}")
        if self.y - self.height / 2 < 0 or self.y + self.height / 2 > 1:
            raise ValueError(f"characters {self.height} high centred at y {self.y} run off the plate")
        return self


def _top_down(rows: list[TextRow] | None) -> list[TextRow] | None:
    """rows, each one's characters below the last one's: a label reads its rows in the order given, top to bottom,
    and rows that overlap draw their characters over each other."""
    for upper, lower in zip(rows or [], (rows or [])[1:]):
        if lower.y - lower.height / 2 < upper.y + upper.height / 2:
            raise ValueError(f"a row's characters ({lower.height:g} high at y {lower.y:g}) must lie below those of the "
                             f"row before it ({upper.height:g} high at y {upper.y:g}): rows are given top to bottom")
    return rows


class PlateFormat(Strict):
    """One way of writing the plate's text: one pattern per text row.

    A pattern letter is an alphabet name (L, N, A or one the style defines); '-', ' ', '·' and '_' are printed
    separators that are not part of the text ('_' leaves a gap for an emblem). Characters inside parentheses
    are stacked small, one above the other, as county and type codes on many US plates; like the separators they
    are printed but not part of the plate number (the convention of the OpenALPR benchmark labels).
    """

    patterns: list[str] = Field(min_length=1, max_length=2)
    weight: float = Field(1.0, gt=0)
    rows: list[TextRow] | None = Field(None, description="row layout for this format; style's rows otherwise")

    _rows = field_validator("rows")(_top_down)

    @field_validator("patterns")
    @classmethod
    def _groups_closed(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if not re.fullmatch(r"[^()]*(\([^()]+\)[^()]*)*", pattern):
                raise ValueError(f"pattern {shown(pattern)}: a stacked group is one '(' then ')' with characters "
                                 "between")
        return patterns


class Graphic(Strict):
    kind: str = Field(description="a drawing function registered in platelab.synth.graphics")
    x: Fraction = 0.0
    y: Fraction = 0.0
    w: Fraction = 1.0
    h: Fraction = 1.0
    colour: Colour = "#000000"
    colour2: Colour | None = None
    opacity: float = Field(1.0, ge=0, le=1)
    # trees, stars, stripes, a QR code's modules a side: the shipped graphics draw up to 40
    count: int = Field(1, ge=0, le=100)
    text: str | None = Field(None, description="printed text, or a pattern filled per plate for stickers")
    probability: float = Field(1.0, ge=0, le=1, description="chance that this graphic is drawn on a plate")

    _colours = field_validator("colour", "colour2")(lambda v: v if v is None else check_colour(v))

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        from platelab.synth.graphics import PAINTERS  # graphics draws Graphic: imported here, once both exist

        if kind not in PAINTERS:
            raise ValueError(f"unknown graphic kind {shown(kind)}; known: {', '.join(sorted(PAINTERS))}")
        return kind

    @model_validator(mode="after")
    def _text_fits(self) -> Graphic:
        # a sticker's text is printed centred in its box, 0.6 of its height high and at most 0.9 of its width wide
        # (render._draw_graphic_text): all on the plate, or it cannot be drawn
        if self.text is not None:
            if not (0 <= self.x + self.w / 2 <= 1 and 0 <= self.y + self.h / 2 <= 1):
                raise ValueError(f"text is printed at the box's centre ({self.x + self.w / 2:g}, "
                                 f"{self.y + self.h / 2:g}), which must lie on the plate")
            if not (0 < 0.6 * self.h <= 1 and 0 < 0.9 * self.w <= 1):
                raise ValueError(f"a box {self.w:g} wide and {self.h:g} high cannot hold printed text")
        return self


class PrintedText(Strict):
    """Text on the plate that is not part of the plate number: state name, slogan, website, country code."""

    text: list[str] = Field(min_length=1, description="one is chosen per plate")
    x: float = Field(0.5, ge=0, le=1, description="anchor x (centre, left edge or right edge by align)")
    y: float = Field(ge=0, le=1, description="vertical centre")
    height: float = Field(gt=0, le=1, description="cap height")
    colour: Colour = "#000000"
    align: Literal["center", "left", "right"] = "center"
    max_width: float = Field(0.9, gt=0, le=1, description="text is condensed to fit this width")
    font: str | None = Field(None, description="font file (found as the plate's fonts are); otherwise "
                             f"{LABEL_FONT}")
    italic: bool = False
    vertical: bool = False
    probability: float = Field(1.0, ge=0, le=1)

    _colours = field_validator("colour")(check_colour)


class Border(Strict):
    colour: Colour = "#000000"
    width: float = Field(0.02, ge=0, le=0.2, description="line width / plate height")
    inset: float = Field(0.02, ge=0, le=0.2, description="distance from the edge / plate height")
    radius: float = Field(0.08, ge=0, le=0.5, description="corner radius / plate height")

    _colours = field_validator("colour")(check_colour)


class Background(Strict):
    colour: Colour = "#ffffff"
    gradient: list[tuple[float, Colour]] | None = Field(None, description="vertical gradient stops (y, colour)")
    graphics: list[Graphic] = Field(default_factory=list)

    _colours = field_validator("colour")(check_colour)

    @field_validator("gradient")
    @classmethod
    def _gradient(cls, stops: list[tuple[float, str]] | None) -> list[tuple[float, str]] | None:
        if stops is None:
            return None
        if len(stops) < 2:
            raise ValueError("a gradient needs at least two stops")
        # in the order of y, which interpolating between them needs, whatever order the file gives them in
        return sorted((float(y), check_colour(c)) for y, c in stops)


class Specialty(Strict):
    """Specialty issues of a design (veterans, universities, sports teams): printed extras beside the number.

    None of them is part of the plate number, as on real plates and in the benchmark's labels: a small stacked
    type code at either end of the row, an emblem at the left that pushes the text right, an emblem between two
    characters. Emblem graphics are given in fractions of the emblem's box and take their colours from palette.
    """

    side_code: float = Field(0.0, ge=0, le=1, description="chance of a stacked code at the left or right end")
    code_patterns: list[str] = Field(
        default_factory=lambda: ["LL"], min_length=1, description="alphabets of the stacked code, one drawn per plate"
    )
    side_emblem: float = Field(0.0, ge=0, le=1, description="chance of an emblem left of the text")
    emblem_width: EmblemSpan = Field((0.14, 0.24), description="emblem width range / plate width")
    middle_emblem: float = Field(0.0, ge=0, le=1, description="chance of an emblem between two characters")
    emblems: list[Graphic] = Field(min_length=1)
    palette: list[Colour] = Field(min_length=1)

    @field_validator("palette")
    @classmethod
    def _palette(cls, colours: list[str]) -> list[str]:
        return [check_colour(c) for c in colours]


class PlateStyle(Strict):
    # the user's file it was read from (None: a bundled style), for messages that name it
    _source: Path | None = PrivateAttr(default=None)

    name: str = Field(min_length=1)
    region: str = Field(description="written in the 'state' column of labels.tsv (e.g. 'ca', 'eu-de', 'br')")
    country: str = Field("", description="groups regions for the format prior (e.g. 'us'); the region if empty")
    description: str = ""
    weight: float = Field(1.0, gt=0, description="how often the style is drawn when mixing styles")
    size_mm: tuple[PlateSide, PlateSide] = Field(description="plate width and height in millimetres")
    background: Background = Background()
    border: Border | None = None
    bolt_holes: list[tuple[Fraction, Fraction]] = Field(default_factory=list)
    # checked when not given too: the default black on a dark background is refused as any colour would be
    text_colour: Colour = Field("#000000", validate_default=True)
    text_colours: list[Colour] = Field(default_factory=list, description="alternatives to text_colour")
    emboss: float = Field(0.0, ge=0, le=1, description="strength of the pressed-metal shading of characters")
    rows: list[TextRow] = Field(min_length=1, max_length=2)
    formats: list[PlateFormat] = Field(min_length=1)
    alphabets: dict[str, Annotated[str, Field(min_length=1)]] = Field(
        default_factory=dict, description="extra or overriding pattern alphabets: one-character names, A-Z and 0-9"
    )
    fonts: str | list[FontChoice] = Field(description="a font set named in fonts.yaml, or a list of fonts")
    printed: list[PrintedText] = Field(default_factory=list)
    overlays: list[Graphic] = Field(default_factory=list, description="drawn over the text: stickers, frames")
    gap_graphics: list[Graphic] = Field(
        default_factory=list, description="drawn in every '_' gap of a format, in fractions of the gap's box"
    )
    gap_width: float = Field(0.85, gt=0, le=2, description="width of a format's '_' gap / character height")
    specialty: str | Specialty | None = Field(
        None, description="specialty-issue extras: a set named in specialty.yaml, or one given here"
    )

    _colours = field_validator("text_colour")(check_colour)
    _rows = field_validator("rows")(_top_down)

    @field_validator("region", "country")
    @classmethod
    def _code(cls, code: str, info: ValidationInfo) -> str:
        if (code or info.field_name == "region") and not REGION_CODE.fullmatch(code):
            raise ValueError(f"{shown(code)}: lower-case letters and digits, groups joined by '-' (e.g. 'ar', "
                             "'eu-de'); it names the format prior a model is read with (--prior)")
        if code == AUTO_PRIOR:
            raise ValueError(f"{shown(code)} is --prior's name for reading each plate under the country it fits best; "
                             "name the region otherwise")
        return code

    @field_validator("size_mm")
    @classmethod
    def _plate_shaped(cls, size: tuple[float, float]) -> tuple[float, float]:
        low, high = ASPECT_RANGE
        if not low <= size[0] / size[1] <= high:
            raise ValueError(f"a plate {size[0]:g} x {size[1]:g} mm is not {low:g} to {high:g} times as wide as high")
        return size

    @field_validator("alphabets")
    @classmethod
    def _alphabets(cls, alphabets: dict[str, str]) -> dict[str, str]:
        for name, letters in alphabets.items():
            if len(name) != 1 or name in SEPARATORS or name in "()":
                raise ValueError(f"alphabet {shown(name)}: a name is one character, neither a separator "
                                 f"({''.join(SEPARATORS)!r}) nor a parenthesis")
            if not PLATE_CHARACTERS.fullmatch(letters):
                raise ValueError(f"alphabet {name}: {shown(letters)} may hold only A-Z and 0-9")
        return alphabets

    @field_validator("fonts", mode="wrap")
    @classmethod
    def _fonts(cls, value: object, handler: ValidatorFunctionWrapHandler) -> str | list[FontChoice]:
        # a list is checked as one: its errors then name their own field (fonts.0.file), where the union's would
        # start with the set name's "fonts.str: Input should be a valid string"
        if isinstance(value, list):
            return _FONT_LIST.validate_python(value)
        fonts: str | list[FontChoice] = handler(value)
        from platelab.synth.fonts import font_sets  # fonts reads styles: imported here, once both exist

        if isinstance(fonts, str) and fonts not in font_sets():
            raise ValueError(f"no font set named {shown(fonts)}; known: {', '.join(sorted(font_sets()))}")
        return fonts

    @field_validator("specialty", mode="wrap")
    @classmethod
    def _specialty(
        cls, value: object, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> str | Specialty | None:
        if isinstance(value, dict):  # as the fonts: errors name their own field, specialty.code_patterns
            specialty: str | Specialty | None = _SPECIALTY.validate_python(value)
        else:
            specialty = handler(value)
        extras = specialty
        if isinstance(specialty, str):
            from platelab.synth.specialty import specialty_sets  # specialty reads styles: imported once both exist

            if specialty not in specialty_sets():
                raise ValueError(f"no set named {shown(specialty)}; known: {', '.join(sorted(specialty_sets()))}")
            extras = specialty_sets()[specialty]
        if isinstance(extras, Specialty) and "alphabets" in info.data:  # not when the alphabets are wrong
            names = {**DEFAULT_ALPHABETS, **info.data["alphabets"]}
            for pattern in extras.code_patterns:
                unknown = _unknown_alphabets(pattern, names)
                if unknown:
                    raise ValueError(f"code pattern {shown(pattern)} uses {', '.join(map(shown, unknown))}, not an "
                                     "alphabet")
        return specialty

    @field_validator("text_colours")
    @classmethod
    def _text_colours(cls, colours: list[str]) -> list[str]:
        return [check_colour(c) for c in colours]

    @field_validator("text_colour", "text_colours")
    @classmethod
    def _legible(cls, colours: str | list[str], info: ValidationInfo) -> str | list[str]:
        background = info.data.get("background")
        if background is None:  # refused on its own account
            return colours
        if background.gradient:
            grounds = [colour for _, colour in background.gradient]
            field = f"every stop of background.gradient ({', '.join(grounds)})"
        else:
            grounds = [background.colour]
            field = f"background.colour {background.colour}"
        for i, colour in enumerate([colours] if isinstance(colours, str) else colours):
            ratio = max(contrast_ratio(colour, ground) for ground in grounds)
            if ratio < MIN_TEXT_CONTRAST:
                which = "" if isinstance(colours, str) else f" (item {i})"
                raise ValueError(f"{colour}{which} on {field}: contrast ratio {ratio:.2f}, under "
                                 f"{MIN_TEXT_CONTRAST:g} (WCAG 2): the characters would barely show")
        return colours

    @property
    def aspect(self) -> float:
        return self.size_mm[0] / self.size_mm[1]

    @property
    def all_alphabets(self) -> dict[str, str]:
        return {**DEFAULT_ALPHABETS, **self.alphabets}

    @property
    def prior_country(self) -> str:
        """The format prior this style's plates belong to: its country, or its region where it names none."""
        return self.country or self.region

    @model_validator(mode="after")
    def _text_on_overlays_only(self) -> PlateStyle:
        # only an overlay's box prints its text (render._draw_graphic_text); elsewhere it would vanish unsaid
        emblems = self.specialty.emblems if isinstance(self.specialty, Specialty) else []
        for field, graphics in (("background.graphics", self.background.graphics), ("gap_graphics", self.gap_graphics),
                                ("specialty.emblems", emblems)):
            for i, graphic in enumerate(graphics):
                if graphic.text is not None:
                    raise ValueError(f"{field}.{i}: text is printed on overlays only (stickers); put it in overlays "
                                     "or in printed")
        return self

    @model_validator(mode="after")
    def _formats_fit(self) -> PlateStyle:
        names = self.all_alphabets
        for i, fmt in enumerate(self.formats):
            rows = fmt.rows or self.rows
            if len(fmt.patterns) != len(rows):
                raise ValueError(f"formats[{i}]: {len(fmt.patterns)} pattern rows but {len(rows)} text rows")
            for pattern in fmt.patterns:
                for ch in pattern:
                    if ch not in names and ch not in SEPARATORS and ch not in "()":
                        raise ValueError(f"formats[{i}]: pattern {shown(pattern)} uses unknown alphabet {ch!r}")
                for group in re.findall(r"\(([^()]*)\)", pattern):
                    if _unknown_alphabets(group, names):
                        raise ValueError(f"formats[{i}]: pattern {shown(pattern)}: a stacked group holds alphabets "
                                         "only, no separators")
            length = sum(len(text_positions(p, names)) for p in fmt.patterns)
            if not 1 <= length <= 10:
                raise ValueError(f"formats[{i}]: {shown(' / '.join(fmt.patterns))} holds {length} characters; a plate "
                                 "holds 1 to 10")
        return self


_FONT_LIST: TypeAdapter[list[FontChoice]] = TypeAdapter(Annotated[list[FontChoice], Field(min_length=1)])
_SPECIALTY: TypeAdapter[Specialty] = TypeAdapter(Specialty)


def load_style(path: str | Path) -> PlateStyle:
    """Load and validate one style file; errors name the file and the field."""
    return load_model_file(path, PlateStyle, StyleError, defaults={"name": Path(path).stem})


@lru_cache(maxsize=1)
def builtin_styles() -> dict[str, PlateStyle]:
    """Every style shipped in platelab/synth/styles, by name."""
    styles = [load_style(p) for p in sorted(STYLES_DIR.glob("*.yaml"))]
    return {s.name: s for s in styles}


def _matches(style: PlateStyle, pattern: str) -> bool:
    # a country too: `--styles us` chooses the styles `--prior us` reads
    return any(fnmatch(code, pattern) for code in (style.name, style.region, style.country) if code)


def is_style_path(entry: str) -> bool:
    """Whether an entry of a styles list names a user's style file or folder rather than globbing bundled styles: it
    ends in .yaml or holds a path separator (a folder is written `my-styles/`); no style name or region holds either."""
    return entry.lower().endswith(STYLE_SUFFIXES) or "/" in entry or os.sep in entry


def anchored(entries: Sequence[str], folder: Path) -> list[str]:
    """entries with each style path made absolute against folder (a recipe's own): a run records where its styles
    are, so a resume or an export from another folder finds the same files."""
    return [str((folder / Path(e).expanduser()).resolve()) if is_style_path(e) else e for e in entries]


def _style_files(entry: str) -> list[Path]:
    path = Path(entry).expanduser()
    if not path.is_dir():
        return [path]  # load_style names a missing file
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in STYLE_SUFFIXES and p.is_file())
    if not files:
        raise StyleError(f"{path}: a folder without style files ({', '.join('*' + s for s in STYLE_SUFFIXES)})")
    return files


def user_style_files(entries: Sequence[str]) -> list[Path]:
    """The style files the path entries name (is_style_path), each once, in the order given."""
    files: dict[Path, Path] = {}
    for entry in entries:
        if is_style_path(entry):
            for file in _style_files(entry):
                files.setdefault(file.resolve(), file)
    return list(files.values())


def load_user_styles(entries: Sequence[str]) -> list[PlateStyle]:
    """The styles of the files the path entries name, validated as the bundled ones are. A name that is a bundled
    style's or another file's is refused: styles are chosen, reweighted and reported by name."""
    named: dict[str, Path] = {}
    styles = []
    for file in user_style_files(entries):
        style = load_style(file)
        if style.name in builtin_styles():
            raise StyleError(f"{file}: field name: {shown(style.name)} is a bundled style's name; give the style its "
                             "own (its name field, or the file's name)")
        if style.name in named:
            raise StyleError(f"{file}: field name: {shown(style.name)} is also the name of {named[style.name]}")
        style._source = file
        named[style.name] = file
        styles.append(style)
    return styles


def _font_fields(style: PlateStyle) -> list[tuple[str, str]]:
    """(field, font file) of every font the style draws with."""
    from platelab.synth.fonts import style_fonts  # fonts reads styles: imported here, once both exist

    fields = [(f"fonts.{i}.file" if isinstance(style.fonts, list) else f"fonts (set {style.fonts})", font.file)
              for i, font in enumerate(style_fonts(style))]
    return fields + [(f"printed.{i}.font", text.font or LABEL_FONT) for i, text in enumerate(style.printed)]


def _uninstalled(style: PlateStyle) -> list[tuple[str, str, StyleError]]:
    """(field, font file, why) of each font the style draws with that is not installed here."""
    from platelab.synth.fonts import find_font

    found = []
    for field, font in _font_fields(style):
        try:
            find_font(font)
        except StyleError as exc:
            found.append((field, font, exc))
    return found


def missing_fonts(style: PlateStyle) -> list[str]:
    """The fonts the style draws with that are not installed here (none: it can be drawn)."""
    return list(dict.fromkeys(font for _, font, _ in _uninstalled(style)))


def _undrawable(style: PlateStyle) -> tuple[str, str] | None:
    """(field, why) of the first character the style draws that its font cannot: a file that is no font, a font with
    no glyph for a plate character, a printed text holding a line break. Bundled styles are drawn by the tests."""
    from platelab.synth.fonts import glyph, style_fonts  # fonts reads styles: imported here, once both exist

    alphabets = style.all_alphabets
    patterns = [p for fmt in style.formats for p in fmt.patterns]
    if isinstance(style.specialty, Specialty):
        patterns += style.specialty.code_patterns
    plate_chars = "".join(sorted({c for p in patterns for name in p if name in alphabets for c in alphabets[name]}))
    wanted = [(f"fonts.{i}.file" if isinstance(style.fonts, list) else f"fonts (set {style.fonts})", font.file,
               plate_chars) for i, font in enumerate(style_fonts(style))]
    wanted += [(f"printed.{i}.text", text.font or LABEL_FONT, "".join(text.text))
               for i, text in enumerate(style.printed)]
    wanted += [(f"overlays.{i}.text", LABEL_FONT, "".join(c for c in g.text if c not in alphabets))
               for i, g in enumerate(style.overlays) if g.text]
    for field, font, chars in wanted:
        for char in dict.fromkeys(chars.replace(" ", "")):
            try:
                glyph(font, char)
            except StyleError as exc:
                return field, str(exc)
            except (OSError, ValueError) as exc:  # Pillow's "unknown file format": a file named .ttf that is no font
                return field, f"font {shown(font)} cannot be drawn: {' '.join(str(exc).split())}"
    return None


def check_drawable(styles: list[PlateStyle]) -> list[PlateStyle]:
    """styles, each one's fonts installed and able to draw its characters, or a StyleError naming the first that is
    not (the style's file, or its name): drawing would stop at the first plate in that font, part-way through a
    run."""
    for style in styles:
        uninstalled = _uninstalled(style)
        where = f"style {style.name}" if style._source is None else str(style._source)
        if uninstalled:
            field, _, exc = uninstalled[0]
            raise StyleError(f"{where}: field {field}: {exc}") from exc
        undrawable = None if style._source is None else _undrawable(style)
        if undrawable:
            raise StyleError(f"{where}: field {undrawable[0]}: {undrawable[1]}")
    return styles


def drawable_styles(patterns: Sequence[str] | None = None) -> list[PlateStyle]:
    """select_styles, each style's fonts checked: what a command that draws them (synth, train, finetune) chooses
    before it writes anything. Styles load whatever is installed, as only the styles drawn need their fonts (a
    missing UK font must not stop a run of US plates, nor the export of a run whose style lacks one here)."""
    return check_drawable(select_styles(patterns))


def style_digest(data: bytes) -> str:
    """What a run records of a style file's bytes (its SHA-256, hex), to tell the file it was trained on."""
    return hashlib.sha256(data).hexdigest()


def style_bytes(path: Path) -> bytes:
    """A style file as a run keeps it: its own bytes or, for a file that extends others, the fields it comes to
    written out in full, so that the run's copy needs no other file and an edit to a file it extends is a change.
    OSError or StyleError where a file cannot be read."""
    data = path.read_bytes()
    try:
        fields = yaml.safe_load(data)
    except yaml.YAMLError:
        return data  # refused with its line when the style is loaded
    if not (isinstance(fields, dict) and "extends" in fields):
        return data
    text: str = yaml.safe_dump(file_fields(path, StyleError), sort_keys=False, allow_unicode=True)
    return text.encode("utf-8")


def select_styles(patterns: Sequence[str] | None = None) -> list[PlateStyle]:
    """Bundled styles whose name, region or country matches any glob pattern (all of them when none is given), then the
    user's styles of the patterns that are paths to a style file or a folder of them (is_style_path)."""
    styles = list(builtin_styles().values())
    if not patterns:
        return styles
    globs = [p for p in patterns if not is_style_path(p)]
    chosen = [s for s in styles if any(_matches(s, p) for p in globs)]
    if globs and not chosen:
        folders = [p for p in globs if Path(p).is_dir()]
        hint = f" (a folder of styles is written with a slash: {folders[0]}/)" if folders else ""
        raise StyleError(f"no style matches {', '.join(globs)}{hint}; known: {', '.join(sorted(builtin_styles()))}")
    return chosen + load_user_styles(patterns)


def prior_styles(patterns: Sequence[str] = ()) -> list[PlateStyle]:
    """The styles whose formats an exported recognizer carries: every bundled one, and the user's it was trained on
    (so `--prior REGION` reads the user's region too)."""
    return [*builtin_styles().values(), *load_user_styles(patterns)]


def reweighted(styles: list[PlateStyle], factors: dict[str, float]) -> list[PlateStyle]:
    """The styles with the weight of each one whose name, region or country matches a glob multiplied by its factor
    (a training stage that needs more of a few styles, without changing how often they occur in the data files)."""
    unknown = [p for p in factors if not any(_matches(s, p) for s in styles)]
    if unknown:
        raise StyleError(f"no style matches {', '.join(unknown)}; known: {', '.join(s.name for s in styles)}")
    out = []
    for style in styles:
        factor = math.prod([f for p, f in factors.items() if _matches(style, p)])
        out.append(style.model_copy(update={"weight": style.weight * factor}))
    return out
