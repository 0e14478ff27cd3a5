"""docs/styles.md, the style files' field reference, keeps up with the schema, and its examples draw."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from platelab.synth.config import SynthConfig
from platelab.synth.crops import render_crop, sample_rng
from platelab.synth.style import PlateStyle, check_drawable, load_user_styles, text_positions

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "styles.md"
# A model's section says "Schema: `Name`"; the first table after that line names one field a row, in backticks
SCHEMA_TABLE = re.compile(r"^Schema: `(\w+)`[^\n]*\n(?:[^|\n][^\n]*\n|\n)*((?:\|[^\n]*\n)+)", re.M)
FIELD_ROW = re.compile(r"^\| `(\w+)` \|", re.M)
YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.M | re.S)


def _models_in(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds: itself, or inside a list, tuple, union, mapping or Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def style_models() -> dict[str, type[BaseModel]]:
    """PlateStyle and every model reachable through its fields, by name."""
    found: dict[str, type[BaseModel]] = {}
    waiting: list[type[BaseModel]] = [PlateStyle]
    while waiting:
        model = waiting.pop()
        if model.__name__ in found:
            continue
        found[model.__name__] = model
        for field in model.model_fields.values():
            waiting += _models_in(field.annotation)
    return found


def documented_fields() -> dict[str, set[str]]:
    """{model name: the fields named by the first table after its "Schema:" line}."""
    text = REFERENCE.read_text(encoding="utf-8")
    return {name: set(FIELD_ROW.findall(table)) for name, table in SCHEMA_TABLE.findall(text)}


def test_the_walk_finds_every_style_model() -> None:
    assert set(style_models()) >= {"PlateStyle", "TextRow", "PlateFormat", "FontChoice", "Background", "Graphic",
                                   "PrintedText", "Border", "Specialty"}


@pytest.mark.parametrize("name", sorted(style_models()))
def test_every_field_of_the_schema_is_in_the_reference(name: str) -> None:
    documented = documented_fields()
    assert name in documented, f"docs/styles.md has no section with 'Schema: `{name}`'"
    fields = set(style_models()[name].model_fields)
    assert not fields - documented[name], f"{name} fields missing from docs/styles.md: {fields - documented[name]}"
    assert not documented[name] - fields, f"docs/styles.md names {name} fields it lacks: {documented[name] - fields}"


def test_every_graphic_kind_and_font_set_is_in_the_reference() -> None:
    from platelab.synth.fonts import font_sets
    from platelab.synth.graphics import PAINTERS

    text = REFERENCE.read_text(encoding="utf-8")
    assert not set(PAINTERS) - set(FIELD_ROW.findall(text)), set(PAINTERS) - set(FIELD_ROW.findall(text))
    assert [name for name in font_sets() if f"`{name}`" not in text] == []


def _examples() -> list[str]:
    return YAML_BLOCK.findall(REFERENCE.read_text(encoding="utf-8"))


def _fits_a_format(style: PlateStyle, text: str) -> bool:
    alphabets = style.all_alphabets
    for fmt in style.formats:
        positions = [name for pattern in fmt.patterns for name in text_positions(pattern, alphabets)]
        if len(positions) == len(text) and all(c in alphabets[p] for p, c in zip(positions, text)):
            return True
    return False


def test_the_reference_has_examples() -> None:
    assert len(_examples()) >= 2


@pytest.mark.parametrize("index", range(len(_examples())))
def test_each_example_loads_and_renders_crops_in_its_formats(index: int, tmp_path: Path) -> None:
    path = tmp_path / f"docs-example-{index}.yaml"
    path.write_text(_examples()[index], encoding="utf-8")
    (style,) = check_drawable(load_user_styles([str(path)]))
    cfg = SynthConfig()
    for sample in range(4):
        crop = render_crop([style], sample_rng(index, sample), cfg)
        assert crop.image.shape == (cfg.crop_size[1], cfg.crop_size[0], 3)
        assert crop.region == style.region
        assert _fits_a_format(style, crop.text), crop.text
