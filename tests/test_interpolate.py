"""A trained-on recognizer averaged with its starting point: the weights in between, norms measured again."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

from platelab.cli import app  # noqa: E402
from platelab.train import recognizer as training  # noqa: E402
from platelab.train.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from platelab.train.config import RecognizerTrainConfig  # noqa: E402
from platelab.train.interpolate import averaged_weights, interpolate_run  # noqa: E402
from platelab.train.recipe import export_run  # noqa: E402


def _run(out: Path, init_from: Path | None = None, seed: int = 0) -> Path:
    cfg = RecognizerTrainConfig(out_dir=out, head="ctc", steps=3, batch_size=4, workers=0, val_size=4, val_every=100,
                                checkpoint_every=3, warmup_steps=1, threads=1, seed=seed, lr=0.05, init_from=init_from)
    training.train_recognizer(cfg)
    return out


@pytest.fixture(scope="module")
def start_and_end(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("runs")
    start = _run(root / "start")
    return start / "last.ckpt", _run(root / "end", init_from=start / "last.ckpt", seed=1)


def test_averaged_weights_lie_between_the_two_and_refuse_another_network() -> None:
    start = {"w": torch.zeros(3), "n": torch.tensor(5)}
    end = {"w": torch.tensor([2.0, 4.0, -2.0]), "n": torch.tensor(9)}
    assert torch.equal(averaged_weights(start, end, 0.25)["w"], torch.tensor([0.5, 1.0, -0.5]))
    assert averaged_weights(start, end, 0.25)["n"] == 9
    assert torch.equal(averaged_weights(start, end, 0.0)["w"], start["w"])
    with pytest.raises(ValueError, match="not the same network"):
        averaged_weights({"w": torch.zeros(4)}, end, 0.5)


def test_the_average_is_a_run_that_exports_with_its_chain_on_the_card(
    start_and_end: tuple[Path, Path], tmp_path: Path
) -> None:
    start, end = start_and_end
    out = tmp_path / "mid"
    interpolate_run(start, end, 0.5, out, norm_crops=64)
    a, b, mid = (load_checkpoint(p)["model"] for p in (start, end / "last.ckpt", out / "last.ckpt"))
    conv = "backbone.layers.0.0.weight"
    assert torch.allclose(mid[conv], (a[conv] + b[conv]) / 2) and not torch.allclose(a[conv], b[conv])
    norm = "backbone.layers.0.1.running_mean"  # measured again on synthetic crops, not averaged
    assert not torch.allclose(mid[norm], (a[norm] + b[norm]) / 2)
    log = json.loads((out / "metrics.jsonl").read_text())
    assert log["step"] == 0 and "val_synthetic" in log
    card = json.loads(export_run(out, tmp_path / "mid.onnx").with_suffix(".card.json").read_text())
    assert card["initialised_from"]["checkpoint"] == str(end / "last.ckpt")
    assert card["initialised_from"]["initialised_from"]["checkpoint"] == str(start)


def test_the_cli_names_a_missing_run(start_and_end: tuple[Path, Path], tmp_path: Path) -> None:
    start, _ = start_and_end
    result = CliRunner().invoke(app, ["train", "interpolate", "--from", str(start), "--to", str(tmp_path / "nope"),
                                      "--out", str(tmp_path / "mid")])
    assert result.exit_code == 2 and "nope" in result.output
    tuned = tmp_path / "tuned"  # a fine-tuning's folder, as `platelab finetune` leaves it
    tuned.mkdir()
    (tuned / "config.json").write_text('{"task": "finetune"}')
    (tuned / "last.ckpt").write_bytes(b"")
    result = CliRunner().invoke(app, ["train", "interpolate", "--from", str(start), "--to", str(tuned),
                                      "--out", str(tmp_path / "mid")])
    assert result.exit_code == 2 and "a finetune run; train interpolate takes a recognizer run" in result.output


def test_a_stage_started_from_an_exported_model_carries_that_models_card(
    start_and_end: tuple[Path, Path], tmp_path: Path
) -> None:
    start, _ = start_and_end
    (start.parent / "command.txt").write_text("platelab train recognizer --config tiny.yaml\n")
    exported = export_run(start.parent, tmp_path / "start.onnx")
    later = _run(tmp_path / "later", init_from=exported, seed=2)
    card = json.loads(export_run(later, tmp_path / "later.onnx").with_suffix(".card.json").read_text())
    earlier = card["initialised_from"]
    assert earlier["checkpoint"] == str(exported)
    assert earlier["training_command"] == "platelab train recognizer --config tiny.yaml"
    exported_card = json.loads(exported.with_suffix(".card.json").read_text())
    assert (earlier["steps"], earlier["accuracy"]) == (3, exported_card["accuracy"]) and earlier["accuracy"]
    assert card["wall_time_all_stages_s"] == round(card["wall_time_s"] + exported_card["wall_time_s"], 1)


def _fingerprint(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _refused(args: list[object], *named: object) -> str:
    result = CliRunner().invoke(app, ["train", "interpolate", *map(str, args)])
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert all(str(name) in lines[0] for name in named), result.output
    return lines[0]


def test_an_out_folder_that_holds_a_run_or_is_a_file_is_refused_and_kept(
    start_and_end: tuple[Path, Path], tmp_path: Path
) -> None:
    start, end = start_and_end
    other = shutil.copytree(end, tmp_path / "other-run")  # another run: its weights, config and log
    before = _fingerprint(other)
    assert {"last.ckpt", "config.json", "metrics.jsonl"} <= set(before)
    assert "holds a run already (last.ckpt); give another folder" in _refused(
        ["--from", start, "--to", end, "--out", other], other)
    assert _fingerprint(other) == before  # not replaced, and no command.txt beside them
    note = tmp_path / "note.txt"
    note.write_text("a user's file")
    assert "a file, not a folder" in _refused(["--from", start, "--to", end, "--out", note], note)
    assert note.read_text() == "a user's file"


@pytest.mark.parametrize("damage", ["truncated start", "another network as start", "end without weights"])
def test_a_failed_interpolate_names_the_file_and_leaves_no_folder(
    start_and_end: tuple[Path, Path], tmp_path: Path, damage: str
) -> None:
    start, end = start_and_end
    if damage == "truncated start":
        start = tmp_path / "start.ckpt"
        start.write_bytes(start_and_end[0].read_bytes()[:5000])
        named = start
    elif damage == "another network as start":
        start = tmp_path / "start.ckpt"
        save_checkpoint(start, {"model": {k: torch.zeros(3) for k in load_checkpoint(start_and_end[0])["model"]}})
        named = start
    else:
        end = shutil.copytree(end, tmp_path / "end")
        save_checkpoint(end / "last.ckpt", {"step": 3})
        named = end / "last.ckpt"
    out = tmp_path / "mid"
    _refused(["--from", start, "--to", end, "--out", out], named)
    assert not out.exists()  # no command.txt for a run that was never written


def test_a_quarter_of_the_way_with_few_norm_crops_measures_each_norm_on_one_batch(
    start_and_end: tuple[Path, Path], tmp_path: Path
) -> None:
    import torch.nn.functional as F

    from platelab.predict.charset import Charset
    from platelab.synth.dataset import SyntheticCropBatches
    from platelab.synth.style import select_styles
    from platelab.train.interpolate import NORM_BATCH

    start, end = start_and_end
    interpolate_run(start, end, 0.25, tmp_path / "q", norm_crops=16, seed=5)  # fewer than a batch: one batch
    a, b, q = (load_checkpoint(p)["model"] for p in (start, end / "last.ckpt", tmp_path / "q" / "last.ckpt"))
    conv = "backbone.layers.0.0.weight"
    assert torch.allclose(q[conv], 0.75 * a[conv] + 0.25 * b[conv], atol=1e-7)
    # the first norm's running mean: the plain mean of the first convolution's outputs on that batch
    images = SyntheticCropBatches(select_styles(None), Charset(), NORM_BATCH, 5).render_batch(0)[0]
    expected = F.conv2d(images, q[conv], stride=2, padding=1).mean((0, 2, 3))
    assert torch.allclose(q["backbone.layers.0.1.running_mean"], expected, atol=1e-5)
