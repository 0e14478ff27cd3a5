"""What the mutation audit of the command line (platelab/cli, utils/config_file.py, utils/errors.py) found no test
for: each test pins one thing a user sees (a line printed, an exit status, a file written or left alone)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from platelab.cli import app
from tests.test_install_audit import _hide
from tests.test_user_styles import EXAMPLE


def _refused(args: list[str], output: str) -> None:
    """The command exits 2 having printed exactly output (its one line)."""
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.output == output


def test_a_command_run_with_stderr_closed_still_does_its_work(tmp_path: Path) -> None:
    # started by a service manager with descriptor 2 closed, Python's sys.stderr is None: no bar, no crash
    out = tmp_path / "crops"
    result = subprocess.run([sys.executable, "-m", "platelab", "synth", "crops", "--out", str(out), "--count", "2"],
                            stdout=subprocess.PIPE, text=True, preexec_fn=lambda: os.close(2), timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith("wrote 2 crops") and (out / "labels.tsv").is_file()


def test_a_missing_train_extra_points_to_the_readmes_pytorch_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "torch")
    result = CliRunner().invoke(app, ["export", "run", "--out", "model.onnx"])
    assert result.exit_code == 2
    assert "this command needs the train extra (torch not installed)" in result.output
    assert "(the README says which PyTorch build)" in result.output


def test_a_missing_serve_extra_says_nothing_of_pytorch(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "fastapi")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2 and "needs the serve extra (fastapi not installed)" in result.output
    assert "PyTorch" not in result.output


def test_a_usage_error_goes_to_stderr_leaving_stdout_to_the_results(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["read", str(tmp_path / "a.jpg"), "--reconnect", "5"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "platelab: --reconnect is for --stream\n"


def test_eval_of_a_broken_labels_file_names_its_line_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "labels.tsv").write_text("file\tstate\tplate\na.png\txx\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", str(tmp_path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.startswith(f"platelab: {tmp_path / 'labels.tsv'}")
    assert "expected 3 tab-separated columns, got 2" in result.output
    assert len(result.output.splitlines()) == 1


def test_a_stray_key_in_a_list_of_a_style_gets_no_suggestion_from_the_level_above(tmp_path: Path) -> None:
    # "colour" in a text row is close to the style's own text_colour, which cannot be meant inside a row
    style = tmp_path / "mine.yaml"
    text = EXAMPLE.read_text(encoding="utf-8")
    style.write_text(text.replace("{y: 0.6, height: 0.54,", "{colour: red, y: 0.6, height: 0.54,"), encoding="utf-8")
    _refused(["synth", "styles", "--styles", str(style)],
             f"platelab: {style}: field rows.0.colour: Extra inputs are not permitted\n")


def test_a_recipe_mistake_across_fields_is_said_to_be_at_the_top_level(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("window: [672, 384]\n", encoding="utf-8")
    _refused(["train", "detector", "--config", str(recipe)],
             f"platelab: {recipe}: field (top level): Value error, window [672, 384] is larger than "
             "the scenes it is cut from (synth.scene.size [640, 384])\n")


def test_a_style_file_that_is_not_utf8_is_one_line_naming_it(tmp_path: Path) -> None:
    style = tmp_path / "latin1.yaml"
    style.write_bytes("description: Plaque fran\u00e7aise\n".encode("latin-1"))
    result = CliRunner().invoke(app, ["synth", "styles", "--styles", str(style)])
    assert result.exit_code == 2
    assert result.output.startswith(f"platelab: {style}: cannot read: 'utf-8' codec can't decode byte 0xe7")
    assert len(result.output.splitlines()) == 1


def test_an_empty_synthesis_config_is_the_defaults(tmp_path: Path) -> None:
    config = tmp_path / "empty.yaml"
    config.write_text("# nothing changed yet\n", encoding="utf-8")
    out = tmp_path / "crops"
    result = CliRunner().invoke(app, ["synth", "crops", "--out", str(out), "--count", "1", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert (out / "labels.tsv").is_file()


def _synth_one_crop(tmp_path: Path, config: Path | str) -> Result:
    return CliRunner().invoke(app, ["synth", "crops", "--out", str(tmp_path / "crops"), "--count", "1",
                                    "--config", str(config)])


def test_a_blank_extends_is_named_as_the_field_at_fault(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text('extends: "  "\n', encoding="utf-8")
    result = _synth_one_crop(tmp_path, config)
    assert result.exit_code == 2
    assert result.output == f"platelab: {config}: field extends: the file it extends, relative to it; got '  '\n"


def _chain(folder: Path, files: int) -> Path:
    """files configs, each extending the next; the last extends nothing."""
    for i in range(files):
        (folder / f"c{i}.yaml").write_text(f"extends: c{i + 1}.yaml\n" if i < files - 1 else "{}\n", encoding="utf-8")
    return folder / "c0.yaml"


def test_a_chain_of_extends_may_be_64_deep_and_no_deeper(tmp_path: Path) -> None:
    from platelab.utils.config_file import MAX_EXTENDS

    (tmp_path / "ok").mkdir()
    assert _synth_one_crop(tmp_path / "ok", _chain(tmp_path / "ok", MAX_EXTENDS + 1)).exit_code == 0
    (tmp_path / "deep").mkdir()
    result = _synth_one_crop(tmp_path / "deep", _chain(tmp_path / "deep", MAX_EXTENDS + 2))
    assert result.exit_code == 2
    assert result.output == (f"platelab: {tmp_path / 'deep' / f'c{MAX_EXTENDS}.yaml'}: extends c{MAX_EXTENDS + 1}.yaml,"
                             f" more than {MAX_EXTENDS} files deep\n")


def test_a_loop_of_extends_given_by_a_relative_path_is_named_as_a_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = _synth_one_crop(tmp_path, "a.yaml")
    assert result.exit_code == 2
    assert result.output == "platelab: b.yaml: extends a.yaml, which extends it back\n"


def test_a_config_that_is_a_list_is_refused_not_taken_as_the_defaults(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("- crop_size\n- plate_height\n", encoding="utf-8")
    result = _synth_one_crop(tmp_path, config)
    assert result.exit_code == 2
    assert result.output == f"platelab: {config}: must hold a mapping of fields\n"
    assert not (tmp_path / "crops").exists()


def test_a_broken_style_file_is_named_with_the_character_and_line_at_fault(tmp_path: Path) -> None:
    style = tmp_path / "broken.yaml"
    style.write_text("description: plate\nregion: @bad\n", encoding="utf-8")
    _refused(["synth", "styles", "--styles", str(style)],
             f"platelab: {style}: cannot read: while scanning for the next token found character '@' "
             'that cannot start any token in "<unicode string>", line 2, column 9: region: @bad ^\n')


def test_crops_with_draw_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    _refused(["read", "--crops", str(tmp_path / "a.png"), "--draw", str(tmp_path / "drawn")],
             "platelab: --draw outlines the plates found in photos; cropped plates (--crops) have none "
             "to outline\n")
    assert not (tmp_path / "drawn").exists()


def test_a_reconnect_of_exactly_a_day_is_accepted(tmp_path: Path) -> None:
    from platelab.api import MAX_RECONNECT_S

    # --labels-out is refused with a stream after --reconnect is checked: the stream is never opened
    args = ["read", "--stream", "0", "--labels-out", str(tmp_path / "labels.tsv"), "--reconnect"]
    result = CliRunner().invoke(app, [*args, f"{MAX_RECONNECT_S:g}"])
    assert result.exit_code == 2 and result.output.startswith("platelab: --labels-out drafts labels"), result.output
    result = CliRunner().invoke(app, [*args, f"{MAX_RECONNECT_S + 1:g}"])
    assert result.output == f"platelab: --reconnect: {MAX_RECONNECT_S + 1:g} s; at most {MAX_RECONNECT_S:g} (a day)\n"


def test_a_file_that_cannot_be_read_is_reported_on_stderr_only(tmp_path: Path) -> None:
    photo = tmp_path / "notes.jpg"
    photo.write_text("not a photo\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["read", str(photo)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert str(photo) in result.stderr and "not an image" in result.stderr
    assert result.stderr.endswith("1 file(s) could not be read\n")


def test_candidates_are_listed_under_each_plate_line(tmp_path: Path) -> None:
    crops = tmp_path / "crops"
    assert CliRunner().invoke(app, ["synth", "crops", "--out", str(crops), "--count", "1"]).exit_code == 0
    result = CliRunner().invoke(app, ["read", "--crops", "--candidates", "3", str(crops / "crop_000000.png")])
    assert result.exit_code == 0, result.output
    plate, *candidates = result.stdout.splitlines()
    assert plate.startswith(f"{crops / 'crop_000000.png'}\t")
    assert 1 <= len(candidates) <= 3
    assert all(line.startswith("  ") and len(line.strip().split("\t")) == 2 for line in candidates), candidates


def _models(*args: str) -> Result:
    return CliRunner().invoke(app, ["models", *args])


def _carded_recognizer(folder: Path, card: str) -> Path:
    """A copy of the bundled recognizer with card (the text of its .card.json) beside it."""
    import shutil

    from platelab.weights import default_model

    model = folder / "mine.onnx"
    shutil.copyfile(default_model("recognizer"), model)
    model.with_suffix(".card.json").write_text(card, encoding="utf-8")
    return model


def test_models_names_the_file_whose_formats_metadata_is_not_json(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from tests.test_model_metadata import _edited

    model = _edited("recognizer", tmp_path, "formats", "{not json")
    result = _models(str(model))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{model}: Expecting property name enclosed in double quotes")
    assert len(result.stderr.splitlines()) == 1


def test_a_recognizer_exported_without_formats_takes_no_prior(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from tests.test_model_metadata import _edited

    result = _models(str(_edited("recognizer", tmp_path, "formats", "{}")))
    assert result.exit_code == 0, result.output
    assert "  --prior: none (exported without formats)" in result.stdout.splitlines()


def test_a_card_that_is_not_json_is_said_and_the_model_still_listed(tmp_path: Path) -> None:
    result = _models(str(_carded_recognizer(tmp_path, "{broken")))
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith("mine.onnx  1.1 MB  (card unreadable: Expecting property name"), first


def test_models_json_gives_priors_for_a_recognizer_only() -> None:
    import json

    from platelab.weights import default_model

    result = _models("--json", str(default_model("detector")), str(default_model("recognizer")))
    assert result.exit_code == 0, result.output
    detector, recognizer = (json.loads(line) for line in result.stdout.splitlines())
    assert "priors" not in detector
    assert recognizer["priors"][0] == "auto"


def test_a_card_that_says_nothing_of_training_says_not_measured(tmp_path: Path) -> None:
    result = _models(str(_carded_recognizer(tmp_path, '{"task": "mine"}')))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:3] == ["  trained on unknown data: ", "  not measured"]


@pytest.mark.parametrize(("card", "said"), [
    ('{"steps": 0}', "trained 0 steps"),
    ('{"wall_time_s": 119.4}', "trained in 119 s"),
    ('{"wall_time_s": 120}', "trained in 2 min"),
    ('{"wall_time_s": 7199}', "trained in 120 min"),
    ('{"wall_time_s": 7200}', "trained in 2.0 h"),
])
def test_a_cards_training_time_is_in_seconds_minutes_or_hours(tmp_path: Path, card: str, said: str) -> None:
    result = _models(str(_carded_recognizer(tmp_path, card)))
    assert result.exit_code == 0, result.output
    assert f"  {said}" in result.stdout.splitlines()


def test_serve_listens_on_loopback_port_8000_unless_told_and_passes_its_limits_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    from platelab.serve.settings import ENV_NAMES

    for variable in ENV_NAMES.values():  # run_server exports its settings: give them all back afterwards
        monkeypatch.delenv(variable, raising=False)
    started: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))
    result = CliRunner().invoke(app, ["serve", "--max-upload-mb", "5", "--timeout", "3"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert [(kwargs["host"], kwargs["port"]) for kwargs in started] == [("127.0.0.1", 8000)]
    assert (os.environ["PLATELAB_MAX_UPLOAD_MB"], os.environ["PLATELAB_TIMEOUT"]) == ("5.0", "3.0")


def test_serve_refuses_a_watch_list_it_cannot_read_before_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    from platelab.serve.settings import ENV_NAMES
    from tests.test_outputs import _usage_error

    for variable in ENV_NAMES.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: pytest.fail("the server started"))
    _usage_error(["serve", "--watch", str(tmp_path)], f"{tmp_path}: not a regular file")


def test_synth_crops_writes_64_unless_told(tmp_path: Path) -> None:
    out = tmp_path / "crops"
    result = CliRunner().invoke(app, ["synth", "crops", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote 64 crops and {out / 'labels.tsv'}\n"
    assert len((out / "labels.tsv").read_text(encoding="utf-8").splitlines()) == 1 + 64


def test_synth_config_prints_every_setting_as_yaml_that_loads_as_the_defaults() -> None:
    import yaml

    from platelab.synth.config import SynthConfig

    result = CliRunner().invoke(app, ["synth", "config"])
    assert result.exit_code == 0, result.output
    printed = yaml.safe_load(result.stdout)
    assert list(printed) == list(SynthConfig.model_fields)
    assert SynthConfig.model_validate(printed) == SynthConfig()


def test_train_refuses_an_export_that_would_replace_the_model_it_starts_from(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    import shutil

    from platelab.weights import default_model
    from tests.test_run_errors import RECOGNIZER, _one_line_error, _recipe

    start = tmp_path / "start.onnx"
    shutil.copyfile(default_model("recognizer-float"), start)
    recipe = _recipe(tmp_path / "r.yaml", tmp_path / "run", RECOGNIZER, init_from=start)
    line = _one_line_error(["train", "recognizer", "--config", recipe, "--export", start], start)
    assert line.endswith("--export would replace the model the run starts from")
    assert not (tmp_path / "run").exists()
    assert start.read_bytes() == default_model("recognizer-float").read_bytes()


def test_synth_with_preview_names_the_montage_it_wrote(tmp_path: Path) -> None:
    out = tmp_path / "crops"
    result = CliRunner().invoke(app, ["synth", "crops", "--out", str(out), "--count", "1", "--preview"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote 1 crops and {out / 'labels.tsv'} and {out / 'preview.png'}\n"
    assert (out / "preview.png").is_file()


def test_a_style_sheet_of_a_style_missing_its_font_is_refused_and_not_drawn(tmp_path: Path) -> None:
    from tests.test_user_styles import _style

    no_font = _style(tmp_path / "no-font", fonts="[{file: NoSuchFace.ttf}]")
    sheet = tmp_path / "sheet.png"
    result = CliRunner().invoke(app, ["synth", "styles", "--styles", str(no_font), "--sheet", str(sheet)])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].startswith(
        f"platelab: {no_font}: field fonts.0.file: font 'NoSuchFace.ttf' is not installed; ")
    assert not sheet.exists()


def test_a_style_sheet_named_other_than_an_image_is_refused_and_not_written(tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.txt"
    result = CliRunner().invoke(app, ["synth", "styles", "--styles", "us-texas", "--sheet", str(sheet)])
    assert result.exit_code == 2
    assert result.stderr == f"platelab: {sheet}: the style sheet is written as .png or .jpg or .jpeg\n"
    assert not sheet.exists()


def test_the_style_list_counts_only_the_styles_missing_a_font(tmp_path: Path) -> None:
    from tests.test_user_styles import _style

    no_font = _style(tmp_path, fonts="[{file: NoSuchFace.ttf}]")
    result = CliRunner().invoke(app, ["synth", "styles", "--styles", str(no_font), "--styles", "us-texas"])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 2
    assert result.stderr.startswith("1 style(s) need fonts that are not installed")


def test_a_run_folder_under_a_file_is_refused_naming_the_path_and_the_cause(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from tests.test_run_errors import RECOGNIZER, _recipe

    (tmp_path / "notes.txt").write_text("not a folder\n", encoding="utf-8")
    out = tmp_path / "notes.txt" / "run"
    recipe = _recipe(tmp_path / "r.yaml", out, RECOGNIZER)
    result = CliRunner().invoke(app, ["train", "recognizer", "--config", str(recipe)])
    assert result.exit_code == 2
    assert result.output.startswith(f"platelab: {out}") and result.output.endswith(": Not a directory\n"), result.output
    assert len(result.output.splitlines()) == 1


def test_two_val_real_sets_of_one_name_are_said_as_the_options_mistake(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from tests.test_run_errors import RECOGNIZER, _recipe

    recipe = _recipe(tmp_path / "r.yaml", tmp_path / "run", RECOGNIZER)
    result = CliRunner().invoke(app, ["train", "recognizer", "--config", str(recipe), "--val-real",
                                      str(tmp_path / "a" / "crops"), "--val-real", str(tmp_path / "b" / "crops")])
    assert result.exit_code == 2
    assert result.output == ("platelab: --val-real: Value error, two real sets named crops; give folders of different "
                             "names\n")
    assert not (tmp_path / "run").exists()


def test_finetune_holds_out_a_fifth_for_ten_epochs_unless_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    import platelab.train.finetune as tuning

    runs: list[tuple[float, int]] = []
    monkeypatch.setattr(tuning, "finetune", lambda cfg, resume: runs.append((cfg.val_fraction, cfg.epochs)))
    result = CliRunner().invoke(app, ["finetune", "--from", "bundled", "--data", str(tmp_path), "--out",
                                      str(tmp_path / "tuned")])
    assert result.exit_code == 0, result.output
    assert runs == [(0.2, 10)]


@pytest.mark.parametrize("kept", ["config.json", "last.ckpt"])
def test_export_of_a_folder_missing_the_config_or_the_checkpoint_is_not_a_run(tmp_path: Path, kept: str) -> None:
    pytest.importorskip("torch")
    run = tmp_path / "run"
    run.mkdir()
    (run / kept).write_text('{"task": "recognizer"}', encoding="utf-8")
    _refused(["export", str(run), "--out", str(tmp_path / "model.onnx")],
             f"platelab: {run}: not a training run (no config.json and last.ckpt)\n")
    assert not (tmp_path / "model.onnx").exists()


def test_export_refuses_a_class_scale_for_a_detector_run(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"task": "detector"}', encoding="utf-8")
    (run / "last.ckpt").write_bytes(b"")
    out = tmp_path / "model.onnx"
    _refused(["export", str(run), "--out", str(out), "--class-scale", "M=4"],
             f"platelab: {run}: --class-scale is for recognizer and fine-tuning runs (this one is a "
             "detector run)\n")
    assert not out.exists()


def test_train_with_export_says_it_trained_the_run_and_wrote_the_model(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from tests.test_run_errors import RECOGNIZER, _recipe

    out, model = tmp_path / "run", tmp_path / "model.onnx"
    recipe = _recipe(tmp_path / "r.yaml", out, RECOGNIZER)
    result = CliRunner().invoke(app, ["train", "recognizer", "--config", str(recipe), "--export", str(model)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == f"trained {out} and wrote {model}"
    assert model.is_file()
