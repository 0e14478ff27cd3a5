"""Plate styles load, validate with clear errors, and render what their labels say."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from platelab.synth.render import blank_plate, choose, render_plate
from platelab.synth.style import Graphic, PlateFormat, PlateStyle, StyleError, builtin_styles, load_style, reweighted

STYLES = sorted(builtin_styles())


def test_enough_styles_of_each_family() -> None:
    styles = builtin_styles().values()
    countries = [s.country or s.region for s in styles]
    assert len(STYLES) >= 30
    assert countries.count("us") >= 15
    assert len({s.region for s in styles if s.region.startswith("eu-")}) >= 8
    assert sum(len(f.patterns) == 2 for s in styles for f in s.formats) >= 1


@pytest.mark.parametrize("name", STYLES)
def test_every_style_renders_its_text(name: str) -> None:
    style = builtin_styles()[name]
    for seed in range(3):
        plate = render_plate(style, np.random.default_rng(seed), height=80)
        assert re.fullmatch(r"[A-Z0-9]{1,10}", plate.text)
        assert len(plate.char_boxes) == len(plate.text)
        h, w = plate.image.shape[:2]
        boxes = plate.char_boxes
        assert (boxes[:, 0] >= -1).all() and (boxes[:, 2] <= w + 1).all() and (boxes[:, 3] <= h + 1).all()
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()


def test_same_seed_same_bytes() -> None:
    style = builtin_styles()[STYLES[0]]
    a = render_plate(style, np.random.default_rng(7), height=90)
    b = render_plate(style, np.random.default_rng(7), height=90)
    c = render_plate(style, np.random.default_rng(8), height=90)
    assert a.text == b.text and a.image.tobytes() == b.image.tobytes()
    assert a.image.tobytes() != c.image.tobytes()


def test_given_text_is_drawn() -> None:
    style = builtin_styles()[STYLES[0]]
    assert render_plate(style, np.random.default_rng(0), text="AB12").text == "AB12"
    # shorter than every format of the style: one row of it, not a format's first characters
    assert render_plate(builtin_styles()["uk-motorcycle"], np.random.default_rng(0), text="AB").text == "AB"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("region: x\nsize_mm: [300, 150]\nrows: [{y: 0.5, height: 0.5}]\nfonts: us-gothic\n", "formats"),
        (
            "region: x\nsize_mm: [300, 150]\nrows: [{y: 0.5, height: 0.5}]\nfonts: us-gothic\n"
            "formats: [{patterns: [LLQ]}]\n",
            "formats",
        ),
        (
            "region: x\nsize_mm: [300, 150]\nrows: [{y: 0.5, height: 0.5}]\nfonts: us-gothic\n"
            "formats: [{patterns: [LLL]}]\ntext_colour: red\n",
            "text_colour",
        ),
        (
            "region: x\nsize_mm: [300, 150]\nrows: [{y: 0.5, height: 0.5}]\nfonts: us-gothic\n"
            "formats: [{patterns: [LLL]}]\nbackground: {colour: '#141414'}\n",
            "text_colour: Value error, #000000 on background.colour #141414: contrast ratio 1.",
        ),
        (
            "region: x\nsize_mm: [300, 150]\nrows: [{y: 1.5, height: 0.5}]\nfonts: us-gothic\n"
            "formats: [{patterns: [LLL]}]\n",
            "rows.0.y",
        ),
        ("region: [unclosed\n", "cannot read"),
        *(
            (f"region: x\nsize_mm: {size}\nrows: [{row}]\nfonts: us-gothic\nformats: [{{patterns: ['{pattern}']}}]\n"
             f"{extra}", field)
            for size, row, pattern, extra, field in [
                ("[300, 150]", "{y: 0.5, height: 0.5, x0: 0.9, x1: 0.2}", "LLL", "", "x0 0.9 must be left of x1"),
                ("[300, 150]", "{y: 0.9, height: 0.5}", "LLL", "", "run off the plate"),
                ("[300, 150]", "{y: 0.5, height: 0.5}", "LL(N", "", "a stacked group is one '('"),
                ("[300, 150]", "{y: 0.5, height: 0.5}", "LL)NN", "", "a stacked group is one '('"),
                ("[-300, 150]", "{y: 0.5, height: 0.5}", "LLL", "", "size_mm.0"),
                ("[300, 150]", "{y: 0.5, height: 0.5}", "LLC", "alphabets: {C: ''}\n", "alphabets.C"),
                ("[300, 150]", "{y: 0.5, height: 0.5}", "LLL", "overlays: [{kind: rectangle}]\n",
                 "unknown graphic kind 'rectangle'"),
            ]
        ),
    ],
)
def test_invalid_style_names_file_and_field(tmp_path: Path, body: str, field: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(body)
    with pytest.raises(StyleError) as error:
        load_style(path)
    message = str(error.value)
    assert str(path) in message and field in message and "\n" not in message


def test_stacked_small_characters_are_printed_but_not_in_the_text() -> None:
    from platelab.synth.style import text_positions

    stacked = [(s, f) for s in builtin_styles().values() for f in s.formats if "(" in "".join(f.patterns)]
    assert stacked
    style, fmt = stacked[0]
    only = style.model_copy(update={"formats": [fmt]})
    plate = render_plate(only, np.random.default_rng(3), height=96)
    expected = sum(len(text_positions(p, style.all_alphabets)) for p in fmt.patterns)
    assert len(plate.text) == expected == len(plate.char_boxes)


def test_a_training_stage_can_draw_some_styles_more_often() -> None:
    styles = [builtin_styles()[n] for n in ("br-old", "br-mercosur", "us-ohio", "uk-motorcycle")]
    weights = {s.name: s.weight for s in reweighted(styles, {"br-old": 4, "us-*": 2})}
    assert weights == {"br-old": 4.0, "br-mercosur": 1.0, "us-ohio": 2.0, "uk-motorcycle": 0.3}
    assert builtin_styles()["br-old"].weight == 1.0  # the data files' frequencies are untouched
    rng = np.random.default_rng(0)
    drawn = [choose(rng, styles, [weights[s.name] for s in styles]).name for _ in range(4000)]
    assert 3.4 < drawn.count("br-old") / drawn.count("br-mercosur") < 4.6


def test_reweighting_a_style_that_does_not_exist_is_an_error() -> None:
    with pytest.raises(StyleError, match="br-grey"):
        reweighted(list(builtin_styles().values()), {"br-grey": 3})


def test_a_style_sets_how_wide_its_emblem_gap_is() -> None:
    style = builtin_styles()["us-new-mexico"]
    gaps = []
    for gap_width in (0.6, 1.4):
        plate = render_plate(style.model_copy(update={"gap_width": gap_width}), np.random.default_rng(3), height=120,
                             text="ABC123")
        (x0, y0, x1, y1), = [box for kind, box in plate.separators if kind == "emblem"]
        gaps.append((x1 - x0) / (y1 - y0))
        assert plate.text == "ABC123"
    assert gaps[1] > gaps[0] + 0.5


def test_a_sticker_that_would_hide_a_character_is_left_off() -> None:
    # us-colorado's bottom-right registration sticker landed on this plate's Q tail; the label still said Q
    names = list(builtin_styles())
    style = builtin_styles()["us-colorado"]
    seed = [11, names.index("us-colorado"), 118]
    plate = render_plate(style, np.random.default_rng(seed), height=80, text_scale=(0.9, 1.15))
    bare = render_plate(style.model_copy(update={"overlays": []}), np.random.default_rng(seed), height=80,
                        text_scale=(0.9, 1.15))
    assert plate.text == bare.text == "211MDQ"
    x0, y0, x1, y1 = np.round(plate.char_boxes[plate.text.index("Q")]).astype(int)
    assert np.array_equal(plate.image[y0:y1, x0:x1], bare.image[y0:y1, x0:x1])
    assert not np.array_equal(plate.image, bare.image)  # the other sticker is still there


def _edited(tmp_path: Path, base: str, changes: dict) -> Path:
    """A copy of a shipped style file with changes: keys are field paths ("rows.0.spacing"), values YAML data."""
    import yaml

    from platelab.synth.style import STYLES_DIR

    data = yaml.safe_load((STYLES_DIR / f"{base}.yaml").read_text(encoding="utf-8"))
    for where, value in changes.items():
        *parents, last = where.split(".")
        node = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        node[int(last) if isinstance(node, list) else last] = value
    path = tmp_path / f"{base}-edited.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


SPECIALTY = {"side_code": 1.0, "emblems": [{"kind": "star"}], "palette": ["#000000"]}
STICKER = {"kind": "rect", "x": 0.8, "y": 0.05, "w": 0.15, "h": 0.15, "text": "NN"}


# Edits the validator once accepted and render_plate then crashed on (or labelled with what no plate shows): each
# is now refused when the file is read, in one line naming the file and the field.
@pytest.mark.parametrize(
    ("base", "changes", "field", "message"),
    [
        ("uk-motorcycle", {"fonts": []}, "fonts", "at least 1 item"),
        ("uk-motorcycle", {"fonts": "no-such-set"}, "fonts", "no font set named 'no-such-set'"),
        ("uk-motorcycle", {"fonts": [{"file": "OSP-DIN.ttf", "stroke": [3, 0]}]}, "fonts.0.stroke", "low <= high"),
        ("uk-motorcycle", {"rows.0.spacing": [0.3, 0.01]}, "rows.0.spacing", "low <= high"),
        ("uk-motorcycle", {"fonts": [{"file": "OSP-DIN.ttf", "condense": [-1.0, -1.0]}]}, "fonts.0.condense.0",
         "greater than or equal to 0.5"),
        ("uk-motorcycle", {"rows.1.spacing": [-5.0, -5.0]}, "rows.1.spacing.0", "greater than or equal to 0"),
        ("uk-motorcycle", {"formats": [{"patterns": ["(-)NN", "DDD"]}]}, "field formats.0", "a stacked group holds"),
        ("uk-motorcycle", {"formats": [{"patterns": ["( )NN", "DDD"]}]}, "field formats.0", "a stacked group holds"),
        ("uk-motorcycle", {"formats": [{"patterns": ["CC(_)NN", "DDD"]}]}, "field formats.0", "a stacked group holds"),
        ("uk-motorcycle", {"specialty": {**SPECIALTY, "code_patterns": ["ZZ"]}}, "specialty",
         "code pattern 'ZZ' uses 'Z', not an alphabet"),
        ("uk-motorcycle", {"specialty": {**SPECIALTY, "code_patterns": []}}, "specialty.code_patterns",
         "at least 1 item"),
        ("uk-motorcycle", {"specialty": "no-such-specialty"}, "specialty", "no set named 'no-such-specialty'"),
        *(
            ("uk-motorcycle", {"alphabets.C": letters}, "alphabets", "may hold only A-Z and 0-9")
            for letters in ("abc", "ЖЯ", "-", " ", "\U0001f600", "AB\n")
        ),
        ("uk-motorcycle", {"alphabets": {"-": "XY"}, "formats": [{"patterns": ["-N", "NN"]}]}, "alphabets",
         "neither a separator"),
        ("uk-motorcycle", {"size_mm": [1, 1000]}, "size_mm.0", "greater than or equal to 50"),
        ("uk-motorcycle", {"size_mm": [100, 1000]}, "size_mm", "not 0.5 to 6 times as wide as high"),
        ("uk-motorcycle", {"size_mm": [1e-9, 1e-9]}, "size_mm.0", "greater than or equal to 50"),
        ("uk-motorcycle", {"bolt_holes": [[-1e9, 1e9]]}, "bolt_holes.0.0", "greater than or equal to -1"),
        ("uk-motorcycle", {"background.graphics": [{"kind": "gradient_rect", "h": 1e9}]}, "background.graphics.0.h",
         "less than or equal to 2"),
        ("uk-motorcycle", {"background.graphics": [{"kind": "qr_code", "count": 100000}]},
         "background.graphics.0.count", "less than or equal to 100"),
        ("us-ohio", {"overlays": [{**STICKER, "x": 0.9, "w": 0.3}]}, "overlays.0", "must lie on the plate"),
        ("us-ohio", {"overlays": [{**STICKER, "w": 0.0}]}, "overlays.0", "cannot hold printed text"),
        ("us-ohio", {"specialty": {**SPECIALTY, "side_emblem": 1.0, "emblem_width": [-2.0, -2.0]}},
         "specialty.emblem_width.0", "greater than or equal to 0"),
        # characters in (nearly) the plate's colour: labelled, yet barely drawn
        ("uk-motorcycle", {"text_colour": "#e8c010"}, "text_colour",
         "#e8c010 on background.colour #f6cf1a: contrast ratio 1.1"),
        ("uk-motorcycle", {"text_colours": ["#000000", "#ffe040"]}, "text_colours",
         "#ffe040 (item 1) on background.colour #f6cf1a"),
        ("us-arizona", {"background.gradient": [[0, "#ffffff"], [1, "#dddddd"]], "text_colour": "#eeeeee"},
         "text_colour", "#eeeeee on every stop of background.gradient (#ffffff, #dddddd)"),
        # a row of no width squeezes its characters into nothing, yet labels them
        ("uk-motorcycle", {"rows.0.x0": 0.5, "rows.0.x1": 0.5}, "rows.0", "x0 0.5 must be left of x1 0.5"),
        # fewer patterns than rows, or none but stacked small characters: a plate without (all of) its number
        ("uk-motorcycle", {"formats": [{"patterns": ["CCNN"]}]}, "formats", "1 pattern rows but 2 text rows"),
        ("uk-motorcycle", {"formats": [{"patterns": ["(CC)", "--"]}]}, "formats", "holds 0 characters"),
        ("uk-motorcycle", {"formats": [{"patterns": ["CCNNNNN", "DDDD"]}]}, "formats", "holds 11 characters"),
        ("uk-motorcycle", {"formats": [{"patterns": ["CC()NN", "DDD"]}]}, "formats.0.patterns",
         "a stacked group is one '('"),
        ("uk-motorcycle", {"background.gradient": [[0, "#ffffff"]]}, "background.gradient", "at least two stops"),
        ("us-ohio", {"overlays": [{**STICKER, "h": 0.0}]}, "overlays.0", "cannot hold printed text"),
        ("uk-motorcycle", {"gap_graphics": [{"kind": "rect", "text": "NN"}]}, "gap_graphics.0",
         "text is printed on overlays only"),
    ],
)
def test_a_style_that_cannot_render_is_refused_when_read(
    tmp_path: Path, base: str, changes: dict, field: str, message: str
) -> None:
    path = _edited(tmp_path, base, changes)
    with pytest.raises(StyleError) as error:
        load_style(path)
    text = str(error.value)
    assert text.startswith(f"{path}: field ") and field in text and message in text and "\n" not in text


@pytest.mark.parametrize(
    ("base", "changes"),
    [
        # the edges of what the checks above accept still draw a plate and label it A-Z0-9
        ("uk-motorcycle", {"size_mm": [100, 200]}),
        ("uk-motorcycle", {"size_mm": [600, 100]}),
        ("uk-motorcycle", {"fonts": [{"file": "OSP-DIN.ttf", "condense": [0.5, 2.0], "stroke": [0, 8]}]}),
        ("uk-motorcycle", {"rows.0.spacing": [0.0, 0.5], "alphabets.C": "Z"}),
        ("uk-motorcycle", {"formats": [{"patterns": ["(CD)N", "DDD"]}], "alphabets": {"C": "AB", "D": "9"}}),
        ("uk-motorcycle", {"bolt_holes": [[-1, 2]], "background.graphics": [{"kind": "qr_code", "x": -1, "y": 2,
                                                                              "w": 2, "h": -1, "count": 100}]}),
        ("us-ohio", {"specialty": {**SPECIALTY, "code_patterns": ["L", "NA"], "side_emblem": 1.0,
                                   "emblem_width": [0.0, 0.5]}}),
        ("us-ohio", {"overlays": [{**STICKER, "x": 0.0, "y": 0.0, "w": 1 / 0.9, "h": 1 / 0.6}]}),
        # low contrast, but no lower than a real design (New Mexico's yellow on turquoise is 2.0); with a gradient,
        # one stop it shows on is enough
        ("uk-motorcycle", {"text_colour": "#a08000"}),
        ("us-arizona", {"background.gradient": [[0, "#ffffff"], [1, "#222222"]], "text_colour": "#eeeeee"}),
        # a rainbow narrow for its bands: the inner ones shrink away
        ("uk-motorcycle", {"background.graphics": [{"kind": "arcs", "x": 0.1, "y": 0.1, "w": 0.02, "h": 0.5,
                                                    "count": 3, "colour": "#ff0000", "colour2": "#0000ff"}]}),
        # characters touching the plate's top edge; every drawn 1 one of the two die shapes
        ("uk-motorcycle", {"rows.0.y": 0.25, "rows.0.height": 0.5}),
        ("uk-motorcycle", {"fonts": [{"file": "OSP-DIN.ttf", "flag_one": 0.5, "bare_one": 0.5}]}),
        ("uk-motorcycle", {"formats": [{"patterns": ["CCNNNN", "DDDD"]}]}),
        # a format's own rows stand in for the style's: one row here, where the style has two
        ("uk-motorcycle", {"formats": [{"patterns": ["CCNN"], "rows": [{"y": 0.5, "height": 0.5}]}]}),
    ],
)
def test_a_style_at_the_edges_of_the_checks_renders(tmp_path: Path, base: str, changes: dict) -> None:
    style = load_style(_edited(tmp_path, base, changes))
    for seed in range(4):
        plate = render_plate(style, np.random.default_rng(seed), height=44)
        assert re.fullmatch(r"[A-Z0-9]{1,10}", plate.text) and len(plate.char_boxes) == len(plate.text)


def test_every_bundled_style_prints_its_characters_in_a_contrasting_colour() -> None:
    from platelab.synth.style import MIN_TEXT_CONTRAST, contrast_ratio

    # the check's floor sits below every bundled design with a margin, so no real plate is near being refused
    lowest = min(
        max(contrast_ratio(colour, ground) for ground in
            ([c for _, c in s.background.gradient] if s.background.gradient else [s.background.colour]))
        for s in builtin_styles().values() for colour in (s.text_colour, *s.text_colours)
    )
    assert lowest >= 1.3 * MIN_TEXT_CONTRAST
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#777777") == 1.0


def _plain(**fields: object) -> PlateStyle:
    """Black characters on a white plate, one row, one face, a fixed spacing: what is dark is the characters' ink."""
    return PlateStyle.model_validate({
        "name": "plain", "region": "x", "size_mm": [400, 150],
        "rows": [{"y": 0.55, "height": 0.5, "x0": 0.05, "x1": 0.95, "spacing": [0.1, 0.1]}],
        "formats": [{"patterns": ["NNN"]}], "fonts": [{"file": "OSP-DIN.ttf"}], **fields,
    })


def _ink_bands(image: np.ndarray, x0: int, x1: int) -> list[tuple[int, int, int, int]]:
    """(top, bottom, left, right) of each run of inked rows between columns x0 and x1, top to bottom."""
    ink = image[:, x0:x1].min(axis=2) < 128
    rows = np.flatnonzero(ink.any(axis=1))
    runs = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1) if len(rows) else []
    bands = []
    for run in runs:
        cols = np.flatnonzero(ink[run].any(axis=0))
        bands.append((int(run[0]), int(run[-1]) + 1, x0 + int(cols[0]), x0 + int(cols[-1]) + 1))
    return bands


@pytest.mark.parametrize("code", ["a", "ab", "abc", "abcd"])
def test_a_stacked_code_draws_every_character_within_the_row(code: str) -> None:
    style = _plain(formats=[{"patterns": [f"({code})NNN"]}], alphabets={"a": "H", "b": "E", "c": "M", "d": "K"})
    height = 200
    for seed in range(3):
        plate = render_plate(style, np.random.default_rng(seed), height=height)
        assert len(plate.text) == 3
        first = int(plate.char_boxes[0, 0])
        bands = _ink_bands(plate.image, 0, first)
        assert len(bands) == len(code)
        char_h = 0.5 * height
        top, bottom = 0.55 * height - char_h / 2, 0.55 * height + char_h / 2
        assert top - 1 <= bands[0][0] and bands[-1][1] <= bottom + 1
        small = (0.45 if len(code) <= 2 else (1 - 0.05 * (len(code) - 1)) / len(code)) * char_h
        assert all(abs((b - t) - small) <= 2 for t, b, _, _ in bands)
        # the column is as wide as its widest character at the small size: the row's spacing follows it
        assert abs(first - max(right for _, _, _, right in bands) - 0.1 * char_h) <= 2


def test_a_stacked_character_keeps_its_own_width() -> None:
    # stretched to the column's width (the W's), a stacked I was a solid block
    style = _plain(formats=[{"patterns": ["(iw)NNN"]}], alphabets={"i": "I", "w": "W"})
    for seed in range(3):
        plate = render_plate(style, np.random.default_rng(seed), height=200)
        (_, _, i_left, i_right), (_, _, w_left, w_right) = _ink_bands(plate.image, 0, int(plate.char_boxes[0, 0]))
        assert i_right - i_left < 0.4 * (w_right - w_left)
        assert abs((i_left + i_right) / 2 - (w_left + w_right) / 2) <= 1.5


def test_a_specialty_code_of_three_letters_is_drawn_whole() -> None:
    specialty = {"side_code": 1.0, "code_patterns": ["LLL"], "emblems": [{"kind": "star"}], "palette": ["#000000"]}
    style = _plain(specialty=specialty)
    for seed in range(4):
        plate = render_plate(style, np.random.default_rng(seed), height=200)
        left, right = int(plate.char_boxes[0, 0]), int(np.ceil(plate.char_boxes[-1, 2]))
        before, after = _ink_bands(plate.image, 0, left), _ink_bands(plate.image, right, plate.image.shape[1])
        assert sorted([len(before), len(after)]) == [0, 3]


COVER = {"kind": "rect", "x": 0.0, "y": 0.0, "w": 0.35, "h": 0.25, "colour": "#c8202f", "probability": 0.99}
BLOCK = {"text": ["\u2588", "\u2588\u2588"], "x": 0.1, "y": 0.12, "height": 0.2, "colour": "#c8202f"}


@pytest.mark.parametrize("over", ["graphic", "printed"])
@pytest.mark.parametrize("height", [80, 128, 300])
def test_border_and_bolt_holes_lie_on_top_of_what_varies_per_plate(over: str, height: int) -> None:
    # drawn after the cached border and holes, a graphic or text drawn per plate covered them
    style = _plain(
        border={"colour": "#1b2a6e", "width": 0.04, "inset": 0.02}, bolt_holes=[[0.1, 0.12]],
        background={"graphics": [COVER]} if over == "graphic" else {}, printed=[BLOCK] if over == "printed" else [],
    )
    red, grey, blue = np.array([47, 32, 200]), np.array([60, 60, 60]), np.array([110, 42, 27])
    for seed in range(3):
        image = render_plate(style, np.random.default_rng(seed), height=height).image.astype(int)
        w = image.shape[1]
        hole_x, hole_y = round(0.1 * w), round(0.12 * height)
        assert np.abs(image[hole_y, hole_x + round(0.07 * height)] - red).max() < 30  # drawn on this plate
        assert np.abs(image[hole_y, hole_x] - grey).max() < 30
        if over == "graphic":
            assert np.abs(image[round(0.04 * height), round(0.2 * w)] - blue).max() < 30


@pytest.mark.parametrize("height", [44, 64, 90, 300])
def test_a_plate_that_draws_nothing_per_plate_looks_as_its_static_layer(height: int) -> None:
    # the border and holes drawn per plate, after nothing, are those the static layer caches, pixel for pixel
    style = builtin_styles()["us-texas"]
    never = Graphic(kind="rect", colour="#ff0000", probability=0.0)
    varies = style.model_copy(update={
        "background": style.background.model_copy(update={"graphics": [*style.background.graphics, never]})})
    assert style.border is not None and style.bolt_holes
    for seed in range(4):
        a = blank_plate(style, height, np.random.default_rng(seed))
        b = blank_plate(varies, height, np.random.default_rng(seed))
        assert a.tobytes() == b.tobytes()


def _ink(image: np.ndarray) -> np.ndarray:
    return image.min(axis=2) < 128


def test_every_letter_of_an_alphabet_is_drawn() -> None:
    # the last letter of an alphabet (Z, 9) was as likely as the others to be drawn, and labelled as drawn
    style = _plain(formats=[{"patterns": ["xxx"]}], alphabets={"x": "QZ"})
    drawn = "".join(render_plate(style, np.random.default_rng(seed), height=44).text for seed in range(6))
    assert set(drawn) == {"Q", "Z"}
    # a style's own alphabet of a default name replaces the default one
    assert render_plate(_plain(alphabets={"N": "7"}), np.random.default_rng(0), height=44).text == "777"


@pytest.mark.parametrize("align", ["left", "center", "right"])
def test_a_row_keeps_its_spacing_and_alignment_and_long_text_is_squeezed_into_it(align: str) -> None:
    height = 200
    short = _plain(rows=[{"y": 0.55, "height": 0.5, "x0": 0.05, "x1": 0.95, "spacing": [0.1, 0.1], "align": align}])
    plate = render_plate(short, np.random.default_rng(0), height=height, text="808")
    boxes, width = plate.char_boxes, plate.image.shape[1]
    gaps = boxes[1:, 0] - boxes[:-1, 2]
    assert np.abs(gaps - 0.1 * 0.5 * height).max() <= 1.5  # the row's spacing, not stretched to fill the row
    margins = {"left": boxes[0, 0] - 0.05 * width, "right": 0.95 * width - boxes[-1, 2]}
    if align == "center":
        assert abs(margins["left"] - margins["right"]) <= 2 and margins["left"] > 20
    else:
        assert abs(margins[align]) <= 1.5 and margins["right" if align == "left" else "left"] > 20
    long = short.model_copy(update={"formats": [PlateFormat(patterns=["NNNNNNNNNN"])]})
    boxes = render_plate(long, np.random.default_rng(0), height=height).char_boxes
    assert boxes[0, 0] >= 0.05 * width - 1.5 and boxes[-1, 2] <= 0.95 * width + 1.5


@pytest.mark.parametrize(("pattern", "width"), [("NN_NN", 0.85), ("NN-NN", 0.4), ("NN NN", 0.45)])
def test_a_separator_is_as_wide_as_its_kind_with_the_row_spacing_each_side(pattern: str, width: float) -> None:
    height, spacing, char_h = 200, 0.1, 0.5 * 200
    plate = render_plate(_plain(formats=[{"patterns": [pattern]}]), np.random.default_rng(1), height=height)
    (_, (x0, _, x1, _)), = plate.separators
    boxes = plate.char_boxes
    assert abs(boxes[2, 0] - boxes[1, 2] - (width + spacing) * char_h) <= 1.5
    assert abs((x1 - x0) - (width - spacing) * char_h) <= 1.5


def test_a_characters_box_is_its_ink() -> None:
    # Q's tail below the line, 0's overshoot above it: the box is where the ink is, not the row's cap band
    style = _plain(formats=[{"patterns": ["qoj"]}], alphabets={"q": "Q", "o": "0", "j": "J"})
    plate = render_plate(style, np.random.default_rng(0), height=200)
    assert plate.text == "Q0J"
    ink = _ink(plate.image)
    for x0, y0, x1, y1 in plate.char_boxes:
        rows = np.flatnonzero(ink[:, int(x0) + 1 : int(np.ceil(x1)) - 1].any(axis=1))
        assert abs(rows[0] - y0) <= 1.5 and abs(rows[-1] + 1 - y1) <= 1.5


def test_a_given_text_fills_the_rows_of_its_format_in_order() -> None:
    style = builtin_styles()["uk-motorcycle"]
    plate = render_plate(style, np.random.default_rng(0), height=120, text="AB12XYZ")
    assert plate.text == "AB12XYZ"
    centres = (plate.char_boxes[:, 1] + plate.char_boxes[:, 3]) / 2
    assert centres[:4].max() < 0.5 * 120 < centres[4:].min()  # CCNN on the top row, DDD below it


def test_every_text_colour_of_a_style_is_drawn() -> None:
    style = _plain(text_colours=["#0000ff"])
    inks = set()
    for seed in range(8):
        image = render_plate(style, np.random.default_rng(seed), height=64).image.astype(int)
        darkest = image[image.sum(axis=2).argmin() // image.shape[1], image.sum(axis=2).argmin() % image.shape[1]]
        inks.add("blue" if darkest[0] > 200 else "black")
    assert inks == {"blue", "black"}


def test_bent_characters_keep_their_ink_in_boxes_grown_by_the_bend() -> None:
    style = _plain()
    flat = render_plate(style, np.random.default_rng(2), height=120, text="888")
    bent = render_plate(style, np.random.default_rng(2), height=120, text="888", glyph_warp=0.04)
    grown = bent.char_boxes - flat.char_boxes
    assert (grown[:, :2] < 0).all() and (grown[:, 2:] > 0).all()
    assert np.allclose(grown, grown[0, 2] * np.array([-1, -1, 1, 1]), atol=1e-3)


def test_a_plate_at_a_cached_height_leaves_the_cache_as_it_was() -> None:
    from platelab.synth.render import BACKGROUND_VARIANTS, static_layer

    style = _plain(printed=[{"text": ["PLAIN"], "y": 0.15, "height": 0.12}])
    for height in (64, 128):
        variant = int(np.random.default_rng(4).integers(BACKGROUND_VARIANTS))
        blank = blank_plate(style, height, np.random.default_rng(4)).copy()
        render_plate(style, np.random.default_rng(4), height=height)
        assert blank.tobytes() == blank_plate(style, height, np.random.default_rng(4)).tobytes()
        assert blank.tobytes() == static_layer(style, height, variant).tobytes()  # drawn at its height, not scaled


def test_a_printed_text_with_choices_is_chosen_per_plate_and_edited_copies_draw_their_own() -> None:
    style = _plain(printed=[{"text": ["AAAA", "WWWW"], "y": 0.15, "height": 0.12}])
    blanks = {blank_plate(style, 60, np.random.default_rng(seed)).tobytes() for seed in range(8)}
    assert len(blanks) == 2
    # an edited copy keeps the name but not the look
    yellow = style.model_copy(update={"background": style.background.model_copy(update={"colour": "#ffff00"})})
    assert blank_plate(yellow, 60, np.random.default_rng(0))[30, 5].tolist() == [0, 255, 255]


def test_every_stroke_of_a_fonts_range_is_drawn() -> None:
    style = _plain(fonts=[{"file": "OSP-DIN.ttf", "stroke": [0, 1]}])
    boxes = [render_plate(style, np.random.default_rng(seed), height=200).char_boxes[0] for seed in range(8)]
    widths = {round(float(x1 - x0)) for x0, _, x1, _ in boxes}
    assert len(widths) == 2  # a glyph is 2 px wider at 64 px per px of stroke


def test_a_stickers_text_is_printed_in_its_second_colour_and_a_right_aligned_text_ends_at_its_anchor() -> None:
    sticker = {"kind": "rect", "x": 0.78, "y": 0.0, "w": 0.2, "h": 0.25, "colour": "#ff0000", "colour2": "#000000",
               "text": "NN"}
    right = {"text": ["WWW"], "x": 0.5, "y": 0.9, "height": 0.1, "align": "right"}
    plate = render_plate(_plain(overlays=[sticker], printed=[right]), np.random.default_rng(0), height=200)
    h, w = plate.image.shape[:2]
    box = plate.image[: round(0.25 * h), round(0.78 * w) : round(0.98 * w)]
    assert (box.max(axis=2) < 60).mean() > 0.05  # black digits on the red sticker
    columns = np.flatnonzero(_ink(plate.image[round(0.85 * h) :]).any(axis=0))
    assert abs(columns[-1] + 1 - 0.5 * w) <= 2 and columns[0] < 0.5 * w - 20


def test_render_plate_names_a_style_given_by_name_a_height_under_a_pixel_and_characters_it_cannot_draw() -> None:
    # each was a raw AttributeError, an OpenCV assertion, or a plate labelled with characters no model reads
    style = builtin_styles()["us-texas"]
    with pytest.raises(TypeError, match=r"style must be a PlateStyle \(builtin_styles\(\)\[name\]"):
        render_plate("us-texas", np.random.default_rng(0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="height must be 1 pixel or more, got 0"):
        render_plate(style, np.random.default_rng(0), height=0)
    with pytest.raises(ValueError, match="text 'abc123': 'abc' in no alphabet of style us-texas"):
        render_plate(style, np.random.default_rng(0), text="abc123")
    assert render_plate(style, np.random.default_rng(0), height=1, text="ABC123").text == "ABC123"
