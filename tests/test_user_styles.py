"""A user's own plate styles, given by path wherever styles are chosen: drawn, trained on, exported, read with."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from platelab.cli import app
from platelab.synth.style import StyleError, select_styles

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
    from platelab.train.config import load_train_config
    from platelab.train.detector import load_detector_config

    style = _style(tmp_path / "styles")
    recipe = tmp_path / "recipes" / "ar.yaml"
    recipe.parent.mkdir()
    recipe.write_text("styles: [../styles/ar-mercosur.yaml, us-texas]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "styles")  # where the path would name nothing
    for load in (load_train_config, load_detector_config):
        cfg = load(recipe)
        assert cfg.styles == [str(style.resolve()), "us-texas"]
        assert [s.name for s in select_styles(cfg.styles)] == ["us-texas", "ar-mercosur"]


def test_a_run_on_a_user_style_exports_its_prior_and_refuses_to_resume_once_the_file_changed(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from platelab.predict.recognizer import RecognitionPredictor
    from platelab.train.config import RecognizerTrainConfig
    from platelab.train.loop import STYLE_FILES, check_run
    from platelab.train.recipe import export_run
    from platelab.train.recognizer import train_recognizer

    style = _style(tmp_path / "styles")
    cfg = RecognizerTrainConfig(out_dir=tmp_path / "run", steps=2, batch_size=4, workers=0, val_size=4, val_every=100,
                                warmup_steps=1, threads=1, styles=[str(style)])
    train_recognizer(cfg)
    assert list(json.loads((cfg.out_dir / STYLE_FILES).read_text())) == [str(style.resolve())]

    model = export_run(cfg.out_dir, tmp_path / "ar.onnx")
    predictor = RecognitionPredictor(model, prior="ar")  # a region countries.yaml has no entry for
    import onnx

    metadata = {p.key: p.value for p in onnx.load(str(model)).metadata_props}
    assert json.loads(metadata["formats"])["ar"] == [{"alphabets": ["ABCDEFGHIJKLMNOPQRSTUVWXYZ"] * 2
                                                      + ["0123456789"] * 3 + ["ABCDEFGHIJKLMNOPQRSTUVWXYZ"] * 2,
                                                      "weight": 1.0}]
    assert "us" in json.loads(metadata["formats"]) and predictor.prior is not None

    check_run(cfg, resume=True)  # the same file: the run continues
    style.write_text(style.read_text(encoding="utf-8").replace("weight: 1}", "weight: 2}"), encoding="utf-8")
    with pytest.raises(ValueError, match=f"{re.escape(str(style.resolve()))}: changed since run"):
        check_run(cfg, resume=True)
    with pytest.raises(ValueError, match="changed since run"):
        export_run(cfg.out_dir, tmp_path / "again.onnx")


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
