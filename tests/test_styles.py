"""Plate styles load, validate with clear errors, and render what their labels say."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from platelab.synth.render import choose, render_plate
from platelab.synth.style import StyleError, builtin_styles, load_style, reweighted

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
        ("uk-motorcycle", {"formats": [{"patterns": ["(-)NN", "DDD"]}]}, "formats[0]", "a stacked group holds"),
        ("uk-motorcycle", {"formats": [{"patterns": ["( )NN", "DDD"]}]}, "formats[0]", "a stacked group holds"),
        ("uk-motorcycle", {"formats": [{"patterns": ["CC(_)NN", "DDD"]}]}, "formats[0]", "a stacked group holds"),
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
        # a rainbow narrow for its bands: the inner ones shrink away
        ("uk-motorcycle", {"background.graphics": [{"kind": "arcs", "x": 0.1, "y": 0.1, "w": 0.02, "h": 0.5,
                                                    "count": 3, "colour": "#ff0000", "colour2": "#0000ff"}]}),
    ],
)
def test_a_style_at_the_edges_of_the_checks_renders(tmp_path: Path, base: str, changes: dict) -> None:
    style = load_style(_edited(tmp_path, base, changes))
    for seed in range(4):
        plate = render_plate(style, np.random.default_rng(seed), height=44)
        assert re.fullmatch(r"[A-Z0-9]{1,10}", plate.text) and len(plate.char_boxes) == len(plate.text)
