"""Specialty-issue extras: printed beside or between the characters, never part of the plate's text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from platelab.synth.render import render_plate
from platelab.synth.specialty import specialty_sets, style_specialty
from platelab.synth.style import Graphic, Specialty, StyleError, builtin_styles


def _always(**chances: float) -> Specialty:
    return Specialty(
        emblems=[Graphic(kind="emblem", x=0.5, y=0.5, h=0.45)], palette=["#c8202f"], code_patterns=["LL"], **chances
    )


def test_every_us_style_names_a_known_specialty_set() -> None:
    us = [s for s in builtin_styles().values() if s.country == "us"]
    assert us and all(style_specialty(s) is specialty_sets()["us"] for s in us)


def test_unknown_specialty_set_is_a_clear_error() -> None:
    style = builtin_styles()["us-ohio"].model_copy(update={"specialty": "nowhere"})
    with pytest.raises(StyleError, match="nowhere"):
        style_specialty(style)


@pytest.mark.parametrize("chances", [{"side_code": 1.0}, {"side_emblem": 1.0}, {"middle_emblem": 1.0}])
def test_extras_are_drawn_but_not_read(chances: dict[str, float]) -> None:
    plain = builtin_styles()["us-ohio"].model_copy(update={"specialty": None})
    special = plain.model_copy(update={"specialty": _always(**chances)})
    for seed in range(5):
        a = render_plate(plain, np.random.default_rng(seed), height=96, text="ABC1234")
        b = render_plate(special, np.random.default_rng(seed), height=96, text="ABC1234")
        assert a.text == b.text == "ABC1234" and len(b.char_boxes) == 7
        assert not np.array_equal(a.image, b.image)


def test_side_emblem_moves_the_text_right_of_it() -> None:
    plain = builtin_styles()["us-ohio"].model_copy(update={"specialty": None})
    special = plain.model_copy(update={"specialty": _always(side_emblem=1.0)})
    emblem_left = plain.rows[0].x0 + _always().emblem_width[0]
    for seed in range(5):
        a = render_plate(plain, np.random.default_rng(seed), height=96, text="ABC1234")
        b = render_plate(special, np.random.default_rng(seed), height=96, text="ABC1234")
        width = a.image.shape[1]
        assert a.char_boxes[0, 0] < emblem_left * width <= b.char_boxes[0, 0]


def test_wyoming_horse_sits_between_county_number_and_serial() -> None:
    wyoming = builtin_styles()["us-wyoming"].model_copy(update={"specialty": None})
    plate = render_plate(wyoming, np.random.default_rng(0), height=96, text="4434R")
    assert plate.text == "4434R"
    emblems = [box for kind, box in plate.separators if kind == "emblem"]
    assert len(emblems) == 1 and plate.char_boxes[0, 2] <= emblems[0][0] <= plate.char_boxes[1, 0]


@pytest.mark.parametrize(("name", "text"), [("us-wyoming", "4434R"), ("us-new-mexico-centennial", "ABC123")])
def test_a_middle_emblem_never_doubles_the_format_emblem(name: str, text: str) -> None:
    style = builtin_styles()[name].model_copy(update={"specialty": _always(middle_emblem=1.0)})
    for seed in range(8):
        plate = render_plate(style, np.random.default_rng(seed), height=96, text=text)
        assert [kind for kind, _ in plate.separators].count("emblem") == 1


def test_a_specialty_set_that_cannot_be_drawn_is_one_line_naming_specialty_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from platelab.synth import specialty

    path = tmp_path / "specialty.yaml"
    path.write_text("us:\n  code_patterns: []\n  emblems: [{kind: star}]\n  palette: ['#000000']\n")
    monkeypatch.setattr(specialty, "SPECIALTY_SETS_FILE", path)
    specialty.specialty_sets.cache_clear()
    try:
        with pytest.raises(StyleError) as error:
            specialty_sets()
    finally:
        specialty.specialty_sets.cache_clear()
    assert str(error.value).startswith(f"{path}: field us.code_patterns: ") and "\n" not in str(error.value)
