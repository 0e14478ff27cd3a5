"""A user's own plate styles, given by path wherever styles are chosen: drawn, trained on, exported, read with."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from platelab.cli import app
from platelab.synth.style import StyleError, select_styles

if TYPE_CHECKING:
    from platelab.train.config import RecognizerTrainConfig

EXAMPLE = Path(__file__).parents[1] / "docs" / "examples" / "ar-mercosur.yaml"
AR_PLATE = re.compile(r"[A-Z]{2}[0-9]{3}[A-Z]{2}")  # AA 123 BB, its gaps not part of the label


def _style(folder: Path, name: str = "ar-mercosur", **changes: str) -> Path:
    """The docs' example style as folder/name.yaml, with top-level lines replaced (field: value)."""
    text = EXAMPLE.read_text(encoding="utf-8")
    for field, value in changes.items():
        text = re.sub(rf"^{field}:.*$", f"{field}: {value}", text, count=1, flags=re.M)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _one_line_error(args: list[str]) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
    return result.output


def test_a_style_by_path_renders_crops_labelled_in_its_format(tmp_path: Path) -> None:
    out = tmp_path / "crops"
    result = CliRunner().invoke(app, ["synth", "crops", "--out", str(out), "--count", "6", "--styles", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    with open(out / "labels.tsv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len(rows) == 6 and {row["state"] for row in rows} == {"ar"}
    assert all(AR_PLATE.fullmatch(row["plate"]) for row in rows), [row["plate"] for row in rows]


def test_user_styles_join_bundled_ones_and_a_folder_loads_each_file(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    _style(folder)
    _style(folder, "ar-mercosur-red", description="red characters", text_colour='"#b01c1c"')
    (folder / "notes.txt").write_text("not a style", encoding="utf-8")
    names = [s.name for s in select_styles(["eu-de", f"{folder}/"])]
    assert names == ["eu-de", "ar-mercosur-red", "ar-mercosur"]  # files in name order
    # the same file twice, by the folder and by itself, is one style
    assert [s.name for s in select_styles([str(folder / "ar-mercosur.yaml"), f"{folder}/"])] == names[:0:-1]

    sheet = tmp_path / "sheet.png"
    result = CliRunner().invoke(app, ["synth", "styles", "--styles", f"{folder}/", "--sheet", str(sheet)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:2] == [line for line in result.output.splitlines() if "ar-mercosur" in line]
    assert sheet.stat().st_size > 0


def test_a_bad_user_style_fails_in_one_line_naming_its_file_and_field(tmp_path: Path) -> None:
    bad = _style(tmp_path, size_mm="[400, 13]")
    message = _one_line_error(["synth", "crops", "--out", str(tmp_path / "out"), "--styles", str(bad)])
    assert f"{bad}: field size_mm" in message
    # a region names a format prior, chosen in lower case: one written otherwise could never be chosen
    upper = _style(tmp_path / "upper", region="AR")
    assert "field region" in _one_line_error(["synth", "styles", "--styles", str(upper)])
    # checked before anything is drawn, not at the first plate drawn in that font, part-way through a run; listed,
    # it is marked as a bundled style missing a font is
    no_font = _style(tmp_path / "no-font", fonts="[{file: NoSuchFace.ttf}]")
    message = _one_line_error(["synth", "crops", "--out", str(tmp_path / "out"), "--styles", str(no_font)])
    assert f"{no_font}: field fonts.0.file: font 'NoSuchFace.ttf' is not installed" in message
    assert not (tmp_path / "out").exists()
    listed = CliRunner().invoke(app, ["synth", "styles", "--styles", str(no_font)])
    assert listed.exit_code == 0 and "[cannot be drawn here: NoSuchFace.ttf not installed]" in listed.output
    missing = tmp_path / "nowhere.yaml"
    assert f"{missing}: cannot read" in _one_line_error(["synth", "styles", "--styles", str(missing)])
    (tmp_path / "empty").mkdir()
    assert "without style files" in _one_line_error(["synth", "styles", "--styles", f"{tmp_path / 'empty'}/"])


def test_a_long_value_in_a_style_is_cut_in_its_one_line_error(tmp_path: Path) -> None:
    long_set = _style(tmp_path / "set", fonts="f" * 10_000)
    message = _one_line_error(["synth", "crops", "--out", str(tmp_path / "out"), "--styles", str(long_set)])
    assert message.startswith(f"platelab: {long_set}: field fonts: Value error, no font set named "
                              f"'{'f' * 58}…{'f' * 19}' (10000 characters); known: ")
    long_file = _style(tmp_path / "file", fonts=f"[{{file: {'f' * 10_000}.ttf}}]")
    message = _one_line_error(["synth", "crops", "--out", str(tmp_path / "out"), "--styles", str(long_file)])
    assert f"{long_file}: field fonts.0.file: font '{'f' * 58}…{'f' * 15}.ttf' (10004 characters) is not " in message
    assert "f" * 60 not in message


def test_a_name_taken_by_a_bundled_style_or_another_file_is_refused(tmp_path: Path) -> None:
    clash = _style(tmp_path, "br-mercosur")
    message = _one_line_error(["synth", "styles", "--styles", str(clash)])
    assert f"{clash}: field name: 'br-mercosur' is a bundled style's name" in message
    first, second = _style(tmp_path / "a"), _style(tmp_path / "b")
    with pytest.raises(StyleError, match=f"{second}: field name: 'ar-mercosur' is also the name of {first}"):
        select_styles([str(first), str(second)])


def test_a_recipes_relative_style_path_is_relative_to_the_recipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from platelab.train.config import load_detector_config, load_train_config

    style = _style(tmp_path / "styles")
    recipe = tmp_path / "recipes" / "ar.yaml"
    recipe.parent.mkdir()
    recipe.write_text("styles: [../styles/ar-mercosur.yaml, us-texas]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "styles")  # where the path would name nothing
    for load in (load_train_config, load_detector_config):
        cfg = load(recipe)
        assert cfg.styles == [str(style.resolve()), "us-texas"]
        assert [s.name for s in select_styles(cfg.styles)] == ["us-texas", "ar-mercosur"]


def _ar_formats(model: Path) -> list[dict[str, object]]:
    """The formats of region ar that an exported model's prior carries."""
    import onnx

    metadata = {p.key: p.value for p in onnx.load(str(model)).metadata_props}
    return json.loads(metadata["formats"])["ar"]


AR_FORMAT = {"alphabets": ["ABCDEFGHIJKLMNOPQRSTUVWXYZ"] * 2 + ["0123456789"] * 3 + ["ABCDEFGHIJKLMNOPQRSTUVWXYZ"] * 2,
             "weight": 1.0}


def _tiny_run(out: Path, styles: list[str], **changes: object) -> RecognizerTrainConfig:
    from platelab.train.config import RecognizerTrainConfig

    settings: dict[str, object] = dict(out_dir=out, steps=2, batch_size=4, workers=0, val_size=4, val_every=100,
                                       warmup_steps=1, threads=1, styles=styles)
    return RecognizerTrainConfig.model_validate(settings | changes)


def test_a_run_on_a_user_style_exports_its_prior_and_resumes_from_its_copy_once_the_file_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    from platelab.predict.recognizer import RecognitionPredictor
    from platelab.train.loop import STYLE_COPIES, STYLE_FILES, check_run, style_copy
    from platelab.train.recipe import export_run
    from platelab.train.recognizer import train_recognizer

    style = _style(tmp_path / "styles")
    cfg = _tiny_run(tmp_path / "run", [str(style)], stop_after=1)
    train_recognizer(cfg)
    recorded = json.loads((cfg.out_dir / STYLE_FILES).read_text())
    assert list(recorded) == [str(style.resolve())]
    copy = style_copy(cfg.out_dir, str(style.resolve()), recorded[str(style.resolve())])
    assert copy.read_bytes() == style.read_bytes() and copy.name == style.name  # the name names the style

    model = export_run(cfg.out_dir, tmp_path / "ar.onnx")
    predictor = RecognitionPredictor(model, prior="ar")  # a region countries.yaml has no entry for
    assert _ar_formats(model) == [AR_FORMAT] and predictor.prior is not None

    assert check_run(cfg, resume=True) == [str(style.resolve())]  # the same file: the run continues with it
    # edited: the run resumes and exports with what it was trained on, its copy, and says so once
    style.write_text(style.read_text(encoding="utf-8").replace("weight: 1}", "weight: 2}"), encoding="utf-8")
    assert check_run(cfg, resume=True) == [str(copy)]
    capsys.readouterr()
    train_recognizer(cfg.model_copy(update={"stop_after": None}), resume=True)
    notes = [line for line in capsys.readouterr().err.splitlines() if "changed since run" in line]
    assert len(notes) == 1 and notes[0].startswith(f"{style.resolve()}: changed since run") and str(copy) in notes[0]
    assert json.loads((cfg.out_dir / STYLE_FILES).read_text()) == recorded  # still the file it started from
    assert _ar_formats(export_run(cfg.out_dir, tmp_path / "again.onnx")) == [AR_FORMAT]  # not weight 2

    # with its copy gone as well, an edited file is refused in one line naming it
    shutil.rmtree(cfg.out_dir / STYLE_COPIES)
    with pytest.raises(ValueError, match=f"{re.escape(str(style.resolve()))}: changed since run"):
        check_run(cfg, resume=True)
    with pytest.raises(ValueError, match="changed since run"):
        export_run(cfg.out_dir, tmp_path / "refused.onnx")
    # and a copy that changed too is refused in one line naming the file
    copy.parent.mkdir(parents=True)
    copy.write_text("region: xx\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"{re.escape(str(style.resolve()))}: changed since run .* and the run's "
                                         f"copy {re.escape(str(copy))} is changed too"):
        check_run(cfg, resume=True)


def test_a_run_moved_away_from_its_style_file_exports_and_resumes_with_its_copy(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from platelab.predict.recognizer import RecognitionPredictor
    from platelab.train.recipe import check_recognizer_recipe
    from platelab.train.recognizer import train_recognizer

    style = _style(tmp_path / "styles")
    cfg = _tiny_run(tmp_path / "run", [str(style), "us-texas"], stop_after=1)
    train_recognizer(cfg)
    style.unlink()  # as on the machine the run is exported or resumed on
    moved = tmp_path / "elsewhere" / "run"
    moved.parent.mkdir()
    shutil.move(cfg.out_dir, moved)

    model = tmp_path / "moved.onnx"
    result = CliRunner().invoke(app, ["export", str(moved), "--out", str(model)])
    assert result.exit_code == 0, result.output
    assert _ar_formats(model) == [AR_FORMAT] and RecognitionPredictor(model, prior="ar").prior is not None

    resumed = cfg.model_copy(update={"out_dir": moved, "stop_after": None})
    check_recognizer_recipe(resumed, resume=True)
    train_recognizer(resumed, resume=True)
    steps = [json.loads(line)["step"] for line in (moved / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2]


def test_a_run_keeps_a_style_that_extends_another_whole_and_sees_an_edit_to_either(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from platelab.train.loop import STYLE_FILES, run_styles
    from platelab.train.recognizer import train_recognizer

    base = _style(tmp_path / "styles", "ar-base")
    red = tmp_path / "styles" / "ar-red.yaml"
    red.write_text('extends: ar-base.yaml\nname: ar-red\ntext_colour: "#b01c1c"\n', encoding="utf-8")
    cfg = _tiny_run(tmp_path / "run", [str(red)], steps=1)
    train_recognizer(cfg)
    recorded = json.loads((cfg.out_dir / STYLE_FILES).read_text())
    assert list(recorded) == [str(red.resolve())]
    assert run_styles(cfg.out_dir, cfg.styles) == [str(red.resolve())]  # both files as they were: drawn in place
    base.write_text(base.read_text(encoding="utf-8").replace("weight: 1}", "weight: 2}"), encoding="utf-8")
    (copy,) = run_styles(cfg.out_dir, cfg.styles)  # the file it extends edited: the run's copy, which stands alone
    assert copy != str(red.resolve()) and Path(copy).name == "ar-red.yaml"
    shutil.rmtree(tmp_path / "styles")
    (kept,) = select_styles([copy])
    assert (kept.name, kept.text_colour, kept.region) == ("ar-red", "#b01c1c", "ar")
    assert [f.weight for f in kept.formats] == [1]


def test_two_style_files_of_one_name_from_two_folders_are_both_kept(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from platelab.train.loop import STYLE_FILES, run_styles
    from platelab.train.recognizer import train_recognizer

    first, second = _style(tmp_path / "a"), _style(tmp_path / "b", description="the other one")
    for file, name in ((first, "ar-one"), (second, "ar-two")):
        file.write_text(file.read_text(encoding="utf-8") + f"name: {name}\n", encoding="utf-8")
    cfg = _tiny_run(tmp_path / "run", [str(first), str(second)], steps=1)
    train_recognizer(cfg)
    assert list(json.loads((cfg.out_dir / STYLE_FILES).read_text())) == [str(first.resolve()), str(second.resolve())]
    first.unlink()
    second.unlink()
    copies = run_styles(cfg.out_dir, cfg.styles)
    assert len(set(copies)) == 2 and all(Path(c).name == "ar-mercosur.yaml" for c in copies)
    assert [s.name for s in select_styles(copies)] == ["ar-one", "ar-two"]


def test_finetune_mixes_in_a_user_style_and_its_export_reads_with_its_prior(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from platelab.predict.recognizer import RecognitionPredictor
    from platelab.train.config import RecognizerTrainConfig
    from platelab.train.recognizer import train_recognizer

    source = RecognizerTrainConfig(out_dir=tmp_path / "source", steps=2, batch_size=4, workers=0, val_size=4,
                                   warmup_steps=1, threads=1, styles=["us-texas"])
    train_recognizer(source)
    crops = tmp_path / "crops"
    result = CliRunner().invoke(app, ["synth", "crops", "--out", str(crops), "--count", "5", "--styles", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    out, model = tmp_path / "tuned", tmp_path / "tuned.onnx"
    result = CliRunner().invoke(app, ["finetune", "--from", str(source.out_dir), "--data", str(crops), "--epochs", "1",
                                      "--out", str(out), "--styles", str(EXAMPLE), "--export", str(model)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["styles"] == [str(EXAMPLE.resolve())]
    assert RecognitionPredictor(model, prior="ar").prior is not None

    # adapted again, to another region, from that export: the model keeps the first region's prior
    other = _style(tmp_path / "other", "zz-plate", region="zz")
    again, model2 = tmp_path / "again", tmp_path / "again.onnx"
    result = CliRunner().invoke(app, ["finetune", "--from", str(model), "--data", str(crops), "--epochs", "1",
                                      "--out", str(again), "--styles", str(other), "--export", str(model2),
                                      "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert json.loads((again / "config.json").read_text())["seed"] == 3
    assert RecognitionPredictor(model2, prior="zz").prior is not None
    assert RecognitionPredictor(model2, prior="ar").prior is not None


def test_a_bundled_style_whose_font_is_missing_is_refused_before_anything_is_drawn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import platelab.synth.fonts as fonts

    monkeypatch.setattr(fonts, "_font_index", lambda: {})  # as on a machine without the Debian font packages
    out = tmp_path / "crops"
    result = CliRunner().invoke(app, ["synth", "crops", "--out", str(out), "--count", "2", "--styles", "us-texas"])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "style us-texas: field fonts" in message and "is not installed" in message
    assert not out.exists()


def test_the_style_list_marks_the_styles_whose_fonts_are_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import platelab.synth.fonts as fonts

    monkeypatch.setattr(fonts, "_font_index", lambda: {})
    result = CliRunner().invoke(app, ["synth", "styles", "--styles", "us-texas"])
    assert result.exit_code == 0, result.output
    line = result.output.splitlines()[0]
    assert line.startswith("us-texas") and "[cannot be drawn here: " in line
    assert "NationalPark-Heavy.otf" in line and line.endswith(" not installed]")
    assert "1 style(s) need fonts that are not installed" in result.output
    monkeypatch.undo()  # the fonts this machine has: every bundled style drawable
    assert "cannot be drawn" not in CliRunner().invoke(app, ["synth", "styles"]).output


def test_styles_are_chosen_by_country_and_a_folder_without_its_slash_is_hinted_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    us = select_styles(["us"])  # as --prior us names them
    assert us and {s.country for s in us} == {"us"} and len(us) == len(select_styles(["us-*"]))
    _style(tmp_path / "mine")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StyleError, match=r"^no style matches mine \(a folder of styles is written with a slash: "
                                         r"mine/\); known: "):
        select_styles(["mine"])


def test_a_region_may_not_be_named_auto(tmp_path: Path) -> None:
    from platelab.synth.style import load_user_styles

    path = _style(tmp_path, region="auto")  # else the model's priors would list auto twice, one of them unreachable
    with pytest.raises(StyleError, match=r"field region: .*'auto' is --prior's name for reading each plate"):
        load_user_styles([str(path)])


def test_a_format_too_long_for_a_plate_is_refused_with_its_length(tmp_path: Path) -> None:
    from platelab.synth.style import load_user_styles

    path = _style(tmp_path)
    text = path.read_text(encoding="utf-8")
    formats = re.search(r"patterns: \[([^\]]+)\]", text)
    assert formats is not None
    path.write_text(text.replace(formats.group(0), "patterns: [LLNNNLLNNNLL]"), encoding="utf-8")
    with pytest.raises(StyleError,
                       match=r"field formats\.0: Value error, 'LLNNNLLNNNLL' holds 12 characters; a plate holds 1"):
        load_user_styles([str(path)])


def test_text_on_a_graphic_that_prints_none_is_refused_and_gradient_stops_take_any_order(tmp_path: Path) -> None:
    import yaml

    from platelab.synth.style import load_user_styles

    def style(file: str, **fields: object) -> str:
        data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")) | fields
        path = tmp_path / f"{file}.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        return str(path)

    with pytest.raises(StyleError,
                       match=r"field background\.graphics\.0: Value error, text is printed on overlays only"):
        load_user_styles([style("worded", background={"graphics": [{"kind": "rect", "text": "OOPS"}]})])
    (graded,) = load_user_styles([style("graded", background={"gradient": [[1, "#ff0000"], [0, "#0000ff"]]})])
    assert graded.background.gradient == [(0.0, "#0000ff"), (1.0, "#ff0000")]
    with pytest.raises(StyleError, match=r"field name: String should have at least 1 character"):
        load_user_styles([style("unnamed", name="")])


def test_a_printed_text_without_a_font_needs_the_default_one_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import platelab.synth.fonts as fonts
    from platelab.synth.render import LABEL_FONT
    from platelab.synth.style import missing_fonts

    (texas,) = select_styles(["us-texas"])
    assert any(text.font is None for text in texas.printed)
    index = {name: path for name, path in fonts._font_index().items() if name != LABEL_FONT}
    monkeypatch.setattr(fonts, "_font_index", lambda: index)
    assert LABEL_FONT in missing_fonts(texas)


def test_a_font_that_cannot_draw_the_style_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """A file named .ttf that is no font, or a printed text holding a line break, stopped the first plate drawn with
    it, after the output folder was made, with a message naming neither the file nor the field."""
    import yaml

    (tmp_path / "noise.ttf").write_bytes(bytes(range(256)) * 8)
    example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    printed = [{**example["printed"][0], "text": ["TWO\nLINES"]}]
    for field, changes in (("fonts.0.file", {"fonts": [{"file": str(tmp_path / "noise.ttf")}]}),
                           ("printed.0.text", {"printed": printed})):
        style = tmp_path / f"{field}.yaml"
        style.write_text(yaml.safe_dump(example | changes), encoding="utf-8")
        out = tmp_path / field
        message = _one_line_error(["synth", "crops", "--styles", str(style), "--out", str(out), "--count", "2"])
        assert f"{style}: field {field}: " in " ".join(message.split())
        assert not out.exists()
