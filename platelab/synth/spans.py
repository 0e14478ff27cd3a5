"""Checked (low, high) ranges for the engine's settings: a config whose range is reversed or out of bounds is
refused when it is read, naming the field, not when a plate is drawn from it."""

from __future__ import annotations

import re
from typing import Annotated, TypeAlias, TypeVar

from pydantic import AfterValidator, Field

from platelab.utils.errors import shown

Number = TypeVar("Number", int, float)


def _ordered(span: tuple[Number, Number]) -> tuple[Number, Number]:
    if span[0] > span[1]:
        raise ValueError(f"a range is (low, high) with low <= high, got {span}")
    return span


# (low, high): a generic alias, not a function's result, so type checkers see each span's tuple type
Span: TypeAlias = Annotated[tuple[Number, Number], AfterValidator(_ordered)]
Probability = Annotated[float, Field(ge=0, le=1)]
UnitSpan: TypeAlias = Span[Annotated[float, Field(ge=0.0, le=1.0)]]
# a gain of 0 (contrast, gamma, a channel's white balance) draws the crop in one colour that is still labelled
GainSpan: TypeAlias = Span[Annotated[float, Field(ge=0.1, le=4.0)]]
# a sensor that saw under a tenth of the crop's size leaves a pixel or two of it
ShrinkSpan: TypeAlias = Span[Annotated[float, Field(ge=0.1, le=1.0)]]
LevelSpan: TypeAlias = Span[Annotated[float, Field(ge=-255.0, le=255.0)]]
PixelSpan: TypeAlias = Span[Annotated[float, Field(ge=0.0, le=32.0)]]
CountSpan: TypeAlias = Span[Annotated[int, Field(ge=0, le=64)]]
QualitySpan: TypeAlias = Span[Annotated[int, Field(ge=1, le=100)]]
# beyond 80 degrees a plate is seen edge on: nothing is left to read, yet it would be labelled
TurnSpan: TypeAlias = Span[Annotated[float, Field(ge=-80.0, le=80.0)]]
# focal length / plate width: nearer than a plate's width, a plate turned 80 degrees has a corner behind the camera
# and is drawn mirrored, wrapped through infinity, yet labelled
FocalSpan: TypeAlias = Span[Annotated[float, Field(ge=1.0, le=100.0)]]
# camera distance / car width: nearer than half a car's width, nearly every placement puts part of the car behind the
# camera and the scene is left without its plates
DistanceSpan: TypeAlias = Span[Annotated[float, Field(ge=0.5, le=100.0)]]
MarginSpan: TypeAlias = Span[Annotated[float, Field(ge=-0.5, le=2.0)]]
ScaleSpan: TypeAlias = Span[Annotated[float, Field(gt=0.0, le=4.0)]]
SideSpan: TypeAlias = Span[Annotated[int, Field(ge=8, le=2048)]]  # a plate's height or a crop's side, px
WidthSpan: TypeAlias = Span[Annotated[float, Field(ge=1.0, le=8192.0)]]  # a plate's or sign's width in a scene, px
HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def check_colour(value: str) -> str:
    """A colour as '#rrggbb' (lower-cased), or ValueError: a name or a short form would be misread as digits."""
    if not HEX_COLOUR.match(value):
        raise ValueError(f"colour must look like '#1a2b3c', got {shown(value)}")
    return value.lower()


HexColour = Annotated[str, AfterValidator(check_colour)]


def check_plates_fit(plate_width: tuple[float, float], size: tuple[int, int]) -> None:
    """A scene whose narrowest plate is as wide as the scene never places one: refused rather than left empty."""
    if plate_width[0] >= size[0]:
        raise ValueError(f"plate_width starts at {plate_width[0]:g} px: no plate fits a scene {size[0]} px wide")


Size: TypeAlias = tuple[Annotated[int, Field(ge=8, le=8192)], Annotated[int, Field(ge=8, le=8192)]]  # width, height
