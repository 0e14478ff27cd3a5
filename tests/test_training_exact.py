"""Training's exact figures: the warm-up schedule, the clipped step, the wall time a resumed run carries on, and
exports refused unless the ONNX graph computes what its torch model does."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from platelab.cli import app  # noqa: E402
from platelab.train import detector as detector_training  # noqa: E402
from platelab.train import recipe  # noqa: E402
from platelab.train import recognizer as recognizer_training  # noqa: E402
from platelab.train.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from platelab.train.config import RecognizerTrainConfig  # noqa: E402
from platelab.train.export import EXPORT_TOLERANCE, ExportMismatch, publish, require_agreement  # noqa: E402
from platelab.train.loop import CLIP_NORM, Run, optimizer_step, running_mean, schedule  # noqa: E402
from tests.test_detector import _config as detector_config  # noqa: E402
from tests.test_training import _config as recognizer_config  # noqa: E402

REFUSED = "not written: the ONNX graph's outputs differ from torch's"


def _recognizer_run(out: Path, **changes: object) -> RecognizerTrainConfig:
    return recognizer_config(out, val_every=1, **changes)  # a figure logged every step


def _detector_run(out: Path) -> detector_training.DetectorTrainConfig:
    return detector_config(out, steps=2)


def test_the_learning_rate_warms_up_linearly_then_decays_by_a_cosine_to_two_percent() -> None:
    factor = schedule(10, 4)
    # step s of the 4 warm-up steps runs at (s + 1) / 4 of the peak rate, reaching the peak on the last one
    assert [factor(step) for step in range(4)] == [0.25, 0.5, 0.75, 1.0]
    # then half a cosine over the 6 steps left, from 1 down to 0.02: half-way (step 7) at their mean, 0.51
    assert factor(4) == pytest.approx(1.0) and factor(7) == pytest.approx(0.51)
    assert factor(10) == pytest.approx(0.02) and factor(25) == pytest.approx(0.02)
    assert schedule(10, 0)(0) == pytest.approx(1.0)


def _weights_after_one_step(gradient: list[float], out: Path) -> torch.Tensor:
    """Weights starting at 0 after optimizer_step on a loss whose gradient is `gradient`, under plain SGD at rate 1:
    the step is exactly minus the gradient optimizer_step lets through."""
    model = nn.Linear(len(gradient), 1, bias=False)
    nn.init.zeros_(model.weight)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    run = Run(out, torch.device("cpu"), optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0), 0, 0.0)
    optimizer_step((model.weight[0] * torch.tensor(gradient)).sum(), model, run)
    return model.weight.detach()[0]


def test_a_step_on_a_steep_gradient_is_cut_to_the_clip_norm_in_the_same_direction(tmp_path: Path) -> None:
    # gradient (300, 400): length 500, direction (0.6, 0.8); cut to length CLIP_NORM it is CLIP_NORM * (0.6, 0.8)
    assert CLIP_NORM < 500
    clipped = _weights_after_one_step([300.0, 400.0], tmp_path)
    assert torch.allclose(clipped, -CLIP_NORM * torch.tensor([0.6, 0.8]), rtol=1e-6, atol=0), clipped
    # a gradient shorter than the limit passes whole
    whole = _weights_after_one_step([0.3, 0.4], tmp_path)
    assert torch.allclose(whole, torch.tensor([-0.3, -0.4]), rtol=1e-6, atol=0), whole


def test_a_resumed_run_logs_its_wall_time_on_from_the_time_before_the_break(tmp_path: Path) -> None:
    recognizer_training.train_recognizer(_recognizer_run(tmp_path, stop_after=2))
    # as if the 2 steps before the break had taken 1000 s
    save_checkpoint(tmp_path / "last.ckpt", {**load_checkpoint(tmp_path / "last.ckpt"), "elapsed": 1000.0})
    began = time.perf_counter()
    recognizer_training.train_recognizer(_recognizer_run(tmp_path), resume=True)
    resumed_for = time.perf_counter() - began
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    logged = {line["step"]: line["seconds"] for line in map(json.loads, lines)}
    assert sorted(logged) == [1, 2, 3, 4]
    # seconds are logged to 0.1 s
    assert all(1000.0 <= logged[step] <= 1000.0 + resumed_for + 0.05 for step in (3, 4)), (logged, resumed_for)


def _exporting_altered(export: Callable[..., Path], alter: Callable[[nn.Module], object]) -> Callable[..., Path]:
    """export, but of a copy of the model that alter changed: a graph that no longer computes what the model does."""

    def export_altered(model: nn.Module, path: Path, *args: object) -> Path:
        altered = copy.deepcopy(model)
        with torch.no_grad():
            alter(altered)
        return export(altered, path, *args)

    return export_altered


@pytest.mark.parametrize("int8", [[], ["--int8"]], ids=["float", "int8"])
def test_a_recognizer_export_whose_graph_is_not_the_model_is_refused_and_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, int8: list[str]
) -> None:
    cfg = _recognizer_run(tmp_path / "run")
    recognizer_training.train_recognizer(cfg)
    out = recipe.export_run(cfg.out_dir, tmp_path / "model.onnx")
    kept = out.read_bytes(), out.with_suffix(".card.json").read_bytes()
    # One more logit for the first class of the first slot: its probability, about 1/37 in a 4-step model, becomes
    # e / (e + 36) = 0.07, so the graph misses by 0.04, 400 times the tolerance.
    monkeypatch.setattr(recipe, "export_recognizer", _exporting_altered(
        recipe.export_recognizer, lambda model: model.head.classify.bias[0].add_(1.0)))
    result = CliRunner().invoke(app, ["export", str(cfg.out_dir), "--out", str(out), *int8])
    assert result.exit_code == 2 and REFUSED in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert (out.read_bytes(), out.with_suffix(".card.json").read_bytes()) == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.card.json", "model.onnx", "run"]  # no temporaries


@pytest.mark.parametrize("int8", [False, True], ids=["float", "int8"])
def test_a_detector_export_whose_graph_is_not_the_model_is_refused_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, int8: bool
) -> None:
    cfg = _detector_run(tmp_path / "run")
    detector_training.train_detector(cfg)
    # One more heat logit: the prior score 0.05 becomes 0.05e / (0.05e + 0.95) = 0.125, 750 times the tolerance.
    monkeypatch.setattr(detector_training, "export_detector", _exporting_altered(
        detector_training.export_detector, lambda model: model.heat.bias.add_(1.0)))
    out = tmp_path / "detector.onnx"
    with pytest.raises(ExportMismatch, match=REFUSED):
        detector_training.export_detector_run(cfg.out_dir, out, int8=int8)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_real_export_records_its_difference_within_the_tolerance(tmp_path: Path) -> None:
    recognizer = _recognizer_run(tmp_path / "recognizer")
    recognizer_training.train_recognizer(recognizer)
    detector = _detector_run(tmp_path / "detector")
    detector_training.train_detector(detector)
    cards = [recipe.export_run(recognizer.out_dir, tmp_path / "recognizer.onnx"),
             detector_training.export_detector_run(detector.out_dir, tmp_path / "detector.onnx")]
    for card in cards:
        max_diff = json.loads(card.with_suffix(".card.json").read_text())["onnx_vs_torch_max_abs_diff"]
        assert 0 <= max_diff <= EXPORT_TOLERANCE, (card.name, max_diff)


def test_agreement_is_the_difference_itself_and_nan_is_none() -> None:
    assert require_agreement(1e-6, Path("m.onnx")) == 1e-6  # what the card records
    # the shipped models measure under 1e-5; a thousandth is a graph that computes something else
    for difference in (EXPORT_TOLERANCE * 1.01, 1e-3, float("nan"), float("inf")):
        with pytest.raises(ExportMismatch, match=r"m\.onnx: not written"):
            require_agreement(difference, Path("m.onnx"))


def test_a_checked_export_is_published_into_a_new_folder(tmp_path: Path) -> None:
    checked = tmp_path / "checked.onnx"
    checked.write_bytes(b"graph")
    assert publish(checked, tmp_path / "new" / "m.onnx").read_bytes() == b"graph"


def test_a_publish_cut_short_leaves_the_file_before_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    checked, out = tmp_path / "checked.onnx", tmp_path / "m.onnx"
    checked.write_bytes(b"new graph")
    out.write_bytes(b"old graph")

    def full_disk(source: Path, target: Path) -> None:
        Path(target).write_bytes(b"new")
        raise OSError(28, "No space left on device", str(target))

    monkeypatch.setattr(shutil, "copyfile", full_disk)
    with pytest.raises(OSError, match="No space left"):
        publish(checked, out)
    assert out.read_bytes() == b"old graph"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checked.onnx", "m.onnx"]


def test_each_logged_step_runs_at_the_scheduled_rate_with_its_running_figures(tmp_path: Path) -> None:
    cfg = _recognizer_run(tmp_path)
    recognizer_training.train_recognizer(cfg)
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    factor = schedule(cfg.steps, cfg.warmup_steps)
    # the rate logged with step s is the one the next step takes: s steps of the schedule taken
    assert [line["lr"] for line in lines] == pytest.approx([cfg.lr * factor(s) for s in range(1, cfg.steps + 1)])
    # the running figures start at the first step's value and move 2% towards each later one
    assert running_mean(None, 3.0) == 3.0 and running_mean(1.0, 2.0) == pytest.approx(1.02)


def test_a_detection_finds_a_plate_only_where_they_overlap_by_half() -> None:
    import numpy as np

    from platelab.predict.detector import Detection

    def box(x: float) -> np.ndarray:
        return np.array([[x, 0], [x + 100, 0], [x + 100, 20], [x, 20]], np.float32)

    plate = box(0)
    # shifted by 30 px: IoU 70 / 130 = 0.54, found, its corners 30 px out; by 40 px: IoU 60 / 140 = 0.43, a false one
    found, false, error = detector_training.match_counts([Detection(0.9, box(30))], [plate])
    assert (found, false) == (1, 0) and error == pytest.approx(30.0)
    assert detector_training.match_counts([Detection(0.9, box(40))], [plate]) == (0, 1, 0.0)
    # a second detection of a plate already found is a false one
    assert detector_training.match_counts([Detection(0.9, box(0)), Detection(0.8, box(5))], [plate])[:2] == (1, 1)


def test_the_export_check_is_the_largest_difference_of_any_probability(tmp_path: Path) -> None:
    import numpy as np

    from platelab.models.recognizer import PlateRecognizer
    from platelab.train.export import check_export, export_recognizer

    model = PlateRecognizer()
    path = export_recognizer(model, tmp_path / "m.onnx")  # leaves the model in eval mode
    images = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 1, 64, 128)).astype(np.float32))
    with torch.no_grad():
        before = torch.softmax(model(images), -1)
        model.head.classify.bias[0] += 1.0  # one class of one slot: the graph now misses there only
        largest = (torch.softmax(model(images), -1) - before).abs().max().item()
    assert check_export(model, path, images.numpy()) == pytest.approx(largest, abs=1e-5)
