"""What the reader found in an image, as immutable records that serialise to one JSON line each."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

JSON_DECIMALS = 4


@dataclass(frozen=True)
class CharResult:
    char: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {"char": self.char, "confidence": float(self.confidence)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CharResult:
        return cls(str(data["char"]), float(data["confidence"]))


@dataclass(frozen=True)
class Candidate:
    """A text the plate may read, with its confidence on the plate's scale."""

    text: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "confidence": float(self.confidence)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Candidate:
        return cls(str(data["text"]), float(data["confidence"]))


@dataclass(frozen=True)
class PlateResult:
    """One plate: box is (x, y, w, h) in pixels; quad is its 4 corners, clockwise from top-left. A plate followed
    through a video also has the first and last frame it was read in (frames) and their times (seconds); its box,
    quad and characters are those of its surest reading. candidates, when asked for, are the most likely texts,
    its own text first with its confidence (for matching against a list of plates: a look-alike the network
    doubted is among them). fits, read under a format prior, names the country whose plate formats the text was
    decoded under: the prior's, or the one `auto` found the text fits best, which is not where the plate was issued
    (a Californian ABC1234 fits Brazil's formats as well); None without a prior or where none of the formats has
    the text's length."""

    text: str
    confidence: float
    chars: tuple[CharResult, ...]
    box: tuple[int, int, int, int]
    quad: tuple[tuple[float, float], ...]
    frames: tuple[int, int] | None = None
    seconds: tuple[float, float] | None = None
    candidates: tuple[Candidate, ...] = ()
    wanted: str | None = None  # the plate of a watch list this one may be (platelab.predict.watch)
    fits: str | None = None

    def __post_init__(self) -> None:
        if len(self.box) != 4 or len(self.quad) != 4:
            raise ValueError(f"a plate needs a 4-value box and 4 corners: {self.box!r}, {self.quad!r}")

    def with_confidence(self, confidence: float) -> PlateResult:
        """This plate at another confidence (a vote's, times a detection score), its candidates scaled alike (the
        first, its own text, at exactly that confidence)."""
        factor = confidence / self.confidence if self.confidence > 0 else 0.0
        scaled = tuple(Candidate(c.text, confidence if i == 0 else c.confidence * factor)
                       for i, c in enumerate(self.candidates))
        return replace(self, confidence=confidence, candidates=scaled)

    def to_dict(self) -> dict[str, Any]:
        # float()/int() turn numpy scalars from the models into types json can write
        plate: dict[str, Any] = {
            "text": self.text,
            "confidence": float(self.confidence),
            "chars": [c.to_dict() for c in self.chars],
            "box": [int(v) for v in self.box],
            "quad": [[float(x), float(y)] for x, y in self.quad],
        }
        if self.fits is not None:
            plate["fits"] = self.fits
        if self.frames is not None:
            plate["frames"] = [int(v) for v in self.frames]
        if self.seconds is not None:
            plate["seconds"] = [float(v) for v in self.seconds]
        if self.candidates:
            plate["candidates"] = [c.to_dict() for c in self.candidates]
        if self.wanted is not None:
            plate["wanted"] = self.wanted
        return plate

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlateResult:
        """A plate from its to_dict (a JSON line's, as stored): KeyError or ValueError for one that is not."""

        def pair(values: Any, kind: type) -> Any:
            return None if values is None else tuple(kind(v) for v in values)

        return cls(str(data["text"]), float(data["confidence"]), tuple(CharResult.from_dict(c) for c in data["chars"]),
                   pair(data["box"], int), tuple((float(x), float(y)) for x, y in data["quad"]),
                   pair(data.get("frames"), int), pair(data.get("seconds"), float),
                   tuple(Candidate.from_dict(c) for c in data.get("candidates", ())), data.get("wanted"),
                   data.get("fits"))


@dataclass(frozen=True)
class ImageResult:
    """The plates read from one file, or why it could not be read."""

    file: str
    plates: tuple[PlateResult, ...] = ()
    error: str | None = None

    def without_candidates(self) -> ImageResult:
        """The same plates without their candidates (when they were listed only to be matched on)."""
        return replace(self, plates=tuple(replace(plate, candidates=()) for plate in self.plates))

    def to_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return {"file": self.file, "error": self.error}
        return {"file": self.file, "plates": [p.to_dict() for p in self.plates]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageResult:
        """An image's result from its to_dict, or from a line `platelab read --json` wrote (json.loads of it)."""
        if "error" in data:
            return cls(str(data["file"]), error=str(data["error"]))
        return cls(str(data["file"]), tuple(PlateResult.from_dict(p) for p in data["plates"]))


def to_json_line(result: ImageResult) -> str:
    """Compact single-line JSON (no trailing newline) with floats rounded to JSON_DECIMALS places.

    Non-ASCII stays escaped so that odd file names (lone surrogates, U+2028) can neither break the line
    nor fail to encode on a non-UTF-8 stdout.
    """
    return json.dumps(_round_floats(result.to_dict()), separators=(",", ":"))


def _round_floats(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, JSON_DECIMALS)
    if isinstance(value, dict):
        return {key: _round_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_round_floats(item) for item in value]
    return value
