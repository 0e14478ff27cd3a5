"""Every synthesis parameter in one validated config, with documented defaults and ranges.

`platelab synth config` prints the defaults; a YAML file with any subset of the fields overrides them.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import to_jsonable_python

from platelab.synth.camera import CameraConfig, LightConfig
from platelab.synth.geometry import GeometryConfig
from platelab.synth.scene import SceneConfig
from platelab.synth.spans import ScaleSpan, SideSpan, Size, UnitSpan, WidthSpan, check_plates_fit
from platelab.synth.surroundings import SurroundConfig
from platelab.utils.config_file import load_model_file


class SceneCropConfig(BaseModel):
    """Recognition crops cut out of whole scenes, as the photo reader cuts them: the plate is warped into a scene
    that light and camera then treat at the scene's resolution, and the crop is sampled back up from there."""

    model_config = ConfigDict(extra="forbid")

    p: float = Field(0.0, ge=0, le=1, description="chance a crop is cut from a scene (else rendered as a crop)")
    size: Size = Field((640, 384), description="the scene's width and height, px")
    plate_width: WidthSpan = Field((45.0, 200.0), description="the plate's width in it, px (log-uniform)")
    jitter: float = Field(0.04, ge=0, le=0.5, description="corner error of the cut, a fraction of the plate height")

    @model_validator(mode="after")
    def _plates_fit(self) -> SceneCropConfig:
        check_plates_fit(self.plate_width, self.size)
        return self


class SynthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    crop_size: Size = Field((128, 64), description="recognition crop width and height, px")
    plate_height: SideSpan = Field((44, 80), description="flat plate render height range, px")
    text_scale: ScaleSpan = Field((0.9, 1.15), description="character height / the style's, per plate")
    glyph_warp_p: float = Field(0.0, ge=0, le=1, description="chance the characters are bent (faces between fonts)")
    glyph_warp: UnitSpan = Field((0.01, 0.025), description="bend's spread, fraction of character height")
    geometry: GeometryConfig = GeometryConfig()
    surround: SurroundConfig = SurroundConfig()
    light: LightConfig = LightConfig()
    camera: CameraConfig = CameraConfig()
    scene: SceneConfig = SceneConfig()
    scene_crop: SceneCropConfig = SceneCropConfig()


def load_synth_config(path: str | Path | None) -> SynthConfig:
    return SynthConfig() if path is None else load_model_file(path, SynthConfig)


def describe(model: type[BaseModel] | BaseModel = SynthConfig, indent: str = "") -> str:
    """A config's defaults (a class's, or an instance's values) as commented YAML, so the documentation is the code.
    Nested configs show the values their parent gives them (a detector recipe's scenes are its own)."""
    values = model if isinstance(model, BaseModel) else model()
    lines = []
    for name, field in type(values).model_fields.items():
        value = getattr(values, name)
        if isinstance(value, BaseModel):
            lines.append(f"{indent}{name}:")
            lines.append(describe(value, indent + "  "))
            continue
        default = yaml.safe_dump(to_jsonable_python(value), default_flow_style=True).strip().removesuffix("...")
        bounds = [
            f"{k} {v}"
            for m in field.metadata
            for k, v in (("min", getattr(m, "ge", None)), ("max", getattr(m, "le", None)))
            if v is not None
        ]
        note = "; ".join(filter(None, [field.description or "", ", ".join(bounds)]))
        lines.append(f"{indent}{name}: {default.strip()}" + (f"  # {note}" if note else ""))
    return "\n".join(lines)
