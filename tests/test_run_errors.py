"""Damaged or mismatched inputs to the training commands (checkpoints, run configs, init_from, detector windows):
each is one line naming the file, with exit status 2, before anything is written or replaced."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

from platelab.cli import app  # noqa: E402
from platelab.io.labels import CropLabel, write_crop_labels  # noqa: E402
from platelab.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint  # noqa: E402
from platelab.train.config import load_detector_config  # noqa: E402
from platelab.utils.errors import ConfigError  # noqa: E402
from platelab.weights import default_model  # noqa: E402

RECOGNIZER = {"steps": 2, "batch_size": 4, "workers": 0, "val_size": 4, "val_every": 100, "checkpoint_every": 1,
              "warmup_steps": 1, "threads": 1, "lr": 0.001}
DETECTOR = {"steps": 1, "batch_size": 2, "workers": 0, "val_size": 1, "val_every": 100, "checkpoint_every": 1,
            "warmup_steps": 1, "threads": 1}


def _recipe(path: Path, out: Path, fields: dict[str, object], **changes: object) -> Path:
    values = {"out_dir": str(out), **fields, **{k: str(v) if isinstance(v, Path) else v for k, v in changes.items()}}
    path.write_text(yaml.safe_dump(values))
    return path


def _fingerprint(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_line_error(args: list[str], *named: object) -> str:
    """The command ends with exit status 2 and one line that names each of named."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    for name in named:
        assert str(name) in lines[0], result.output
    return lines[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 2-step recognizer run and a 1-step detector run, trained by the command, as a user's would be."""
    root = tmp_path_factory.mktemp("runs")
    for task, fields in (("recognizer", RECOGNIZER), ("detector", DETECTOR)):
        recipe = _recipe(root / f"{task}.yaml", root / task, fields)
        result = CliRunner().invoke(app, ["train", task, "--config", str(recipe)])
        assert result.exit_code == 0, result.output
    return {"recognizer": root / "recognizer", "detector": root / "detector"}


def _truncated(run: Path, path: Path) -> None:
    path.write_bytes((run / "last.ckpt").read_bytes()[:5000])  # `head -c 5000 last.ckpt`


def _no_model(run: Path, path: Path) -> None:
    save_checkpoint(path, {"x": torch.zeros(2)})


def _reshaped(run: Path, path: Path) -> None:
    state = load_checkpoint(run / "last.ckpt")
    save_checkpoint(path, {**state, "model": {k: torch.zeros(3) for k in state["model"]}})


def _weights_only(run: Path, path: Path) -> None:  # what interpolate writes: no training state to resume
    save_checkpoint(path, {"model": load_checkpoint(run / "last.ckpt")["model"]})


Damage = Callable[[Path, Path], None]
DAMAGED: dict[str, Damage] = {"truncated": _truncated, "no-model": _no_model, "reshaped": _reshaped}


def _checkpoint(runs: dict[str, Path], task: str, damage: str, path: Path) -> Path:
    """A checkpoint for a task's run, damaged as named, or another task's ("detector", "recognizer")."""
    if damage in runs:
        shutil.copyfile(runs[damage] / "last.ckpt", path)
    else:
        {**DAMAGED, "weights-only": _weights_only}[damage](runs[task], path)
    return path


def _crops(folder: Path) -> Path:
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((64, 128, 3), 128, np.uint8))
    write_crop_labels(folder / "labels.tsv", [CropLabel("a.png", "ABC123", "xx")])
    return folder


def test_a_checkpoint_that_cannot_be_opened_says_why_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"gone.ckpt: cannot read the checkpoint \(No such file or directory\)"):
        load_checkpoint(tmp_path / "gone.ckpt")
    with pytest.raises(CheckpointError, match="cannot read the checkpoint"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize(("task", "source"), [
    ("recognizer", "truncated"), ("recognizer", "no-model"), ("recognizer", "reshaped"), ("recognizer", "detector"),
    ("recognizer", "not-onnx.onnx"), ("recognizer", "bundled-int8"), ("recognizer", "bundled-detector"),
    ("detector", "truncated"), ("detector", "no-model"), ("detector", "reshaped"), ("detector", "recognizer"),
])
def test_an_init_from_that_cannot_start_the_run_is_refused_before_it_writes(
    runs: dict[str, Path], tmp_path: Path, task: str, source: str
) -> None:
    if source == "not-onnx.onnx":
        init_from = tmp_path / source
        init_from.write_bytes(b"\x08\x01 this is no ONNX graph")
    elif source.startswith("bundled-"):
        init_from = default_model(source.removeprefix("bundled-").replace("int8", "recognizer"))
    else:
        init_from = _checkpoint(runs, task, source, tmp_path / "init.ckpt")
    out = tmp_path / "run"
    recipe = _recipe(tmp_path / "r.yaml", out, RECOGNIZER if task == "recognizer" else DETECTOR, init_from=init_from)
    _one_line_error(["train", task, "--config", recipe], init_from)
    assert not out.exists()


@pytest.mark.parametrize(("task", "damage"), [
    ("recognizer", "truncated"), ("recognizer", "no-model"), ("recognizer", "reshaped"),
    ("recognizer", "weights-only"), ("recognizer", "detector"), ("detector", "truncated"), ("detector", "recognizer"),
])
def test_a_checkpoint_that_cannot_be_resumed_is_refused_and_the_run_kept(
    runs: dict[str, Path], tmp_path: Path, task: str, damage: str
) -> None:
    run = shutil.copytree(runs[task], tmp_path / "run")
    _checkpoint(runs, task, damage, run / "last.ckpt")
    before = _fingerprint(run)
    recipe = _recipe(tmp_path / "r.yaml", run, RECOGNIZER if task == "recognizer" else DETECTOR)
    _one_line_error(["train", task, "--config", recipe, "--resume"], run / "last.ckpt")
    assert _fingerprint(run) == before


@pytest.mark.parametrize(("task", "damage"), [
    ("recognizer", "truncated"), ("recognizer", "no-model"), ("recognizer", "reshaped"), ("recognizer", "detector"),
    ("detector", "truncated"), ("detector", "reshaped"), ("detector", "recognizer"),
])
def test_export_names_a_checkpoint_it_cannot_export(
    runs: dict[str, Path], tmp_path: Path, task: str, damage: str
) -> None:
    run = shutil.copytree(runs[task], tmp_path / "run")
    _checkpoint(runs, task, damage, run / "last.ckpt")
    message = _one_line_error(["export", run, "--out", tmp_path / "m.onnx"], run / "last.ckpt")
    if damage in runs:
        assert f"not a {task} checkpoint" in message
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("damage", ["truncated", "no-model", "reshaped", "detector"])
def test_finetune_names_a_source_checkpoint_it_cannot_start_from(
    runs: dict[str, Path], tmp_path: Path, damage: str
) -> None:
    run = shutil.copytree(runs["recognizer"], tmp_path / "run")
    _checkpoint(runs, "recognizer", damage, run / "last.ckpt")
    out = tmp_path / "tuned"
    _one_line_error(["finetune", "--from", run, "--data", _crops(tmp_path / "crops"), "--out", out],
                    run / "last.ckpt")
    assert not out.exists()


@pytest.mark.parametrize("config", ["{", "[1, 2]", "recognizer-with-an-unknown-field", "detector"])
def test_a_run_config_that_is_not_one_is_named_by_every_command_that_reads_it(
    runs: dict[str, Path], tmp_path: Path, config: str
) -> None:
    run = shutil.copytree(runs["recognizer"], tmp_path / "run")
    if config == "detector":
        shutil.copyfile(runs["detector"] / "config.json", run / "config.json")
    elif config.startswith("recognizer"):
        text = (run / "config.json").read_text()
        (run / "config.json").write_text(text.replace('"task": "recognizer",', '"task": "recognizer", "bogus": 1,'))
    else:
        (run / "config.json").write_text(config)
    before = _fingerprint(run)
    named = run / "config.json"
    for args in (["finetune", "--from", run, "--data", _crops(tmp_path / "crops"), "--out", tmp_path / "tuned"],
                 ["train", "interpolate", "--from", run / "last.ckpt", "--to", run, "--out", tmp_path / "mid"],
                 ["train", "recognizer", "--config", _recipe(tmp_path / "r.yaml", run, RECOGNIZER), "--resume"]):
        _one_line_error(args, named)
    if config != "detector":  # a detector's config exports as a detector: its checkpoint is named instead
        _one_line_error(["export", run, "--out", tmp_path / "m.onnx"], named)
    assert _fingerprint(run) == before
    assert not any((tmp_path / name).exists() for name in ("tuned", "mid", "m.onnx"))


@pytest.mark.parametrize("command", ["recognizer", "detector", "finetune"])
def test_an_out_dir_that_is_a_file_is_refused_and_kept(runs: dict[str, Path], tmp_path: Path, command: str) -> None:
    out = tmp_path / "notes.txt"
    out.write_text("a user's file\n")
    if command == "finetune":
        args = ["finetune", "--from", runs["recognizer"], "--data", _crops(tmp_path / "crops"), "--out", out]
    else:
        recipe = _recipe(tmp_path / "r.yaml", out, RECOGNIZER if command == "recognizer" else DETECTOR)
        args = ["train", command, "--config", recipe]
    assert "a file, not a folder" in _one_line_error(args, out)
    assert out.read_text() == "a user's file\n"


@pytest.mark.parametrize(("changes", "where"), [
    ({"window": [0, -1]}, "window"),
    ({"window": [100, 64]}, "window"),  # not a multiple of the backbone's stride 32
    ({"window": [1000, 1000]}, "window"),
    ({"window": [672, 384]}, "(top level)"),  # multiples of 32, larger than the 640x384 scenes
    ({"synth": {"scene": {"size": [256, 160]}}}, "(top level)"),  # the default window (320x192) does not fit
    ({"window": None, "synth": {"scene": {"size": [100, 64]}}}, "(top level)"),  # the network cannot take it whole
])
def test_a_detector_window_the_network_cannot_train_on_is_refused_by_the_recipe(
    tmp_path: Path, changes: dict[str, object], where: str
) -> None:
    out = tmp_path / "run"
    recipe = _recipe(tmp_path / "d.yaml", out, DETECTOR, **changes)
    with pytest.raises(ConfigError, match="^" + re.escape(f"{recipe}: field {where}: ")):
        load_detector_config(recipe)
    _one_line_error(["train", "detector", "--config", recipe], f"{recipe}: field {where}: ")
    assert not out.exists()


def test_windows_and_scenes_the_network_takes_are_accepted(tmp_path: Path) -> None:
    for changes in ({}, {"window": [64, 64], "synth": {"scene": {"size": [128, 64]}}},
                    {"window": None, "synth": {"scene": {"size": [320, 192]}}}):
        load_detector_config(_recipe(tmp_path / "d.yaml", tmp_path / "run", DETECTOR, **changes))


def test_a_real_validation_folder_with_no_readable_crop_is_refused_before_the_run(tmp_path: Path) -> None:
    folder = tmp_path / "broken-crops"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"not a png")
    write_crop_labels(folder / "labels.tsv", [CropLabel("a.png", "ABC123", "xx")])
    out = tmp_path / "run"
    recipe = _recipe(tmp_path / "recipe.yaml", out, RECOGNIZER)
    result = CliRunner().invoke(app, ["train", "recognizer", "--config", str(recipe), "--val-real", str(folder)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"platelab: {folder}: none of its 1 crops can be read; nothing to validate on" in result.output.splitlines()
    assert not out.exists()


def test_a_run_keeps_its_real_sets_and_a_resume_reads_the_same(tmp_path: Path) -> None:
    import json

    first, second = _crops(tmp_path / "crops"), tmp_path / "other"
    second.mkdir()
    _crops(second / "crops")
    out = tmp_path / "run"
    recipe = _recipe(tmp_path / "r.yaml", out, {**RECOGNIZER, "steps": 3, "stop_after": 1})
    result = CliRunner().invoke(app, ["train", "recognizer", "--config", str(recipe), "--val-real", str(first)])
    assert result.exit_code == 0 and result.output.rstrip().endswith(f"trained {out}"), result.output
    assert json.loads((out / "config.json").read_text())["val_real"] == [str(first)]
    kept = _fingerprint(out)
    for other in ([], ["--val-real", str(second / "crops")]):  # a resumed run's figures are the started run's sets
        line = _one_line_error(["train", "recognizer", "--config", recipe, "--resume", *other], "val_real")
        assert "cannot resume with another config" in line
    assert _fingerprint(out) == kept
    # two sets of one name would be logged as one figure
    assert "two real sets named crops" in _one_line_error(
        ["train", "recognizer", "--config", recipe, "--val-real", first, "--val-real", second / "crops"])


def test_bundled_starts_a_run_and_an_average_which_prints_its_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functools import partial

    from platelab.train import interpolate
    from platelab.train.config import load_train_config

    monkeypatch.setattr(interpolate, "interpolate_run", partial(interpolate.interpolate_run, norm_crops=64))

    recipe = _recipe(tmp_path / "r.yaml", tmp_path / "run", {**RECOGNIZER, "head": "ctc"}, init_from="bundled")
    assert load_train_config(recipe).init_from == default_model("recognizer-float")
    run = CliRunner().invoke(app, ["train", "recognizer", "--config", str(recipe)])
    assert run.exit_code == 0, run.output
    average = CliRunner().invoke(app, ["train", "interpolate", "--from", "bundled", "--to", str(tmp_path / "run"),
                                       "--out", str(tmp_path / "wise"), "--val-real", str(_crops(tmp_path / "crops"))])
    assert average.exit_code == 0, average.output
    assert re.search(rf"wrote {re.escape(str(tmp_path / 'wise'))}: synthetic \d+\.\d%, crops \d+\.\d%$",
                     average.output.rstrip()), average.output


def test_train_config_lists_every_recipe_key_with_its_default() -> None:
    from platelab.train.config import DetectorTrainConfig, RecognizerTrainConfig

    for task, schema in (("recognizer", RecognizerTrainConfig), ("detector", DetectorTrainConfig)):
        result = CliRunner().invoke(app, ["train", "config", task])
        assert result.exit_code == 0, result.output
        listed = yaml.safe_load(result.output)
        assert set(listed) == set(schema.model_fields)
        assert schema.model_validate(listed) == schema()  # the listing is the defaults, loadable as a recipe


def test_a_run_started_before_val_real_was_recorded_resumes_with_its_sets(tmp_path: Path) -> None:
    import json

    crops = _crops(tmp_path / "crops")
    out = tmp_path / "run"
    recipe = _recipe(tmp_path / "r.yaml", out, {**RECOGNIZER, "steps": 2, "stop_after": 1})
    assert CliRunner().invoke(app, ["train", "recognizer", "--config", str(recipe)]).exit_code == 0
    config = json.loads((out / "config.json").read_text())
    del config["val_real"]  # as an older platelab wrote it
    (out / "config.json").write_text(json.dumps(config))
    resumed = _recipe(tmp_path / "r.yaml", out, {**RECOGNIZER, "steps": 2})
    result = CliRunner().invoke(app, ["train", "recognizer", "--config", str(resumed), "--resume",
                                      "--val-real", str(crops)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["val_real"] == [str(crops)]


def _read_only(monkeypatch: pytest.MonkeyPatch, folder: Path) -> Path:
    """folder, made, in which no new file can be made, as on a read-only mount (chmod does not stop root, who runs
    CI here)."""
    import errno

    folder.mkdir()
    real_open = os.open

    def refusing_open(path: str | os.PathLike[str], flags: int, *args: object, **kwargs: object) -> int:
        if flags & os.O_CREAT and Path(path).parent.resolve() == folder.resolve():
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refusing_open)
    return folder


def _last_line_error(args: list[object]) -> str:
    """The command ends with exit status 2 and its error on a line of its own (a progress bar may come before)."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    last = result.output.rstrip("\n").split("\n")[-1]
    assert last.startswith("platelab: "), result.output
    return last.removeprefix("platelab: ")


def _run_args(command: str, runs: dict[str, Path], tmp_path: Path, out: Path) -> list[object]:
    """The command line of a tiny run into out: a recognizer or detector recipe, or a fine-tuning of the recognizer."""
    if command == "finetune":
        return ["finetune", "--from", runs["recognizer"], "--data", _crops(tmp_path / "crops"), "--out", out]
    fields = RECOGNIZER if command == "recognizer" else DETECTOR
    return ["train", command, "--config", _recipe(tmp_path / "r.yaml", out, fields)]


@pytest.mark.parametrize("command", ["recognizer", "detector", "finetune"])
def test_an_export_that_cannot_be_written_is_refused_before_the_run_trains(
    runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    shelf = _read_only(monkeypatch, tmp_path / "shelf")
    out, export = tmp_path / "run", shelf / "m.onnx"
    line = _one_line_error([*_run_args(command, runs, tmp_path, out), "--export", export], export,
                           "Read-only file system")
    assert ".tmp" not in line
    assert not out.exists() and list(shelf.iterdir()) == []


def test_a_model_that_cannot_be_written_after_training_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from platelab.train import export as exporting

    def full_disk(source: object, target: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))  # the hidden temporary file

    monkeypatch.setattr(exporting.shutil, "copyfile", full_disk)
    out, export = tmp_path / "run", tmp_path / "m.onnx"
    line = _last_line_error(["train", "recognizer", "--config", _recipe(tmp_path / "r.yaml", out, RECOGNIZER),
                             "--export", export])
    assert line == (f"{export}: not written (No space left on device); the run is kept: platelab export {out} "
                    "--out FILE")
    assert (out / "last.ckpt").is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["r.yaml", "run"]


@pytest.mark.parametrize("command", ["recognizer", "finetune"])
def test_a_read_only_run_folder_is_refused_before_the_run(
    runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    out = _read_only(monkeypatch, tmp_path / "run")
    _one_line_error(_run_args(command, runs, tmp_path, out),
                    f"{out}: the run cannot be written there (Read-only file system)")
    assert list(out.iterdir()) == []


def test_a_checkpoint_that_cannot_be_written_ends_the_run_in_one_line_keeping_the_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_save = torch.save
    saved = []

    def full_disk(state: object, path: object) -> None:
        if saved:  # what torch's zip writer raises when a write comes up short
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 5312 vs 5208")
        saved.append(path)
        real_save(state, path)

    monkeypatch.setattr(torch, "save", full_disk)
    out = tmp_path / "run"
    line = _last_line_error(["train", "recognizer", "--config", _recipe(tmp_path / "r.yaml", out, RECOGNIZER)])
    assert re.fullmatch(re.escape(f"{out / 'last.ckpt'}: the checkpoint could not be written (the write failed; ")
                        + r"\d+\.\d MB free in " + re.escape(f"{out}); the one before it is kept"), line), line
    assert load_checkpoint(out / "last.ckpt")["step"] == 1
    assert not list(out.glob(".last.*"))


@pytest.mark.parametrize("command", ["recognizer", "detector", "finetune"])
@pytest.mark.parametrize("held", [{"notes.txt": "my notes\n"}, {".platelab-output": "drawings\n", "a.jpg": "x"}])
def test_an_out_dir_holding_other_files_is_refused_and_kept(
    runs: dict[str, Path], tmp_path: Path, command: str, held: dict[str, str]
) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    for name, text in held.items():
        (out / name).write_text(text)
    if command == "finetune":
        args = ["finetune", "--from", runs["recognizer"], "--data", _crops(tmp_path / "crops"), "--out", out]
    else:
        args = ["train", command, "--config", _recipe(tmp_path / "r.yaml", out,
                                                      RECOGNIZER if command == "recognizer" else DETECTOR)]
    line = _one_line_error(args, out)
    assert ("holds files platelab did not write" if "notes.txt" in held else "holds platelab's drawings") in line
    assert {p.name: p.read_text() for p in out.iterdir()} == held


def test_a_run_written_before_folders_were_marked_resumes(runs: dict[str, Path], tmp_path: Path) -> None:
    run = shutil.copytree(runs["recognizer"], tmp_path / "run")
    (run / ".platelab-output").unlink()
    (run / ".platelab-run.lock").unlink()
    (run / "styles" / "0123456789abcdef").mkdir(parents=True)  # a run's copies of style files
    result = CliRunner().invoke(app, ["train", "recognizer", "--config", str(_recipe(tmp_path / "r.yaml", run,
                                                                                     RECOGNIZER)), "--resume"])
    assert result.exit_code == 0, result.output


def test_a_run_folder_in_use_is_refused_and_one_whose_run_was_killed_is_not(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    import subprocess
    import sys

    from platelab.train.loop import hold_run_folder

    run = shutil.copytree(runs["recognizer"], tmp_path / "run")
    resume = ["train", "recognizer", "--config", _recipe(tmp_path / "r.yaml", run, RECOGNIZER), "--resume"]
    fresh = tmp_path / "fresh"
    with hold_run_folder(run), hold_run_folder(fresh):
        kept = _fingerprint(run)
        _one_line_error(resume, f"{run}: in use by another run (process ")
        _one_line_error(["train", "recognizer", "--config", _recipe(tmp_path / "f.yaml", fresh, RECOGNIZER)],
                        f"{fresh}: in use by another run")
        _one_line_error(["finetune", "--from", runs["recognizer"], "--data", _crops(tmp_path / "crops"),
                         "--out", fresh], f"{fresh}: in use by another run")
        assert _fingerprint(run) == kept
    holder = ("import os, sys\nfrom pathlib import Path\nfrom platelab.train.loop import hold_run_folder\n"
              "with hold_run_folder(Path(sys.argv[1])):\n    os.kill(os.getpid(), 9)\n")
    killed = subprocess.run([sys.executable, "-c", holder, str(run)], cwd=Path(__file__).parents[1], check=False)
    assert killed.returncode == -9
    result = CliRunner().invoke(app, [str(a) for a in resume])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("planted", ["link", "dangling link", "hard link", "pipe"])
def test_a_lock_file_planted_as_a_link_is_refused_and_what_it_points_at_is_kept(
    runs: dict[str, Path], tmp_path: Path, planted: str
) -> None:
    from platelab.io.outputs import OutputError
    from platelab.train.loop import hold_run_folder

    run = shutil.copytree(runs["recognizer"], tmp_path / "run")
    victim, elsewhere = tmp_path / "victim.txt", tmp_path / "elsewhere.txt"
    victim.write_text("someone's file\n")
    lock = run / ".platelab-run.lock"
    lock.unlink()
    if planted == "link":
        lock.symlink_to(victim)
    elif planted == "dangling link":  # opened to write, it would create the file it points at
        lock.symlink_to(elsewhere)
    elif planted == "hard link":
        os.link(victim, lock)
    else:
        os.mkfifo(lock)
    refusal = f"{lock}: a link or special file, not the lock file a run writes"
    _one_line_error(["train", "recognizer", "--config", _recipe(tmp_path / "r.yaml", run, RECOGNIZER), "--resume"],
                    refusal)
    with pytest.raises(OutputError, match=re.escape(refusal)), hold_run_folder(run):  # past the check, a race
        pass
    assert victim.read_text() == "someone's file\n" and not elsewhere.exists()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_the_processes_a_killed_run_forked_do_not_hold_its_folder(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from platelab.train.loop import check_free

    # as a run's data loader forks its workers while it holds the folder; the worker outlives the kill
    holder = ("import multiprocessing, os, sys, time\nfrom pathlib import Path\n"
              "from platelab.train.loop import hold_run_folder\n"
              "def work(ready):\n    ready.set()\n    time.sleep(60)\n"
              "with hold_run_folder(Path(sys.argv[1])):\n"
              "    fork = multiprocessing.get_context('fork')\n    ready = fork.Event()\n"
              "    worker = fork.Process(target=work, args=(ready,))\n    worker.start()\n    ready.wait(60)\n"
              "    Path(sys.argv[2]).write_text(str(worker.pid))\n    os.kill(os.getpid(), 9)\n")
    run, pid = tmp_path / "run", tmp_path / "worker.pid"
    # no pipes: the worker inherits them, and reading them to their end would wait for it to exit
    killed = subprocess.run([sys.executable, "-c", holder, str(run), str(pid)], cwd=Path(__file__).parents[1],
                            stdout=subprocess.DEVNULL, check=False)
    assert killed.returncode == -9
    worker = int(pid.read_text())
    try:
        os.kill(worker, 0)  # still running (it sleeps a minute)
        check_free(run)
    finally:
        os.kill(worker, signal.SIGKILL)


@pytest.mark.parametrize("source", ["bundled", "detector.onnx"])
def test_a_detector_run_starts_only_from_a_detector_checkpoint(tmp_path: Path, source: str) -> None:
    init_from = default_model("detector") if source.endswith(".onnx") else source
    out = tmp_path / "run"
    line = _one_line_error(["train", "detector", "--config", _recipe(tmp_path / "d.yaml", out, DETECTOR,
                                                                     init_from=init_from)],
                           f"{init_from}: init_from: a detector run starts from a detector run's checkpoint")
    assert "cannot be trained further" in line and not out.exists()


def test_a_detector_run_stops_after_its_budget_and_resumes_to_its_end(tmp_path: Path) -> None:
    out = tmp_path / "run"
    for changes, resume, step in (({"stop_after": 1}, [], 1), ({}, ["--resume"], 2)):
        recipe = _recipe(tmp_path / "d.yaml", out, DETECTOR, steps=2, **changes)
        result = CliRunner().invoke(app, ["train", "detector", "--config", str(recipe), *resume])
        assert result.exit_code == 0, result.output
        assert load_checkpoint(out / "last.ckpt")["step"] == step


def test_interpolate_from_a_run_folder_says_what_from_takes(runs: dict[str, Path], tmp_path: Path) -> None:
    run = runs["recognizer"]
    _one_line_error(["train", "interpolate", "--from", run, "--to", run, "--out", tmp_path / "mid"],
                    f"{run}: a folder; --from takes a checkpoint file ({run / 'last.ckpt'})")
    assert not (tmp_path / "mid").exists()
