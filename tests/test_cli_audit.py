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
    result = CliRunner().invoke(app, ["synth", "styles", "--styles", str(style)])
    assert result.exit_code == 2
    assert result.output == f"platelab: {style}: field rows.0.colour: Extra inputs are not permitted\n"


def test_a_recipe_mistake_across_fields_is_said_to_be_at_the_top_level(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("window: [672, 384]\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["train", "detector", "--config", str(recipe)])
    assert result.exit_code == 2
    assert result.output == (f"platelab: {recipe}: field (top level): Value error, window [672, 384] is larger than "
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
    result = CliRunner().invoke(app, ["synth", "styles", "--styles", str(style)])
    assert result.exit_code == 2
    assert result.output == (f"platelab: {style}: cannot read: while scanning for the next token found character '@' "
                             'that cannot start any token in "<unicode string>", line 2, column 9: region: @bad ^\n')


def test_crops_with_draw_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["read", "--crops", str(tmp_path / "a.png"), "--draw", str(tmp_path / "drawn")])
    assert result.exit_code == 2
    assert result.output == ("platelab: --draw outlines the plates found in photos; cropped plates (--crops) have none "
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
