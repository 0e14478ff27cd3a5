"""No command replaces a user's file or its own inputs: outputs are checked before anything is read or written,
and what a user can fix is one line with status 2."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from platelab.cli import app
from platelab.io.labels import LabelError, read_labels
from platelab.io.outputs import DRAWINGS, OWNED_MARKER, OutputError, claim_folder, prepare_output_file
from platelab.synth import writer
from platelab.synth.style import select_styles


def _fingerprint(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _usage_error(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_a_marker_planted_as_a_link_is_replaced_not_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("drawings\nsomeone's notes\n")  # a first line that passes for platelab's own marker
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / OWNED_MARKER).symlink_to(victim)
    claim_folder(tmp_path / "shared", "drawings")
    assert victim.read_text() == "drawings\nsomeone's notes\n"
    assert not (tmp_path / "shared" / OWNED_MARKER).is_symlink()


def test_a_folder_is_claimed_only_when_new_empty_or_platelabs(tmp_path: Path) -> None:
    claim_folder(tmp_path / "new", "drawings")
    assert (tmp_path / "new" / OWNED_MARKER).is_file()
    claim_folder(tmp_path / "new", "drawings")  # again: platelab's own
    (tmp_path / "empty").mkdir()
    claim_folder(tmp_path / "empty", "drawings")
    (tmp_path / "album").mkdir()
    (tmp_path / "album" / "holiday.jpg").write_bytes(b"a photo")
    with pytest.raises(OutputError, match="holds files platelab did not write"):
        claim_folder(tmp_path / "album", "drawings")
    assert [p.name for p in (tmp_path / "album").iterdir()] == ["holiday.jpg"]
    (tmp_path / "note.txt").write_text("x")
    with pytest.raises(OutputError, match="a file, not a folder"):
        claim_folder(tmp_path / "note.txt", "drawings")
    # a set written before folders were marked holds only files named as platelab names them: adopted
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "crop_000000.png").write_bytes(b"png")
    (tmp_path / "old" / "labels.tsv").write_text("file\tstate\tplate\n")
    claim_folder(tmp_path / "old", "synthetic set", ("crop_*.png", "labels.tsv"))
    with pytest.raises(OutputError):
        claim_folder(tmp_path / "album", "synthetic set", ("crop_*.png", "labels.tsv"))
    (tmp_path / "labels-only").mkdir()
    (tmp_path / "labels-only" / "labels.tsv").write_text("file\tstate\tplate\n")
    with pytest.raises(OutputError):  # a lone labels.tsv may be anyone's
        claim_folder(tmp_path / "labels-only", "synthetic set", ("crop_*.png", "labels.tsv"))


def test_an_output_file_has_its_kind_and_stays_out_of_the_folder_read(tmp_path: Path) -> None:
    prepare_output_file(tmp_path / "fails.png", (".png", ".jpg"), "montage", outside=tmp_path / "crops")
    prepare_output_file(tmp_path / "FAILS.PNG", (".png", ".jpg"), "montage")  # a camera's upper-case suffix
    with pytest.raises(OutputError, match=r"written as \.png or \.jpg"):
        prepare_output_file(tmp_path / "fails.txt", (".png", ".jpg"), "montage")
    with pytest.raises(OutputError, match="inside"):
        prepare_output_file(tmp_path / "crops" / "a.png", (".png",), "montage", outside=tmp_path / "crops")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(OutputError, match="a folder"):
        prepare_output_file(tmp_path / "dir.png", (".png",), "montage")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        prepare_output_file(tmp_path / "afile" / "m.png", (".png",), "montage")


def test_synth_keeps_off_other_files_and_a_set_cut_short_has_no_labels(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "labels.tsv").write_text("file\tstate\tplate\na.png\tCA\tABC123\n")
    before = _fingerprint(real)
    _usage_error(["synth", "crops", "--out", str(real), "--count", "2"], "holds files platelab did not write")
    assert _fingerprint(real) == before
    out = tmp_path / "synthetic"
    styles = select_styles(["us-*"])
    writer.write_crops(out, 2, styles, progress=False)
    assert len(read_labels(out)) == 2

    def broken(self: object, index: int) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(writer.CropGenerator, "sample", broken)
    with pytest.raises(KeyboardInterrupt):
        writer.write_crops(out, 2, styles, seed=5, progress=False)
    assert not (out / "labels.tsv").exists()  # no labels naming the old set's images as the new one's


def test_a_smaller_set_written_over_a_larger_one_leaves_none_of_it(tmp_path: Path) -> None:
    out = tmp_path / "synthetic"
    styles = select_styles(["us-*"])
    writer.write_crops(out, 5, styles, preview=True, progress=False)
    writer.write_crops(out, 2, styles, progress=False)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "crop_000000.png", "crop_000001.png", "labels.tsv"]
    writer.write_scenes(out, 1, styles, progress=False)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["labels.tsv", "scene_000000.jpg"]
    drawn = tmp_path / "drawn"
    claim_folder(drawn, DRAWINGS)
    (drawn / "scene_000000.jpg").write_bytes(b"a drawing")
    _usage_error(["synth", "scenes", "--out", str(drawn), "--count", "1"], "holds platelab's drawings")
    assert (drawn / "scene_000000.jpg").read_bytes() == b"a drawing"
    negative = CliRunner().invoke(app, ["synth", "crops", "--out", str(out), "--count", "2", "--seed", "-1"])
    assert negative.exit_code == 2 and "greater than or equal to 0" in negative.output


def test_training_outputs_never_replace_their_own_runs(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"task": "recognizer"}')
    (run / "last.ckpt").write_bytes(b"weights")
    before = _fingerprint(run)
    _usage_error(["export", str(run), "--out", str(run / "last.ckpt")], "written as .onnx")
    _usage_error(["export", str(run), "--out", str(run)], "written as .onnx")
    _usage_error(["train", "interpolate", "--from", str(run / "last.ckpt"), "--to", str(run), "--out", str(run)],
                 "would replace the run it averages")
    _usage_error(["finetune", "--from", str(run), "--data", str(tmp_path), "--out", str(run)],
                 "would replace the run it starts from")
    assert _fingerprint(run) == before
    _usage_error(["export", str(tmp_path), "--out", str(tmp_path / "m.onnx")], "not a training run")


def test_eval_checks_its_montage_path_before_scoring(tmp_path: Path) -> None:
    crops = tmp_path / "crops"
    crops.mkdir()
    cv2.imwrite(str(crops / "a.png"), np.full((64, 128, 3), 128, np.uint8))
    (crops / "labels.tsv").write_text("file\tstate\tplate\na.png\tCA\tABC123\n")
    before = _fingerprint(crops)
    _usage_error(["eval", str(crops), "--failures", str(crops / "a.png")], "inside")
    _usage_error(["eval", str(crops), "--failures", str(tmp_path / "fails.txt")], "written as .png or .jpg")
    _usage_error(["eval", str(crops), "--detector", str(tmp_path / "d.onnx")], "are for photos")
    _usage_error(["eval", str(crops), "--min-score", "0.5"], "are for photos")
    assert _fingerprint(crops) == before


def test_options_a_mode_cannot_use_are_refused(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), np.full((64, 128, 3), 128, np.uint8))
    _usage_error(["read", "--crops", str(tmp_path), "--min-score", "0.9", "--no-refine"],
                 "--min-score, --no-refine: for photos")
    _usage_error(["read", "--crops", str(tmp_path), "--min-chars", "0"], "--min-chars: for photos")
    _usage_error(["read", str(tmp_path), "--exact"], "--exact is for --watch")
    (tmp_path / "empty").mkdir()
    _usage_error(["read", str(tmp_path / "empty")], "no images or videos in")


def test_labels_files_that_are_not_labels_say_so(tmp_path: Path) -> None:
    (tmp_path / "labels.tsv").write_bytes(b"file\tstate\tplate\n\xff\xfe\tCA\tABC\n")
    with pytest.raises(LabelError, match=r"labels.tsv:2: not UTF-8 text"):
        read_labels(tmp_path)
    (tmp_path / "labels.tsv").write_text("file\tstate\tplate\n")
    with pytest.raises(LabelError, match="no labelled rows"):
        read_labels(tmp_path)


def test_serve_takes_its_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from platelab.serve.app import run_server
    from platelab.serve.settings import ENV_NAMES

    for variable in ENV_NAMES.values():  # run_server exports its settings: give them all back afterwards
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    monkeypatch.setenv("PLATELAB_TIMEOUT", "30")
    monkeypatch.setenv("PLATELAB_MAX_UPLOAD_MB", "50")
    run_server("127.0.0.1", 8000, 1, None)
    assert (os.environ["PLATELAB_TIMEOUT"], os.environ["PLATELAB_MAX_UPLOAD_MB"]) == ("30.0", "50.0")
    monkeypatch.setenv("PLATELAB_READER_THREADS", "x")
    _usage_error(["serve"], "PLATELAB_READER_THREADS='x': expected an integer")


def test_serve_refuses_a_model_it_cannot_load_before_starting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from platelab.serve.settings import ENV_NAMES

    for variable in ENV_NAMES.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: pytest.fail("the server started"))
    (tmp_path / "text.onnx").write_text("not a model")
    _usage_error(["serve", "--model", str(tmp_path / "missing.onnx")], "missing.onnx")
    _usage_error(["serve", "--detector", str(tmp_path / "text.onnx")], "text.onnx")
    monkeypatch.setenv("PLATELAB_MODEL", str(tmp_path / "text.onnx"))
    _usage_error(["serve"], "text.onnx")


def test_serve_refuses_a_port_out_of_range_before_starting(monkeypatch: pytest.MonkeyPatch) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    from platelab.serve.settings import ENV_NAMES

    for variable in ENV_NAMES.values():
        monkeypatch.delenv(variable, raising=False)
    started: list[int] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(kwargs["port"]))
    for port in ("99999", "65536", "-5"):
        result = CliRunner().invoke(app, ["serve", "--port", port])
        assert result.exit_code == 2, (result.output, result.exception)
        assert "Invalid value for '--port'" in result.output and "Traceback" not in result.output
    assert started == []
    result = CliRunner().invoke(app, ["serve", "--port", "65535"])
    assert result.exit_code == 0 and started == [65535], result.output


def test_an_empty_stream_is_refused_before_anything_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    import platelab.api

    monkeypatch.setattr(platelab.api, "read_stream", lambda *args, **kwargs: pytest.fail("the stream was opened"))
    for empty in ("", "  "):
        _usage_error(["read", "--stream", empty], "--stream: empty; give a camera number")
    _usage_error(["read", "--stream", "0", "--workers", "2"], "--stream reads a camera or a stream alone")


def test_a_training_run_that_cannot_go_far_stops_before_it_writes(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"task": "recognizer", "head": "ctc", "charset": "ABC"}')
    (run / "metrics.jsonl").write_text('{"step": 1}\n')
    before = _fingerprint(run)

    def recipe(name: str, **fields: object) -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text("".join(f"{key}: {value}\n" for key, value in {"out_dir": str(run), **fields}.items()))
        return path

    _usage_error(["train", "recognizer", "--config", str(recipe("styles", styles="[nosuch]"))], "nosuch")
    # a recipe's mistake names the recipe: a missing init_from alone does not say which of several recipes holds it
    _usage_error(["train", "recognizer", "--config", str(recipe("init", init_from=str(tmp_path / "gone.ckpt")))],
                 f"platelab: {tmp_path / 'init.yaml'}: {tmp_path / 'gone.ckpt'}: init_from not found")
    _usage_error(["train", "detector", "--config", str(recipe("detector-init", init_from="bundled"))],
                 f"platelab: {tmp_path / 'detector-init.yaml'}: bundled: init_from: a detector run starts from")
    _usage_error(["train", "recognizer", "--config", str(recipe("broken", init_from='"gone\\nckpt"'))],
                 "gone\\nckpt: init_from not found")  # a line break in what it quotes: escaped, one line still
    _usage_error(["train", "recognizer", "--config", str(recipe("resume")), "--resume"], "no last.ckpt to resume")
    _usage_error(["train", "recognizer", "--config", str(recipe("real")), "--val-real", str(tmp_path / "none")],
                 f"{tmp_path / 'none'}: no such folder (--val-real")
    _usage_error(["train", "detector", "--config", str(recipe("detector", styles="[nosuch]"))], "nosuch")
    _usage_error(["train", "recognizer", "--config", str(recipe("export")), "--export", str(tmp_path)],
                 "written as .onnx")
    (tmp_path / "notes.onnx").write_text("someone's notes\n")
    _usage_error(["train", "recognizer", "--config", str(recipe("export")), "--export", str(tmp_path / "notes.onnx")],
                 f"platelab: {tmp_path / 'notes.onnx'}: exists and is not a model platelab exported")  # no recipe's
    _usage_error(["train", "recognizer", "--config", str(recipe("charset", charset="AB"))],
                 "charset 'AB' lacks 0123456789CDEFGHIJKLMNOPQRSTUVWXYZ, which the styles' plates carry")
    _usage_error(["train", "recognizer", "--config", str(recipe("weights", style_weights="{'zz*': 2}"))],
                 "no style matches zz*")
    (run / "last.ckpt").write_bytes(b"weights")
    _usage_error(["train", "recognizer", "--config", str(recipe("head", head="slots", charset="ABC")), "--resume"],
                 'head "ctc" -> "slots"')
    _usage_error(["train", "recognizer", "--config", str(recipe("fresh", head="ctc", charset="ABC"))],
                 "holds a run already (last.ckpt); continue it with --resume")
    assert _fingerprint(run) == {**before, "last.ckpt": _fingerprint(run)["last.ckpt"]}


@pytest.fixture(scope="module")
def demo_photo(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from platelab.synth.demo import write_demo

    return write_demo(tmp_path_factory.mktemp("demo")).read_bytes()


def _photo(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_drawings_that_would_share_a_file_or_be_read_back_are_kept_out(tmp_path: Path, demo_photo: bytes,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _photo(tmp_path / "cam1" / "img.jpg", demo_photo)
    _photo(tmp_path / "cam2" / "img.jpg", demo_photo)
    _photo(tmp_path / "w" / "cam1" / "img.jpg", demo_photo)
    # ../cam1/img.jpg is drawn as out/cam1/img.jpg (never outside out/), as the folder cam1's img.jpg is
    _usage_error(["read", str(tmp_path / "w" / "cam1"), str(tmp_path / "w" / ".." / "cam1" / "img.jpg"), "--draw",
                  str(tmp_path / "out")], "would both be drawn as")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    two = runner.invoke(app, ["read", "cam1", "cam2/", "--draw", "out"])  # files of one name, told apart by folder
    assert two.exit_code == 0, two.output
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.jpg")) == [
        "cam1/img.jpg", "cam2/img.jpg"]
    inside = tmp_path / "cam1" / "drawn"
    outputs = [runner.invoke(app, ["read", str(tmp_path / "cam1"), "--draw", str(inside)]) for _ in range(2)]
    assert outputs[0].exit_code == outputs[1].exit_code == 0
    assert outputs[0].stdout == outputs[1].stdout  # the second run does not read the first one's drawings
    assert sorted(p.name for p in inside.iterdir()) == [OWNED_MARKER, "img.jpg"]


def test_a_drawing_never_replaces_another_photo_read_through_a_folder_linked_into_the_drawings(
    tmp_path: Path, demo_photo: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cv2.imwrite(str(_photo(tmp_path / "cam" / "a.png", b"")), np.full((240, 320, 3), 128, np.uint8))
    _photo(tmp_path / "cam" / "a.png.jpg", demo_photo)  # where a.png's drawing would go, through the link
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / OWNED_MARKER).write_text(f"{DRAWINGS}\n")  # platelab's, with a folder linked into it
    (tmp_path / "out" / "cam").symlink_to(tmp_path / "cam")
    for workers in ("1", "2"):
        result = CliRunner().invoke(app, ["read", "cam/a.png", "cam/a.png.jpg", "--draw", "out", "--workers", workers])
        assert result.exit_code == 0, result.output
        assert (tmp_path / "cam" / "a.png.jpg").read_bytes() == demo_photo
    assert (tmp_path / "cam" / "a.png.drawn.jpg").is_file()


def test_the_demo_folder_and_inputs_named_as_outputs_are_refused_in_one_line(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "platelab-demo").mkdir()
    (tmp_path / "platelab-demo" / "notes.txt").write_text("mine")
    _usage_error(["read"], "platelab-demo: holds files platelab did not write")
    crops = tmp_path / "crops"
    crops.mkdir()
    cv2.imwrite(str(crops / "a.png"), np.full((64, 128, 3), 128, np.uint8))
    (crops / "labels.tsv").write_text("file\tstate\tplate\na.png\tCA\tABC123\n")
    _usage_error(["eval", str(crops / "labels.tsv"), "--failures", str(crops / "a.png")], "inside")
    model = tmp_path / "base.onnx"
    model.write_bytes(b"onnx")
    _usage_error(["finetune", "--from", str(model), "--data", str(crops), "--export", str(model)],
                 "would replace the model the run starts from")
    _usage_error(["finetune", "--from", str(model), "--data", str(crops), "--out", str(tmp_path / "ft"), "--resume"],
                 "no last.ckpt to resume")
    _usage_error(["finetune", "--from", str(model), "--data", str(crops), "--freeze", "bogus"],
                 "--freeze: Value error, 'bogus': expected backbone, none or first-K")  # in words, not a regex
    _usage_error(["train", "interpolate", "--from", str(model), "--to", str(tmp_path), "--out", str(tmp_path / "x")],
                 "not found")
    prepare_output_file(tmp_path / "fails.jpeg", (".png", ".jpg", ".jpeg"), "montage")


def test_a_labels_file_saved_with_a_byte_order_mark_reads(tmp_path: Path) -> None:
    (tmp_path / "labels.tsv").write_text("\ufefffile\tstate\tplate\na.png\tCA\tABC123\n", encoding="utf-8")
    assert [label.plate for label in read_labels(tmp_path)] == ["ABC123"]
    (tmp_path / "labels.tsv").write_text("file\tstate\tplate\n \t\na.png\tCA\tABC123\n\n", encoding="utf-8")
    assert [label.plate for label in read_labels(tmp_path)] == ["ABC123"]  # a line of blanks is no row


def test_reading_into_a_pipe_that_closes_ends_quietly(tmp_path: Path, demo_photo: bytes) -> None:
    import subprocess
    import sys

    for name in ("a.jpg", "b.jpg", "c.jpg"):
        _photo(tmp_path / "photos" / name, demo_photo)
    reading = subprocess.Popen([sys.executable, "-m", "platelab", "read", str(tmp_path / "photos")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reading.stdout is not None and reading.stderr is not None
    reading.stdout.readline()
    reading.stdout.close()  # as `| head -1` does
    assert reading.wait(timeout=60) == 0
    assert b"Broken pipe" not in reading.stderr.read()


def test_synthetic_sets_are_inputs_and_drawings_named_by_a_glob_are_not(tmp_path: Path, demo_photo: bytes,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    writer.write_crops(tmp_path / "data" / "synth", 3, select_styles(["us-*"]), progress=False)
    read = CliRunner().invoke(app, ["read", "--crops", str(tmp_path / "data")])
    assert read.exit_code == 0 and len(read.stdout.splitlines()) == 3
    monkeypatch.chdir(tmp_path)
    _photo(tmp_path / "g" / "car.jpg", demo_photo)
    runs = [CliRunner().invoke(app, ["read", "g/*", "--draw", "g/drawn"]) for _ in range(2)]
    assert [r.exit_code for r in runs] == [0, 0] and runs[0].stdout == runs[1].stdout
    _photo(tmp_path / "d1" / "IMG_1.jpg", demo_photo)
    _photo(tmp_path / "w" / "d1" / "IMG_1.jpg", demo_photo)
    monkeypatch.chdir(tmp_path / "w")
    _usage_error(["read", "d1", "../d1/IMG_1.jpg", "--draw", "outd"], "would both be drawn as")
    assert not (tmp_path / "w" / "outd").exists()  # refused before the folder was made


@pytest.mark.parametrize(("args", "extra", "module"), [
    (["serve"], "serve", "fastapi"),
    (["train", "recognizer", "--config", "recipe.yaml"], "train", "torch"),
    (["finetune", "--from", "bundled", "--data", "crops", "--out", "run"], "train", "torch"),
    (["export", "run", "--out", "model.onnx"], "train", "onnx"),
])
def test_a_command_without_its_extra_names_the_extra_in_one_line(
    monkeypatch: pytest.MonkeyPatch, args: list[str], extra: str, module: str
) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == module else real_find_spec(name))
    _usage_error(args, f'needs the {extra} extra ({module} not installed): pip install -e ".[{extra}]"')


def test_version_is_the_installed_distributions() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output == f"platelab {version('platelab')}\n"
