"""What a property-based fuzz of user style files and engine configs found (runs/s32/stylefuzz/gen.py): thousands of
styles and configs the schema accepts, drawn as plates, crops and scenes, and as many with a field set wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from platelab.cli import app
from platelab.synth.render import render_plate
from platelab.synth.style import StyleError, load_style

STYLE = """\
region: zz
size_mm: [300, 150]
fonts: [{file: DejaVuSansCondensed-Bold.ttf}]
"""
ONE_ROW = STYLE + "rows: [{y: 0.5, height: 0.5}]\nformats: [{patterns: [LLL NNN]}]\n"


def _file(folder: Path, text: str, name: str = "mine.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _refused(path: Path, field: str) -> str:
    with pytest.raises(StyleError) as caught:
        load_style(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: field {field}:"), message
    return message


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        # the label read the lower row first: the bottom row's characters, then the top one's
        ("rows: [{y: 0.75, height: 0.4}, {y: 0.25, height: 0.4}]\nformats: [{patterns: [NN, LL]}]", "rows"),
        # both rows over each other: characters drawn on characters, labelled as two rows
        ("rows: [{y: 0.5, height: 0.8}, {y: 0.55, height: 0.8}]\nformats: [{patterns: [NN, LL]}]", "rows"),
        ("rows: [{y: 0.5, height: 0.5}]\nformats: [{patterns: [NN, LL], rows: [{y: 0.7, height: 0.4}, "
         "{y: 0.3, height: 0.4}]}]", "formats.0.rows"),
    ],
)
def test_rows_not_top_to_bottom_are_refused_naming_the_field(tmp_path: Path, rows: str, field: str) -> None:
    message = _refused(_file(tmp_path, STYLE + rows + "\n"), field)
    assert "top to bottom" in message


def test_two_rows_given_top_to_bottom_label_the_top_row_first(tmp_path: Path) -> None:
    style = load_style(_file(tmp_path, STYLE + "rows: [{y: 0.27, height: 0.4}, {y: 0.73, height: 0.4}]\n"
                                        "formats: [{patterns: [NN, LL]}]\n"))
    plate = render_plate(style, np.random.default_rng(0), height=64)
    assert plate.text[:2].isdigit() and plate.text[2:].isalpha()
    assert plate.char_boxes[:2, 3].max() <= plate.char_boxes[2:, 1].min()


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("weight: .inf", "weight"),  # drawn never, not always: the last style's cumulative weight is inf too
        ("background: {gradient: [[.nan, '#ffffff'], [1, '#f0f0f0']]}", "background.gradient.0.0"),  # black plate
        ("background: {gradient: [[0, '#ffffff'], [.inf, '#f0f0f0']]}", "background.gradient.1.0"),
    ],
)
def test_infinite_or_nan_numbers_are_refused(tmp_path: Path, extra: str, field: str) -> None:
    message = _refused(_file(tmp_path, ONE_ROW + extra + "\n"), field)
    assert "finite" in message


def test_an_infinite_format_weight_is_refused(tmp_path: Path) -> None:
    text = STYLE + "rows: [{y: 0.5, height: 0.5}]\nformats: [{patterns: [LLL], weight: .inf}, {patterns: [NNN]}]\n"
    _refused(_file(tmp_path, text), "formats.0.weight")


def test_an_extends_holding_a_line_break_is_one_line(tmp_path: Path) -> None:
    path = _file(tmp_path, 'extends: "base\\nother.yaml"\n' + ONE_ROW)
    with pytest.raises(StyleError) as caught:
        load_style(path)
    assert "\n" not in str(caught.value) and str(caught.value).startswith(f"{path}: extends base\\nother.yaml")
    result = CliRunner().invoke(app, ["synth", "crops", "--out", str(tmp_path / "out"), "--count", "1",
                                      "--styles", str(path)])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output


def test_larger_text_of_a_row_at_the_plates_edge_stays_on_the_plate(tmp_path: Path) -> None:
    # the row's characters touch the top edge; drawn 1.6 times as high they ran 0.15 of the plate's height off it,
    # cut by the edge yet labelled
    style = load_style(_file(tmp_path, STYLE + "rows: [{y: 0.25, height: 0.5}]\nformats: [{patterns: [NNNN]}]\n"))
    plate = render_plate(style, np.random.default_rng(1), height=100, text_scale=(1.6, 1.6))
    height = plate.image.shape[0]
    assert plate.char_boxes[:, 1].min() >= -1 and plate.char_boxes[:, 3].max() <= height + 1, plate.char_boxes
