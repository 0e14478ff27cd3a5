"""Tiny training runs: a kill and --resume give the same weights as an unbroken run; ONNX equals torch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from platelab.predict.charset import Charset  # noqa: E402
from platelab.predict.decode import decode  # noqa: E402
from platelab.predict.recognizer import RecognitionPredictor  # noqa: E402
from platelab.synth.crops import render_crop  # noqa: E402
from platelab.synth.style import select_styles  # noqa: E402
from platelab.train import recognizer as training  # noqa: E402
from platelab.train.config import RecognizerTrainConfig  # noqa: E402
from platelab.train.loop import hardware  # noqa: E402
from platelab.train.losses import exact_hits  # noqa: E402
from platelab.train.recipe import export_run  # noqa: E402
from tests.conftest import assert_resume_is_exact  # noqa: E402


def _config(out: Path, head: str = "slots", **changes: object) -> RecognizerTrainConfig:
    settings = dict(out_dir=out, head=head, steps=4, batch_size=4, workers=0, val_size=4, val_every=100,
                    checkpoint_every=2, warmup_steps=1, threads=1)
    return RecognizerTrainConfig(**(settings | changes))


@pytest.mark.parametrize("head", ["slots", "ctc"])
def test_resume_after_a_kill_matches_an_unbroken_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, head: str
) -> None:
    run = assert_resume_is_exact(
        training.train_recognizer, lambda out: _config(out, head), tmp_path, monkeypatch, training
    )
    log = (run / "metrics.jsonl").read_text().splitlines()
    assert log and '"step": 4' in log[-1]


def test_a_fresh_run_in_a_used_folder_starts_its_own_metrics_log(tmp_path: Path) -> None:
    training.train_recognizer(_config(tmp_path))
    first = (tmp_path / "metrics.jsonl").read_text().splitlines()
    partial = tmp_path / ".last.1a2b3c4d.tmp.ckpt"  # a checkpoint whose writing a kill cut short
    partial.write_bytes(b"PK\x03\x04half a zip")
    training.train_recognizer(_config(tmp_path).model_copy(update={"steps": 2}))
    second = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(second) == len(first) and '"step": 2' in second[-1] and '"step": 4' not in "".join(second)
    assert not partial.exists()


def test_a_ctc_stage_starts_from_a_slots_run_backbone(tmp_path: Path) -> None:
    slots = training.train_recognizer(_config(tmp_path / "slots"))
    cfg = _config(tmp_path / "ctc", "ctc").model_copy(update={"init_from": tmp_path / "slots" / "last.ckpt",
                                                               "steps": 1, "lr": 1e-12, "warmup_steps": 0})
    ctc = training.train_recognizer(cfg)
    # lr ~ 0: the backbone is the slots run's, the new head is freshly initialised
    for (name, a), b in zip(slots.backbone.state_dict().items(), ctc.backbone.state_dict().values()):
        if "running" not in name and "num_batches" not in name:
            assert torch.allclose(a, b, atol=1e-6), name
    assert ctc(torch.zeros(1, 1, 64, 128)).shape == (1, 64, ctc.charset.classes)


@pytest.mark.parametrize("head", ["slots", "ctc"])
def test_onnx_export_reads_like_torch(tmp_path: Path, head: str) -> None:
    cfg = _config(tmp_path / "run", head)
    model = training.train_recognizer(cfg)
    onnx_path = export_run(cfg.out_dir, tmp_path / "model.onnx")
    assert onnx_path.with_suffix(".card.json").exists()

    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 255, (h, 2 * h, 3), dtype=np.uint8) for h in (40, 64, 90)]
    predictor = RecognitionPredictor(onnx_path)
    onnx_probs = predictor.probabilities(crops)
    from platelab.predict.preprocess import preprocess_crops

    with torch.no_grad():
        torch_probs = torch.softmax(model(torch.from_numpy(preprocess_crops(crops))), -1).numpy()
    assert np.abs(onnx_probs - torch_probs).max() < 1e-4
    assert [r.text for r in predictor.read(crops)] == [d.text for d in predictor.decode(torch_probs)]


def test_a_country_prior_writes_characters_as_that_country_does(tmp_path: Path) -> None:
    cfg = _config(tmp_path / "run", "ctc")
    training.train_recognizer(cfg)
    us = RecognitionPredictor(export_run(cfg.out_dir, tmp_path / "model.onnx"), prior="us")
    frames = us.probabilities([np.zeros((64, 128, 3), np.uint8)]).shape[1]

    def sure_frames(text: str) -> np.ndarray:
        probs = np.zeros((frames, us.charset.classes), np.float32)
        probs[:, us.charset.pad_index] = 1.0
        for i, char in enumerate(text):  # each character on its own frame, blanks between
            probs[2 * i + 1] = 0.0
            probs[2 * i + 1, us.charset.chars.index(char)] = 1.0
        return probs

    # The exported metadata carries the US way of writing the round shape as 0, where a format allows a 0:
    # seven Os fit only a vanity format (any character), OOO226 fits LLLNNN, whose first three are letters.
    vanity, letters = us.decode(np.stack([sure_frames("OOOOOOO"), sure_frames("OOO226")]))
    assert (vanity.text, letters.text) == ("0000000", "OOO226")
    assert [d.text for d in RecognitionPredictor(us.path).decode(sure_frames("OOOOOOO")[None])] == ["OOOOOOO"]


def test_export_class_scale_tips_a_close_call_and_is_on_the_card(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from platelab.cli import app

    cfg = _config(tmp_path / "run", "ctc")
    training.train_recognizer(cfg)
    plain = RecognitionPredictor(export_run(cfg.out_dir, tmp_path / "plain.onnx"))
    result = CliRunner().invoke(app, ["export", str(cfg.out_dir), "--out", str(tmp_path / "scaled.onnx"),
                                      "--class-scale", "M=4", "--class-scale", "w=4"])
    assert result.exit_code == 0, result.output
    scaled = RecognitionPredictor(tmp_path / "scaled.onnx")
    frames = plain.probabilities([np.zeros((64, 128, 3), np.uint8)]).shape[1]
    probs = np.zeros((1, frames, plain.charset.classes), np.float32)
    probs[0, :, plain.charset.pad_index] = 1.0
    for frame, (best, second, p) in enumerate([("H", "M", 0.6), ("N", "W", 0.6), ("H", "M", 0.9)]):
        probs[0, 2 * frame + 1] = 0.0
        probs[0, 2 * frame + 1, [plain.charset.chars.index(best), plain.charset.chars.index(second)]] = p, 1 - p
    # 0.4 x 4 beats 0.6; 0.1 x 4 does not beat 0.9
    assert (plain.decode(probs)[0].text, scaled.decode(probs)[0].text) == ("HNH", "MWH")
    card = json.loads((tmp_path / "scaled.card.json").read_text())
    assert card["class_scale"] == {"M": 4.0, "W": 4.0} and "--class-scale M=4" in card["export_command"]

    for bad, message in (("M=0", "positive finite factor"), ("M=inf", "positive finite factor"),
                         ("M=1e400", "positive finite factor"), ("MW=2", "CHAR=FACTOR"), ("a=x", "CHAR=FACTOR"),
                         ("#=2", "not in the model's charset")):
        result = CliRunner().invoke(app, ["export", str(cfg.out_dir), "--out", str(tmp_path / "bad.onnx"),
                                          "--class-scale", bad])
        assert result.exit_code == 2 and message in result.output, (bad, result.output)
    assert not (tmp_path / "bad.onnx").exists()


def test_export_replaces_its_own_model_and_never_another_file(tmp_path: Path) -> None:
    """--out naming an existing file: a model platelab exported is replaced (a re-export), anything else is left
    as it was, with one line naming it."""
    import onnx
    from onnx import TensorProto, helper
    from typer.testing import CliRunner

    from platelab.cli import app

    cfg = _config(tmp_path / "run", "ctc")
    training.train_recognizer(cfg)
    out = tmp_path / "model.onnx"
    for _ in range(2):
        result = CliRunner().invoke(app, ["export", str(cfg.out_dir), "--out", str(out)])
        assert result.exit_code == 0, result.output
    assert RecognitionPredictor(out).charset.chars == cfg.charset
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "other",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph), str(tmp_path / "other.onnx"))
    (tmp_path / "notes.onnx").write_text("someone's notes\n")
    for name in ("other.onnx", "notes.onnx"):
        before = (tmp_path / name).read_bytes()
        result = CliRunner().invoke(app, ["export", str(cfg.out_dir), "--out", str(tmp_path / name)])
        assert result.exit_code == 2 and result.output.strip().splitlines() == [
            f"platelab: {tmp_path / name}: exists and is not a model platelab exported; remove it or give another "
            "file"
        ], result.output
        assert (tmp_path / name).read_bytes() == before
        assert not (tmp_path / name).with_suffix(".card.json").exists()


def test_int8_export_records_both_models_on_the_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from platelab.cli import app
    from platelab.train import recipe

    cfg = _config(tmp_path / "run", "ctc")
    training.train_recognizer(cfg)
    monkeypatch.setattr(recipe, "CALIBRATION_CROPS", 8)
    monkeypatch.setattr(recipe, "CALIBRATION_BATCH", 4)
    out = tmp_path / "int8.onnx"
    result = CliRunner().invoke(app, ["export", str(cfg.out_dir), "--out", str(out), "--int8"])
    assert result.exit_code == 0, result.output
    card = json.loads(out.with_suffix(".card.json").read_text())
    assert card["int8"]["kept_float"] and card["int8"]["size_bytes_float"] > card["size_bytes"]
    assert set(card["accuracy_int8"]) == set(card["accuracy_float"]) == {"synthetic"}
    assert "--int8" in card["export_command"]
    styles = select_styles(None)
    crops = [render_crop(styles, np.random.default_rng([5, i]), cfg.synth).image for i in range(4)]
    int8_probs = RecognitionPredictor(out).probabilities(crops)
    float_probs = RecognitionPredictor(export_run(cfg.out_dir, tmp_path / "float.onnx")).probabilities(crops)
    # The 8-bit graph's probabilities are computed in float from its float classifier (quantize.float_outputs), not
    # rounded to 256 levels: quantized, they would take at most 256 values, most of them exactly 0.
    assert len(np.unique(int8_probs)) > 256 and np.all(int8_probs > 0)
    # What is left is the quantized layers between the float first convolution and classifier: their activations
    # round to 1/255 of each calibrated range, which moves the logits by hundredths at most and so a probability near
    # 1/37 by under 0.001 (measured: 6e-5). This 4-step model reads every crop nearly alike, so this checks the int8
    # graph's output (the right classes, at the right scale), not how it follows the input (test_detector.py's int8
    # test does); a flat output would miss some probability by half the float model's spread over its classes.
    tolerance = 1e-3
    assert np.ptp(float_probs) > 2 * tolerance
    assert np.abs(int8_probs - float_probs).max() < tolerance


def test_training_accuracy_reads_ctc_frames_as_the_decoder_does() -> None:
    charset = Charset()
    rng = np.random.default_rng(0)
    # Few classes per plate, so frames repeat and runs merge; some readings longer than the charset's slots.
    density = np.linspace(0.0, 0.4, 400)[:, None]
    frames = np.where(rng.random((400, 64)) < density, rng.choice([0, 1, 7], size=(400, 64)), charset.pad_index)
    frames[:5] = rng.integers(0, charset.pad_index, size=(5, 64))
    logits = torch.from_numpy(np.eye(charset.classes, dtype=np.float32)[frames] + rng.random(
        (400, 64, charset.classes), dtype=np.float32) * 0.1)
    texts = [d.text for d in decode(torch.softmax(logits, -1).numpy(), charset, "ctc")]
    fitting = [t if len(t) <= charset.slots else "" for t in texts]
    targets = torch.from_numpy(np.stack([charset.encode(t) for t in fitting]))
    hits = [exact_hits(logits[i : i + 1], targets[i : i + 1], charset, "ctc") for i in range(len(texts))]
    assert hits == [float(t == f) for t, f in zip(texts, fitting)]
    assert 0 < sum(hits) < len(hits) and {len(t) for t in texts} >= {0, 1, 2, charset.slots + 1}


def test_the_card_names_the_hardware_the_run_trained_on_not_the_exporting_one(tmp_path: Path) -> None:
    cfg = _config(tmp_path / "run", "ctc")
    training.train_recognizer(cfg)
    log = cfg.out_dir / "metrics.jsonl"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines and all(line["hardware"] == hardware() for line in lines)
    # as if trained on a lent GPU and exported on this machine
    log.write_text("".join(json.dumps({**line, "hardware": "NVIDIA H100 80GB HBM3"}) + "\n" for line in lines))
    card = json.loads(export_run(cfg.out_dir, tmp_path / "model.onnx").with_suffix(".card.json").read_text())
    assert card["hardware"] == "NVIDIA H100 80GB HBM3"
    assert card["accuracy_synthetic_samples"] == cfg.val_size  # a short run's figure says it is of a few crops


def _recipe(path: Path, out: Path, **changes: object) -> Path:
    fields = {"out_dir": str(out), "steps": 2, "batch_size": 4, "workers": 0, "val_size": 4, "val_every": 100,
              "checkpoint_every": 1, "warmup_steps": 1, "threads": 1, "lr": 0.001, **changes}
    path.write_text("".join(f"{key}: {value}\n" for key, value in fields.items()))
    return path


def test_a_run_resumes_only_under_the_config_it_started_with(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from platelab.cli import app

    out = tmp_path / "run"
    runner = CliRunner()
    started = runner.invoke(app, ["train", "recognizer", "--config",
                                  str(_recipe(tmp_path / "a.yaml", out, steps=4, stop_after=2))])
    assert started.exit_code == 0, started.output
    before = (out / "last.ckpt").read_bytes()
    changed = runner.invoke(app, ["train", "recognizer", "--config",
                                  str(_recipe(tmp_path / "b.yaml", out, steps=4, lr=0.05, seed=9)), "--resume"])
    assert changed.exit_code == 2 and "lr 0.001 -> 0.05; seed 0 -> 9" in changed.output
    assert (out / "last.ckpt").read_bytes() == before
    # where and how fast it runs is not what it learns: those may change
    faster = runner.invoke(app, ["train", "recognizer", "--config",
                                 str(_recipe(tmp_path / "c.yaml", out, steps=4, threads=2)), "--resume"])
    assert faster.exit_code == 0, faster.output
    assert json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 4


def test_a_checkpoint_that_would_run_code_is_refused_in_one_line(tmp_path: Path) -> None:
    import pickle

    from typer.testing import CliRunner

    from platelab.cli import app

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (marker.write_text, ("the checkpoint ran code",))

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(_config(run).model_dump_json())
    (run / "last.ckpt").write_bytes(pickle.dumps({"model": Payload()}, protocol=2))  # as torch.save writes
    result = CliRunner().invoke(app, ["export", str(run), "--out", str(tmp_path / "m.onnx")])
    assert result.exit_code == 2 and "last.ckpt: refused: holds more than weights" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not marker.exists()
    for damaged in (b"weights", b"version https://git-lfs.github.com/spec/v1\n", bytes(range(64))):
        (run / "last.ckpt").write_bytes(damaged)
        result = CliRunner().invoke(app, ["export", str(run), "--out", str(tmp_path / "m.onnx")])
        assert result.exit_code == 2 and "last.ckpt: not a readable checkpoint" in result.output, result.output
    torch.save([torch.zeros(2)], run / "last.ckpt")  # weights alone, but not in a mapping
    result = CliRunner().invoke(app, ["export", str(run), "--out", str(tmp_path / "m.onnx")])
    assert result.exit_code == 2 and "last.ckpt: not a platelab checkpoint (holds a list)" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_loss_that_stops_being_a_number_stops_the_run_and_keeps_the_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from platelab.train.loop import TrainingDiverged

    training.train_recognizer(_config(tmp_path).model_copy(update={"steps": 2}))
    kept = (tmp_path / "last.ckpt").read_bytes()
    real_loss = training.RecognitionLoss.__call__
    monkeypatch.setattr(training.RecognitionLoss, "__call__", lambda *args: real_loss(*args) * float("nan"))
    with pytest.raises(TrainingDiverged, match="the loss became nan at step 3"):
        training.train_recognizer(_config(tmp_path), resume=True)
    assert (tmp_path / "last.ckpt").read_bytes() == kept


def test_a_resumed_run_rewrites_the_log_lines_written_after_its_checkpoint_and_a_torn_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from platelab.train import loop
    from tests.conftest import Killed

    def config(out: Path) -> RecognizerTrainConfig:
        return _config(out).model_copy(update={"val_every": 1, "checkpoint_every": 2})

    training.train_recognizer(config(tmp_path / "a"))
    real_write = loop.MetricsLog.write

    def write_then_die(self: loop.MetricsLog, **values: object) -> None:
        real_write(self, **values)
        if values["step"] == 3:  # after checkpoint 2: this line is written again on resume
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write('{"step": 4, "loss": 1.')  # and a kill cut the next one short
            raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(loop.MetricsLog, "write", write_then_die)
        with pytest.raises(Killed):
            training.train_recognizer(config(tmp_path / "b"))
    training.train_recognizer(config(tmp_path / "b"), resume=True)
    logged = [[{k: v for k, v in json.loads(line).items() if k != "seconds"}
               for line in (run / "metrics.jsonl").read_text().splitlines()]
              for run in (tmp_path / "a", tmp_path / "b")]
    assert [line["step"] for line in logged[1]] == [1, 2, 3, 4] and logged[0] == logged[1]


def test_the_card_is_of_the_exported_checkpoint_not_of_steps_logged_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from platelab.train.checkpoint import load_checkpoint
    from tests.conftest import Killed

    cfg = _config(tmp_path / "run").model_copy(update={"val_every": 1, "checkpoint_every": 2})
    real_save = training.save_training_state

    def killed_before_checkpoint_4(path: Path, *args: object, **kwargs: object) -> None:
        if args[3] == 4:  # the step: lines 3 and 4 are logged, the checkpoint stays at step 2
            raise Killed
        real_save(path, *args, **kwargs)  # type: ignore[arg-type]

    with monkeypatch.context() as patch:
        patch.setattr(training, "save_training_state", killed_before_checkpoint_4)
        with pytest.raises(Killed):
            training.train_recognizer(cfg)
    log = cfg.out_dir / "metrics.jsonl"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2, 3, 4]
    # figures that tell the lines apart (a 4-crop validation reads 0 throughout)
    log.write_text("".join(json.dumps({**line, "val_synthetic": line["step"] / 10, "hardware": f"hw {line['step']}"})
                           + "\n" for line in lines))
    card = json.loads(export_run(cfg.out_dir, tmp_path / "m.onnx").with_suffix(".card.json").read_text())
    elapsed = load_checkpoint(cfg.out_dir / "last.ckpt")["elapsed"]
    assert (card["steps"], card["samples_seen"], card["accuracy"], card["hardware"]) == (
        2, 2 * cfg.batch_size, {"synthetic": 0.2}, "hw 2")
    assert card["wall_time_s"] == round(elapsed, 1)
    assert "accuracy_at_step" not in card  # measured at the checkpoint's own step

    # a stage started from it says the same of it
    stage = _config(tmp_path / "stage2").model_copy(update={"init_from": cfg.out_dir / "last.ckpt", "steps": 1})
    training.train_recognizer(stage)
    chained = json.loads(export_run(stage.out_dir, tmp_path / "s.onnx").with_suffix(".card.json").read_text())
    earlier = chained["initialised_from"]
    assert (earlier["steps"], earlier["accuracy"], earlier["wall_time_s"]) == (2, {"synthetic": 0.2}, round(elapsed, 1))
    assert chained["wall_time_all_stages_s"] == round(chained["wall_time_s"] + earlier["wall_time_s"], 1)

    # validated last at step 1, before the checkpoint at step 2: the card says where its figures were measured
    log.write_text(json.dumps({**lines[0], "val_synthetic": 0.1}) + "\n")
    card = json.loads(export_run(cfg.out_dir, tmp_path / "m.onnx").with_suffix(".card.json").read_text())
    assert (card["steps"], card["accuracy"], card["accuracy_at_step"]) == (2, {"synthetic": 0.1}, 1)

    # no line at or before the checkpoint (validated at step 3 only): the run's lines past it still name the machine
    # it trained on, not the one exporting it
    log.write_text("".join(json.dumps({**line, "hardware": "NVIDIA H100 80GB HBM3"}) + "\n" for line in lines[2:3]))
    card = json.loads(export_run(cfg.out_dir, tmp_path / "m.onnx").with_suffix(".card.json").read_text())
    assert (card["steps"], card["accuracy"], card["hardware"]) == (2, {}, "NVIDIA H100 80GB HBM3")
    assert "accuracy_at_step" not in card


@pytest.mark.parametrize(("cpuinfo", "processor", "machine", "named"), [
    ("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13 64-Core Processor\n", "x86_64",
     "x86_64", "AMD EPYC 7B13 64-Core Processor"),
    # an ARM machine's cpuinfo names no model, and Linux's processor() is the architecture alone
    ("processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n", "aarch64", "aarch64", "aarch64 CPU"),
    ("model name\t:\n", "", "x86_64", "x86_64 CPU"),
    # no cpuinfo (Windows, macOS): processor() names the CPU there
    (None, "Intel64 Family 6 Model 85 Stepping 7, GenuineIntel", "AMD64",
     "Intel64 Family 6 Model 85 Stepping 7, GenuineIntel"),
])
def test_the_hardware_names_the_cpu_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cpuinfo: str | None,
                                          processor: str, machine: str, named: str) -> None:
    import os
    import platform

    from platelab.eval import environment

    if cpuinfo is not None:
        (tmp_path / "cpuinfo").write_text(cpuinfo)
    monkeypatch.setattr(environment, "CPUINFO", tmp_path / "cpuinfo")
    monkeypatch.setattr(platform, "processor", lambda: processor)
    monkeypatch.setattr(platform, "machine", lambda: machine)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert hardware() == f"{named}, 8 cores"
    assert environment.Environment.here().cpu == named  # a benchmark's line names it the same way


@pytest.mark.parametrize(("backbone", "head"), [("plate", "ctc"), ("lite", "ctc"), ("plate", "slots")])
def test_the_8_bit_recognizer_keeps_its_first_convolution_and_classifier_float(
    tmp_path: Path, backbone: str, head: str
) -> None:
    from platelab.models.efficientnet_lite import LiteBackbone
    from platelab.models.recognizer import PlateRecognizer
    from platelab.train.export import export_recognizer
    from platelab.train.quantize import RECOGNIZER_KEPT_FLOAT, quantize

    model = PlateRecognizer(backbone=LiteBackbone() if backbone == "lite" else None, head=head)  # slots: a Gemm
    source = export_recognizer(model, tmp_path / "float.onnx")
    batches = [np.random.default_rng(i).standard_normal((2, 1, 64, 128)).astype(np.float32) for i in range(2)]
    kept = quantize(source, tmp_path / "int8.onnx", batches, RECOGNIZER_KEPT_FLOAT)
    assert len(kept) == 2 and "/head/classify/" in kept[1], kept
    assert ("_conv_stem" if backbone == "lite" else "layers.0.0") in kept[0], kept
    assert _float_weighted_layers(tmp_path / "int8.onnx") == kept


def _float_weighted_layers(path: Path) -> list[str]:
    """The weighted layers of an 8-bit graph whose weights are float tensors of the file, not dequantized ones."""
    import onnx

    from platelab.train.quantize import WEIGHTED_OPS

    graph = onnx.load(str(path)).graph
    floats = {t.name for t in graph.initializer if t.data_type == onnx.TensorProto.FLOAT}
    return [node.name for node in graph.node if node.op_type in WEIGHTED_OPS and node.input[1] in floats]


def test_the_8_bit_detector_keeps_its_first_convolution_and_heads_float(tmp_path: Path) -> None:
    from platelab.models.detector import PlateDetector
    from platelab.train.detector import export_detector
    from platelab.train.quantize import DETECTOR_KEPT_FLOAT, quantize

    source = export_detector(PlateDetector(), tmp_path / "float.onnx")
    batches = [np.random.default_rng(i).standard_normal((1, 1, 192, 320)).astype(np.float32) for i in range(2)]
    kept = quantize(source, tmp_path / "int8.onnx", batches, DETECTOR_KEPT_FLOAT)
    # the first convolution, the shared head layer and the two output layers (scores, corners)
    assert len(kept) == 4, kept
    assert all(any(part in name for name in kept) for part in ("/stem/stem.0/", "/head/", "/heat/", "/corners/")), kept
    assert _float_weighted_layers(tmp_path / "int8.onnx") == kept


def test_a_checkpoint_whose_write_is_cut_short_leaves_the_one_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from platelab.train.checkpoint import CheckpointWriteError, load_checkpoint, save_checkpoint

    path = tmp_path / "last.ckpt"
    save_checkpoint(path, {"step": 1})

    def torn(state: object, target: Path) -> None:  # a kill or a full disk part-way through torch's writer
        Path(target).write_bytes(b"PK\x03\x04half a zip")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 5312 vs 5208")

    monkeypatch.setattr(torch, "save", torn)
    with pytest.raises(CheckpointWriteError, match="the one before it is kept"):
        save_checkpoint(path, {"step": 2})
    assert load_checkpoint(path) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_a_run_ends_with_a_checkpoint_of_its_last_step_between_checkpoint_steps(tmp_path: Path) -> None:
    from platelab.train.checkpoint import load_checkpoint

    training.train_recognizer(_config(tmp_path, steps=3, checkpoint_every=2))
    assert load_checkpoint(tmp_path / "last.ckpt")["step"] == 3


def test_a_longer_run_is_refused_on_resume_with_the_way_to_train_further(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from platelab.cli import app

    out = tmp_path / "run"
    runner = CliRunner()
    started = runner.invoke(app, ["train", "recognizer", "--config", str(_recipe(tmp_path / "a.yaml", out))])
    assert started.exit_code == 0, started.output
    longer = runner.invoke(app, ["train", "recognizer", "--config", str(_recipe(tmp_path / "b.yaml", out, steps=4)),
                                 "--resume"])
    message = " ".join(longer.output.split())
    assert longer.exit_code == 2 and "cannot resume with another config (steps 2 -> 4)" in message
    assert f"start a new folder from it: init_from: {out / 'last.ckpt'})" in message


def test_weights_of_another_model_say_how_they_differ(tmp_path: Path) -> None:
    from platelab.train.checkpoint import CheckpointError, model_weights, save_checkpoint, weights_mismatch

    own = {"a": torch.zeros(2), "b": torch.zeros(3)}
    assert weights_mismatch(own, {"a": torch.ones(2), "b": torch.ones(3)}) is None
    assert weights_mismatch(own, {"x": torch.zeros(2)}) == "none of its tensors is this model's; another kind of model?"
    assert weights_mismatch(own, {"a": torch.zeros(2), "b": torch.zeros(4)}) == (
        "1 tensor(s) of another shape: b is [4] where this model's is [3]")
    assert weights_mismatch(own, {"a": torch.zeros(2)}) == "1 of this model's tensors missing: b ..."
    assert weights_mismatch(own, {**own, "c": torch.zeros(1)}) == "1 tensor(s) this model does not have: c ..."
    save_checkpoint(tmp_path / "last.ckpt", {"model": {}})
    with pytest.raises(CheckpointError, match=r"last\.ckpt: not a platelab checkpoint \(it holds no model weights\)"):
        model_weights(tmp_path / "last.ckpt")


def test_a_resumed_run_keeps_the_command_that_started_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from platelab.train.card import record_command

    monkeypatch.setattr(sys, "argv", ["platelab", "train", "recognizer", "--config", "my recipe.yaml"])
    record_command(tmp_path, resume=False)
    monkeypatch.setattr(sys, "argv", ["platelab", "train", "recognizer", "--config", "c.yaml", "--resume"])
    record_command(tmp_path, resume=True)
    assert (tmp_path / "command.txt").read_text() == "platelab train recognizer --config 'my recipe.yaml'\n"
    record_command(tmp_path, resume=False)  # a new run in the folder is another run
    assert (tmp_path / "command.txt").read_text() == "platelab train recognizer --config c.yaml --resume\n"


def test_the_synthetic_validation_crops_are_none_of_the_training_crops(tmp_path: Path) -> None:
    from platelab.synth.dataset import SyntheticCropBatches

    cfg = _config(tmp_path, val_size=8)
    validation = training.synthetic_eval_set(cfg, Charset())
    trained_on, _ = SyntheticCropBatches(select_styles(None), Charset(), 8, cfg.seed, cfg.synth).render_batch(0)
    assert not any(torch.equal(crop, seen) for crop in validation.images for seen in trained_on)


def test_a_stage_resumes_without_the_checkpoint_it_started_from(tmp_path: Path) -> None:
    training.train_recognizer(_config(tmp_path / "first", steps=1))
    start = tmp_path / "start.ckpt"
    start.write_bytes((tmp_path / "first" / "last.ckpt").read_bytes())
    stage = _config(tmp_path / "stage", init_from=start, stop_after=2)
    training.train_recognizer(stage)
    start.unlink()  # the checkpoint holds the stage's weights now: what it started from is not read again
    training.train_recognizer(stage.model_copy(update={"stop_after": None}), resume=True)
    assert json.loads((stage.out_dir / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 4
