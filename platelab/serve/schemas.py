"""The response shapes, for the OpenAPI docs only: handlers write the output contract JSON themselves."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class CharOut(BaseModel):
    char: str
    confidence: float


class CandidateOut(BaseModel):
    text: str
    confidence: float


class PlateOut(BaseModel):
    text: str
    confidence: float = Field(description="detection score times reading confidence, 0 to 1")
    chars: list[CharOut]
    box: list[int] = Field(description="x, y, width, height in pixels of the upright image")
    quad: list[list[float]] = Field(description="the plate's 4 corners, clockwise from top-left")
    fits: str | None = Field(
        None, description="with a prior on the server: the country whose plate formats the text was read under "
        "(with auto, the formats it fits best, not where the plate was issued); absent where none has its length"
    )
    candidates: list[CandidateOut] | None = Field(
        None, description="with candidates set on the server: the plate's most likely texts, its own text first"
    )
    wanted: str | None = Field(
        None, description="with a watch list on the server: the wanted plate this one may be, as the list spells it"
    )


class ImageOut(BaseModel):
    file: str = Field(description="the upload's file name, or 'upload'")
    plates: list[PlateOut] | None = None
    error: str | None = Field(None, description="set instead of plates when the image could not be read")


class BatchOut(BaseModel):
    results: list[ImageOut]


class ModelOut(BaseModel):
    name: str
    card: dict[str, Any] | None = Field(description="the model card beside the file; null where it has none")


class ModelsOut(BaseModel):
    models: list[ModelOut]


class Problem(BaseModel):
    detail: str


_BINARY = {"type": "string", "format": "binary"}
IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"image": _BINARY}},
            },
            "image/*": {"schema": _BINARY},
        },
    }
}
BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"images": {"type": "array", "items": _BINARY}},
                },
            },
        },
    }
}
