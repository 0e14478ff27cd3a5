"""The US die shapes the engine draws in place of a font's own glyphs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from platelab.synth.fonts import DieShapes, glyph
from platelab.synth.style import FontChoice, StyleError


def test_monospaced_dies_squeeze_w_and_m_to_the_width_of_the_rest() -> None:
    mono = DieShapes(monospaced=True)
    for font in ("RG2014C.ttf", "LiberationSansNarrow-Bold.ttf"):
        h_width = glyph(font, "H").mask.shape[1]
        for letter in "WM":
            own, squeezed = glyph(font, letter).mask, glyph(font, letter, 0, mono).mask
            assert squeezed.shape[0] == own.shape[0]
            assert squeezed.shape[1] == min(own.shape[1], round(1.1 * h_width))
        assert glyph(font, "W", 0, mono).mask.shape[1] < glyph(font, "W").mask.shape[1]


def test_die_i_has_crossbars_and_other_characters_keep_the_font() -> None:
    plain = glyph("RG2014C.ttf", "I").mask
    serifed = glyph("RG2014C.ttf", "I", 0, DieShapes(serif_i=True)).mask
    assert serifed.shape[1] > 2 * plain.shape[1]
    assert (serifed[0] > 128).mean() > 0.9 and (serifed[-1] > 128).mean() > 0.9
    both = DieShapes(serif_i=True, monospaced=True)
    assert np.array_equal(glyph("RG2014C.ttf", "A", 0, both).mask, glyph("RG2014C.ttf", "A").mask)


def test_die_w_has_upright_sides_and_a_short_middle_v() -> None:
    font = "RG2014C.ttf"
    die_w = glyph(font, "W", 0, DieShapes(die_w=True)).mask > 128
    height, width = die_w.shape
    assert width == round(1.1 * glyph(font, "H").mask.shape[1])
    middle = die_w[:, width // 2 - 1 : width // 2 + 2].any(1)
    # the middle column has ink only in the lower part: the V stops at about half height
    assert not middle[: height // 3].any() and middle[-height // 3 :].any()
    # both sides have ink near the top corners, as upright stems do
    assert die_w[2, : width // 4].any() and die_w[2, -width // 4 :].any()


def test_flag_one_is_a_bare_bar_with_a_flag_and_no_base() -> None:
    font = "RG2014D.ttf"
    one = glyph(font, "1", 0, DieShapes(flag_one=True)).mask > 128
    bar = glyph(font, "I").mask.shape[1]
    height, width = one.shape
    assert width > bar and one[height // 2, -bar:].sum() >= bar - 2  # the bar at the right
    assert one[: height // 4, : width - bar].any()  # the flag, top left
    assert not one[-3:, : width - bar].any()  # no base


def test_bare_one_is_the_fonts_i_and_zero_o_its_zero() -> None:
    font = "OSP-DIN.ttf"
    grey_plate = DieShapes(bare_one=True, zero_o=True)
    assert np.array_equal(glyph(font, "1", 0, grey_plate).mask, glyph(font, "I").mask)
    assert np.array_equal(glyph(font, "O", 0, grey_plate).mask, glyph(font, "0").mask)
    assert not np.array_equal(glyph(font, "1").mask, glyph(font, "I").mask)
    assert not np.array_equal(glyph(font, "O").mask, glyph(font, "0").mask)


def test_a_plate_draws_its_ones_one_way_only() -> None:
    with pytest.raises(ValidationError, match="flag_one \\+ bare_one"):
        FontChoice(file="OSP-DIN.ttf", flag_one=0.6, bare_one=0.5)


def test_box_zero_has_straight_sides_and_round_corners() -> None:
    font = "OSP-DIN.ttf"
    zero = glyph(font, "0", 0, DieShapes(box_zero=True)).mask > 128
    height, width = zero.shape
    assert width == glyph(font, "0").mask.shape[1]
    left_edges = [np.argmax(row) for row in zero[height // 4 : 3 * height // 4]]
    assert max(left_edges) - min(left_edges) <= 1  # a straight side over the middle half
    assert not zero[0, 0] and not zero[-1, -1]  # rounded corners
    assert not zero[height // 2, width // 2]  # a ring, hollow inside
    # the grey plates' O is that same box
    grey_plate = DieShapes(zero_o=True, box_zero=True)
    assert np.array_equal(glyph(font, "O", 0, grey_plate).mask, glyph(font, "0", 0, grey_plate).mask)


def test_a_font_set_that_cannot_be_drawn_is_one_line_naming_fonts_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from platelab.synth import fonts

    for body, field in [
        ("eu-din: []\n", "eu-din"),
        ("eu-din:\n  - {file: OSP-DIN.ttf, stroke: [3, 0]}\n", "eu-din.0.stroke"),
    ]:
        path = tmp_path / "fonts.yaml"
        path.write_text(body)
        monkeypatch.setattr(fonts, "FONT_SETS_FILE", path)
        fonts.font_sets.cache_clear()
        try:
            with pytest.raises(StyleError) as error:
                fonts.font_sets()
        finally:
            fonts.font_sets.cache_clear()
        assert str(error.value).startswith(f"{path}: field {field}: ") and "\n" not in str(error.value)


def test_a_missing_font_stops_only_the_styles_drawn_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from platelab.synth import fonts
    from platelab.synth.render import render_plate
    from platelab.synth.style import select_styles

    index = {name: path for name, path in fonts._font_index().items() if name != "tiresias_lpfont_bold.ttf"}
    monkeypatch.setattr(fonts, "_font_index", lambda: index)
    for cached in (fonts._pil_font, fonts._cap_metrics, fonts.glyph, fonts.draws_alike):  # drawn ones look up none
        cached.cache_clear()
    rng = np.random.default_rng(0)
    (texas,) = select_styles(["us-texas"])  # styles load whatever is installed: fonts are what drawing needs
    assert render_plate(texas, rng, height=44).text
    (uk,) = select_styles(["uk-rear"])
    with pytest.raises(fonts.FontNotFoundError, match=r"^font 'tiresias_lpfont_bold\.ttf' is not installed; "):
        render_plate(uk, rng, height=44)


def test_a_font_is_found_by_its_absolute_path_and_a_format_it_cannot_draw_is_named(tmp_path: Path) -> None:
    from platelab.synth import fonts

    installed = fonts.find_font("DejaVuSans-Bold.ttf")
    assert fonts.find_font(str(installed.resolve())) == installed.resolve()
    # a long path (a deep temporary folder) is cut in the middle, its file name kept
    with pytest.raises(fonts.FontNotFoundError, match=r"^font '\S+missing\.ttf'( \(\d+ characters\))?: no such file$"):
        fonts.find_font(str(tmp_path / "missing.ttf"))
    # a Type 1 font (fonts-urw-base35 installs them beside its OpenType files) is a format, not a missing font
    with pytest.raises(fonts.FontNotFoundError, match=r"TrueType and OpenType files \(\.ttf, \.otf\), not \.pfb$"):
        fonts.find_font("NimbusSansNarrow-Bold.pfb")


def test_a_users_own_font_folder_is_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from platelab.synth import fonts

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    (tmp_path / "fonts").mkdir()
    assert tmp_path / "fonts" in fonts.font_dirs()


def test_the_fonts_debian_packages_named_in_errors_are_those_the_ci_installs() -> None:
    from platelab.synth.fonts import FONT_PACKAGES

    runtime = (Path(__file__).parents[1] / ".ci" / "apt-runtime.txt").read_text().split()
    assert sorted(FONT_PACKAGES) == sorted(p for p in runtime if p.startswith("fonts-"))


def test_without_the_fonts_the_demo_says_which_packages_in_one_line_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from platelab.cli import app
    from platelab.synth import fonts

    monkeypatch.setattr(fonts, "_font_index", dict)  # a wheel installed where none of the plate fonts are
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["read"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("platelab: style us-") and "is not installed" in lines[0]
    assert "apt-get install fonts-opendin fonts-roadgeek" in lines[0]
    assert not (tmp_path / "platelab-demo").exists()


def test_letters_of_one_size_but_another_shape_do_not_draw_alike() -> None:
    from platelab.synth.fonts import draws_alike

    # RG2014D's H and N, C and G: boxes of one size, a quarter of their ink apart
    assert not draws_alike("RG2014D.ttf", "H", "N") and not draws_alike("RG2014D.ttf", "C", "G")
    # DIN's B and D, 7% apart: near, but a camera still tells them apart
    assert not draws_alike("OSP-DIN.ttf", "B", "D") and draws_alike("OSP-DIN.ttf", "O", "0")


def test_a_font_in_the_users_font_folders_comes_before_an_installed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from platelab.synth import fonts

    mine = tmp_path / "DejaVuSans-Bold.ttf"
    shutil.copy(fonts.find_font("DejaVuSans-Bold.ttf"), mine)
    monkeypatch.setenv(fonts.FONT_DIRS_ENV, str(tmp_path))
    fonts._font_index.cache_clear()
    try:
        assert fonts.find_font("DejaVuSans-Bold.ttf") == mine
    finally:
        monkeypatch.undo()
        fonts._font_index.cache_clear()
