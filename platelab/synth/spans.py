"""Checked (low, high) ranges for the engine's settings: a config whose range is reversed or out of bounds is
refused when it is read, naming the field, not when a plate is drawn from it."""

from __future__ import annotations

from typing import Annotated, TypeAlias, TypeVar

from pydantic import AfterValidator, Field

Number = TypeVar("Number", int, float)


def _ordered(span: tuple[Number, Number]) -> tuple[Number, Number]:
    if span[0] > span[1]:
        raise ValueError(f"a range is (low, high) with low <= high, got {span}")
    return span


# (low, high): a generic alias, not a function's result, so type checkers see each span's tuple type
Span: TypeAlias = Annotated[tuple[Number, Number], AfterValidator(_ordered)]
Probability = Annotated[float, Field(ge=0, le=1)]
UnitSpan: TypeAlias = Span[Annotated[float, Field(ge=0.0, le=1.0)]]
GainSpan: TypeAlias = Span[Annotated[float, Field(ge=0.0, le=4.0)]]
LevelSpan: TypeAlias = Span[Annotated[float, Field(ge=-255.0, le=255.0)]]
PixelSpan: TypeAlias = Span[Annotated[float, Field(ge=0.0, le=32.0)]]
CountSpan: TypeAlias = Span[Annotated[int, Field(ge=0, le=64)]]
QualitySpan: TypeAlias = Span[Annotated[int, Field(ge=1, le=100)]]
# beyond 80 degrees a plate is seen edge on: nothing is left to read, yet it would be labelled
TurnSpan: TypeAlias = Span[Annotated[float, Field(ge=-80.0, le=80.0)]]
FocalSpan: TypeAlias = Span[Annotated[float, Field(gt=0.0, le=100.0)]]  # focal length / plate width
DistanceSpan: TypeAlias = Span[Annotated[float, Field(gt=0.0, le=100.0)]]  # camera distance / car width
MarginSpan: TypeAlias = Span[Annotated[float, Field(ge=-0.5, le=2.0)]]
ScaleSpan: TypeAlias = Span[Annotated[float, Field(gt=0.0, le=4.0)]]
SideSpan: TypeAlias = Span[Annotated[int, Field(ge=8, le=2048)]]  # a plate's height or a crop's side, px
WidthSpan: TypeAlias = Span[Annotated[float, Field(ge=1.0, le=8192.0)]]  # a plate's or sign's width in a scene, px
Size: TypeAlias = tuple[Annotated[int, Field(ge=8, le=8192)], Annotated[int, Field(ge=8, le=8192)]]  # width, height
