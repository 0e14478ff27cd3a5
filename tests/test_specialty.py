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


def test_a_middle_emblem_lies_between_two_characters_of_the_number() -> None:
    style = builtin_styles()["us-ohio"].model_copy(update={"specialty": _always(middle_emblem=1.0)})
    after = set()
    for seed in range(16):
        plate = render_plate(style, np.random.default_rng(seed), height=96, text="ABC1234")
        (x0, _, x1, _), = [box for kind, box in plate.separators if kind == "emblem"]
        lefts, rights = plate.char_boxes[:, 0], plate.char_boxes[:, 2]
        index = int(np.searchsorted(lefts, x0))  # the character the gap comes before
        assert 1 <= index <= 6 and rights[index - 1] <= x0 < x1 <= lefts[index]
        after.add(index)
    assert len(after) >= 4  # anywhere between the first and the last character


def test_a_side_code_beside_a_side_emblem_goes_at_the_other_end() -> None:
    from platelab.synth.specialty import decorate

    row = builtin_styles()["us-ohio"].rows[0]
    both = _always(side_emblem=1.0, side_code=1.0)
    for seed in range(12):
        decoration = decorate(both, row, 7, np.random.default_rng(seed))
        assert decoration.emblem_box is not None and (decoration.prefix, decoration.suffix) == ("", "LL")
    ends = {decorate(_always(side_code=1.0), row, 7, np.random.default_rng(seed)).prefix for seed in range(12)}
    assert ends == {"", "LL"}  # without an emblem, either end


def test_a_wide_side_emblem_never_covers_the_characters() -> None:
    # an emblem half the plate wide, beside a row that keeps 0.3 of it: it was painted over two of the three
    # characters the label named
    from platelab.synth.style import PlateStyle

    wide = _always(side_emblem=1.0).model_copy(update={"emblem_width": (0.5, 0.5)})
    style = PlateStyle.model_validate({
        "name": "wide-emblem", "region": "x", "size_mm": [400, 150], "fonts": [{"file": "OSP-DIN.ttf"}],
        "rows": [{"y": 0.55, "height": 0.5, "x0": 0.3, "x1": 0.9}], "formats": [{"patterns": ["NNN"]}],
    })
    plate = render_plate(style.model_copy(update={"specialty": wide}), np.random.default_rng(0), height=100,
                         text="808")
    assert plate.text == "808"
    red = np.array([0x2f, 0x20, 0xc8])  # the emblem's palette colour, BGR
    for x0, y0, x1, y1 in np.round(plate.char_boxes).astype(int):
        assert not (np.abs(plate.image[y0:y1, x0:x1].astype(int) - red).max(axis=2) < 40).any()


def test_a_plate_of_two_rows_carries_no_extras() -> None:
    # the extras are laid out on a single row; a two-row motorcycle plate has no room beside its number
    style = builtin_styles()["us-california-motorcycle"]
    two_rows = [f for f in style.formats if len(f.patterns) == 2]
    plain = style.model_copy(update={"formats": two_rows, "specialty": None})
    special = plain.model_copy(update={"specialty": _always(side_code=1.0, side_emblem=1.0, middle_emblem=1.0)})
    for seed in range(3):
        a = render_plate(plain, np.random.default_rng(seed), height=96)
        b = render_plate(special, np.random.default_rng(seed), height=96)
        assert a.text == b.text and a.image.tobytes() == b.image.tobytes()


def test_an_emblem_takes_two_different_colours_of_its_palette() -> None:
    from platelab.synth.specialty import pick_emblem

    two = _always().model_copy(update={"palette": ["#c8202f", "#1b2a6e"]})
    picked = [pick_emblem(two, np.random.default_rng(seed)) for seed in range(12)]
    assert all(g.colour != g.colour2 for g in picked) and {g.colour for g in picked} == set(two.palette)
