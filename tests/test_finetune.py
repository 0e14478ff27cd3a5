"""Fine-tuning: head replacement, freezing, held-out split, exact resume and the command end to end."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from platelab.io.labels import CropLabel, write_crop_labels  # noqa: E402
from platelab.models.recognizer import PlateRecognizer  # noqa: E402
from platelab.predict.charset import DEFAULT_CHARS, Charset  # noqa: E402
from platelab.predict.recognizer import RecognitionPredictor  # noqa: E402
from platelab.synth.crops import CropGenerator  # noqa: E402
from platelab.synth.style import select_styles  # noqa: E402
from platelab.train import finetune as tuning  # noqa: E402
from platelab.train.config import BUNDLED, RecognizerTrainConfig  # noqa: E402
from platelab.train.recognizer import train_recognizer  # noqa: E402
from platelab.weights import default_model  # noqa: E402
from tests.conftest import assert_resume_is_exact  # noqa: E402

STYLES = ["us-*"]


def _crops(count: int, seed: int = 7) -> tuning.LabelledCrops:
    """Stand-ins for real crops: synthetic ones from another seed than the mixed-in stream."""
    generator = CropGenerator(select_styles(STYLES), seed=seed)
    samples = [generator.sample(i) for i in range(count)]
    return tuning.LabelledCrops(
        tuple(f"{i}.png" for i in range(count)),
        tuple(tuning.work_image(s.image) for s in samples),
        tuple(s.text for s in samples),
    )


def _config(out: Path, **changes: object) -> tuning.TuneConfig:
    values = dict(out_dir=out, epochs=1, steps_per_epoch=1, batch_size=4, workers=0, threads=1, styles=STYLES)
    return tuning.TuneConfig(**{**values, **changes})


def _snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def _same(before: dict[str, torch.Tensor], module: torch.nn.Module) -> bool:
    return all(torch.equal(before[k], v) for k, v in module.state_dict().items())


def test_new_charset_replaces_the_head_and_keeps_the_backbone() -> None:
    model = PlateRecognizer()
    backbone, head = _snapshot(model.backbone), _snapshot(model.head)
    wider = Charset(DEFAULT_CHARS + "Ж")
    tuning.adapt_head(model, wider)

    assert _same(backbone, model.backbone)
    assert model.charset == wider
    assert model.head.classify.out_features == wider.slots * wider.classes
    assert model(torch.zeros(1, 1, 64, 128)).shape == (1, wider.slots, wider.classes)
    # Characters both charsets share keep their trained output rows: 'A' in slot 3, and the empty slot.
    old_classes = len(DEFAULT_CHARS) + 1
    weight = model.head.classify.weight
    assert torch.equal(weight[3 * wider.classes + 10], head["classify.weight"][3 * old_classes + 10])
    assert torch.equal(weight[wider.classes - 1], head["classify.weight"][old_classes - 1])


def test_new_charset_keeps_a_ctc_heads_lines_and_shared_character_rows() -> None:
    model = PlateRecognizer(head="ctc")
    head = _snapshot(model.head)
    fewer = Charset(DEFAULT_CHARS.replace("O", "").replace("I", ""))  # a region that never uses O or I
    tuning.adapt_head(model, fewer)

    assert all(torch.equal(v, head[f"lines.{k}"]) for k, v in model.head.lines.state_dict().items())
    weight, old_weight = model.head.classify.weight, head["classify.weight"]
    assert torch.equal(weight[fewer.chars.index("Z")], old_weight[DEFAULT_CHARS.index("Z")])
    assert torch.equal(weight[fewer.pad_index], old_weight[len(DEFAULT_CHARS)])
    assert model.eval()(torch.zeros(1, 1, 64, 128)).shape == (1, 64, fewer.classes)


def test_freeze_backbone_trains_only_the_head(tmp_path: Path) -> None:
    model = PlateRecognizer()
    backbone, head = _snapshot(model.backbone), _snapshot(model.head)
    tuning.tune_model(model, _crops(4), [], _config(tmp_path, freeze="backbone"))
    assert _same(backbone, model.backbone)  # weights and batch-norm statistics alike
    assert not _same(head, model.head)


def test_freeze_first_k_freezes_exactly_those_layers(tmp_path: Path) -> None:
    model = PlateRecognizer()
    layers = tuning.backbone_layers(model.backbone)
    before = [_snapshot(layer) for layer in layers]
    tuning.tune_model(model, _crops(4), [], _config(tmp_path, freeze="first-2"))
    assert [_same(b, layer) for b, layer in zip(before, layers)] == [True, True] + [False] * (len(layers) - 2)


def test_held_out_split_is_disjoint_and_seeded() -> None:
    names = [f"{i}.png" for i in range(50)]
    train, held = tuning.split_holdout(names, 0.2, seed=3)
    assert len(held) == 10 and not set(train) & set(held) and sorted(train + held) == list(range(50))
    assert tuning.split_holdout(names, 0.2, seed=3) == (train, held)
    assert tuning.split_holdout(names, 0.2, seed=4)[1] != held
    assert tuning.split_holdout(names[:10], 0.0, seed=0) == (list(range(10)), [])


def test_a_plate_labelled_twice_is_never_both_learnt_and_validated_on() -> None:
    names = [f"{i}.png" for i in range(20) for _ in range(2)]
    for seed in range(10):
        train, held = tuning.split_holdout(names, 0.5, seed)
        assert {names[i] for i in train}.isdisjoint({names[i] for i in held}) and len(held) == 20


def test_synthetic_mix_only_writes_what_the_charset_holds() -> None:
    charset = Charset(DEFAULT_CHARS.replace("O", "").replace("I", "").replace("Q", ""))
    batches = tuning.TuneBatches(_crops(0), charset, _config(Path("unused"), batch_size=8), 0, 1)
    _, targets = batches.render_batch(0)  # encoding would fail on an O, I or Q
    assert targets.shape == (8, charset.slots)


def test_resume_after_a_kill_matches_an_unbroken_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    crops = _crops(6)

    def train(cfg: tuning.TuneConfig, resume: bool = False) -> PlateRecognizer:
        torch.manual_seed(0)  # the same initial weights; the checkpoint replaces them on resume
        return tuning.tune_model(PlateRecognizer(), crops, [], cfg, resume=resume)

    def config(out: Path) -> tuning.TuneConfig:
        return _config(out, epochs=2, steps_per_epoch=2)  # a checkpoint at steps 2 and 4

    run = assert_resume_is_exact(train, config, tmp_path, monkeypatch, tuning)
    assert '"step": 4' in (run / "metrics.jsonl").read_text().splitlines()[-1]


def test_an_onnx_source_that_is_no_recognizer_is_refused_by_name(tmp_path: Path) -> None:
    onnx = tmp_path / "recognizer.onnx"
    onnx.write_bytes(b"onnx")
    with pytest.raises(tuning.FinetuneSourceError, match=r"recognizer\.onnx"):
        tuning.load_run_model(onnx)


def test_the_bundled_recognizer_is_a_source() -> None:
    model = tuning.load_run_model(Path(BUNDLED)).eval()
    crops = _crops(8, seed=3)
    images = tuning.LabelledCrops(crops.files, crops.images, crops.texts).eval_set("bundled").images
    expected = RecognitionPredictor(default_model("recognizer-float")).session.run(None, {"image": images.numpy()})[0]
    with torch.no_grad():
        assert np.abs(torch.softmax(model(images), -1).numpy() - expected).max() < 1e-4


def _crop_folder(folder: Path, crops: tuning.LabelledCrops, extra_letter: str) -> None:
    folder.mkdir()
    labels = []
    for i, (file, image, text) in enumerate(zip(crops.files, crops.images, crops.texts)):
        cv2.imwrite(str(folder / file), image)
        labels.append(CropLabel(file, text + (extra_letter if i == 0 else ""), "xx"))
    write_crop_labels(folder / "labels.tsv", labels)


def test_finetune_command_adds_a_letter_and_exports(tmp_path: Path) -> None:
    source = RecognizerTrainConfig(out_dir=tmp_path / "source", steps=2, batch_size=4, workers=0, val_size=4,
                                   warmup_steps=1, threads=1, styles=STYLES)
    train_recognizer(source)
    _crop_folder(tmp_path / "crops", _crops(5), "Ж")
    cfg = tuning.FinetuneConfig(out_dir=tmp_path / "tuned", from_run=source.out_dir, data=tmp_path / "crops",
                                charset=DEFAULT_CHARS + "Ж", epochs=1, batch_size=4, workers=0, threads=1,
                                styles=STYLES, export=tmp_path / "tuned.onnx")
    model = tuning.finetune(cfg)

    assert model.charset.chars.endswith("Ж")
    log = json.loads((tmp_path / "tuned" / "metrics.jsonl").read_text().splitlines()[-1])
    assert "val_crops-holdout" in log
    card = json.loads((tmp_path / "tuned.card.json").read_text())
    assert card["onnx_vs_torch_max_abs_diff"] < 1e-4 and card["freeze"] == "none"
    reloaded = tuning.load_run_model(tmp_path / "tuned")  # a fine-tuned run can be fine-tuned again
    assert reloaded.charset == model.charset


def test_a_fine_tuning_run_exports_in_8_bits_with_a_class_scale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from platelab.cli import app

    source = RecognizerTrainConfig(out_dir=tmp_path / "source", steps=2, batch_size=4, workers=0, val_size=4,
                                   warmup_steps=1, threads=1, styles=STYLES)
    train_recognizer(source)
    crops = _crops(8)
    no_q = [i for i, text in enumerate(crops.texts) if "Q" not in text]
    _crop_folder(tmp_path / "crops", crops.subset(no_q), "")
    # a charset narrower than the styles' plates: calibration and validation draw plates it can write
    tuning.finetune(tuning.FinetuneConfig(out_dir=tmp_path / "tuned", from_run=source.out_dir, data=tmp_path / "crops",
                                          charset=DEFAULT_CHARS.replace("Q", ""), epochs=1, batch_size=4, workers=0,
                                          threads=1, styles=STYLES))
    monkeypatch.setattr(tuning, "INT8_CALIBRATION_CROPS", 8)
    monkeypatch.setattr(tuning, "INT8_VALIDATION_CROPS", 8)
    out = tmp_path / "tuned-int8.onnx"
    result = CliRunner().invoke(app, ["export", str(tmp_path / "tuned"), "--out", str(out), "--int8",
                                      "--class-scale", "M=4"])

    assert result.exit_code == 0, result.output
    card = json.loads(out.with_suffix(".card.json").read_text())
    assert card["int8"]["size_bytes_float"] > card["size_bytes"] and card["class_scale"] == {"M": 4.0}
    assert card["finetuned_from"] == str(source.out_dir) and "--int8" in card["export_command"]
    predictor = RecognitionPredictor(out)
    assert predictor.class_scale is not None and predictor.class_scale[predictor.charset.chars.index("M")] == 4


def test_a_model_tuned_from_the_bundled_one_keeps_its_class_scale_unless_told_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functools import partial

    from typer.testing import CliRunner

    from platelab.cli import app

    monkeypatch.setattr(tuning, "recognizer_from_onnx", partial(tuning.recognizer_from_onnx, stats_crops=16))
    crops = _crops(12)
    _crop_folder(tmp_path / "crops", crops.subset([i for i, text in enumerate(crops.texts) if "W" not in text]), "")
    no_w = DEFAULT_CHARS.replace("W", "")  # a region whose plates have no W: only M's factor can carry over
    tuning.finetune(tuning.FinetuneConfig(out_dir=tmp_path / "tuned", from_run=Path(BUNDLED),
                                          data=tmp_path / "crops", charset=no_w, epochs=1, batch_size=4, workers=0,
                                          threads=1, styles=STYLES, export=tmp_path / "kept.onnx"))
    kept = RecognitionPredictor(tmp_path / "kept.onnx")
    assert kept.class_scale is not None
    assert kept.class_scale[kept.charset.chars.index("M")] == 4
    assert sorted(np.flatnonzero(kept.class_scale != 1)) == [kept.charset.chars.index("M")]

    runner = CliRunner()
    replaced = tmp_path / "replaced.onnx"
    result = runner.invoke(app, ["export", str(tmp_path / "tuned"), "--out", str(replaced), "--class-scale", "M=1"])
    assert result.exit_code == 0, result.output
    assert json.loads(replaced.with_suffix(".card.json").read_text())["class_scale"] == {"M": 1.0}
    again = tmp_path / "again.onnx"
    assert runner.invoke(app, ["export", str(tmp_path / "tuned"), "--out", str(again)]).exit_code == 0
    assert json.loads(again.with_suffix(".card.json").read_text())["class_scale"] == {"M": 4.0}


def test_every_crop_that_cannot_be_used_is_named_at_once(tmp_path: Path) -> None:
    crop = CropGenerator(select_styles(["us-*"]), seed=3).sample(0)
    cv2.imwrite(str(tmp_path / "good.png"), crop.image)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    cv2.imwrite(str(tmp_path / "odd.png"), crop.image)
    cv2.imwrite(str(tmp_path / "long.png"), crop.image)
    write_crop_labels(tmp_path / "labels.tsv", [CropLabel("good.png", crop.text, "CA"),
                                               CropLabel("broken.png", "ABÇ123", "CA"),
                                               CropLabel("odd.png", "ABÇ123", "CA"),
                                               CropLabel("long.png", "AB 123 CD 4567", "CA")])
    with pytest.raises(ValueError, match="4 problem") as error:
        tuning.load_labelled_crops(tmp_path, Charset())
    assert str(error.value).count("broken.png") == 2 and "odd.png" in str(error.value)
    assert "long.png: plate 'AB 123 CD 4567' has 11 characters; the model reads at most 10" in str(error.value)
    assert "good.png" not in str(error.value)


def test_a_crop_labelled_twice_is_learnt_twice(tmp_path: Path) -> None:
    crop = CropGenerator(select_styles(["us-*"]), seed=3).sample(0)
    cv2.imwrite(str(tmp_path / "a.png"), crop.image)
    write_crop_labels(tmp_path / "labels.tsv", [CropLabel("a.png", crop.text, "CA")] * 2)
    assert tuning.load_labelled_crops(tmp_path, Charset()).files == ("a.png", "a.png")


def test_labelled_photos_give_each_plate_cut_as_the_reader_cuts_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from platelab.io.labels import read_labels, write_photo_labels
    from platelab.predict.detector import DetectionPredictor
    from platelab.predict.reader import quad_box, rectify
    from platelab.synth.demo import write_demo
    from platelab.train.photo_crops import label_quad
    from platelab.utils.boxes import box_iou

    photo = write_demo(tmp_path / "photos")
    labels = read_labels(tmp_path / "photos", "photos")
    # a user's labels: boxes only, one of them loose, as hand-drawn boxes are
    x, y, w, h = labels[0].box
    loose = replace(labels[0], box=(x - w // 10, y - h // 5, w + w // 5, h + 2 * (h // 5)), quad=None)
    write_photo_labels(tmp_path / "photos" / "labels.tsv", [loose, replace(labels[1], quad=None)])
    (tmp_path / "photos" / "preview.png").unlink()

    crops = tuning.load_labelled_crops(tmp_path / "photos", Charset())

    assert "2 of 2 plates cut at the detector's corners" in capsys.readouterr().out
    assert crops.files == (f"{photo.name} plate 1", f"{photo.name} plate 2")
    assert crops.texts == tuple(label.plate for label in labels)
    assert [r.text for r in RecognitionPredictor().read(list(crops.images))] == list(crops.texts)
    # cut at the detector's corners, not at the loose box drawn by hand
    image = cv2.imread(str(photo))
    detected = max(DetectionPredictor().detect(image, 0.05), key=lambda d: box_iou(quad_box(d.quad, image.shape),
                                                                                   labels[0].box))
    assert np.array_equal(crops.images[0], tuning.work_image(rectify(image, detected.quad)))
    assert not np.array_equal(crops.images[0], tuning.work_image(rectify(image, label_quad(loose))))


def test_a_photo_that_cannot_be_read_is_named_with_the_rest(tmp_path: Path) -> None:
    from platelab.io.labels import PhotoLabel, write_photo_labels
    from platelab.synth.demo import write_demo

    photo = write_demo(tmp_path)
    (tmp_path / "truncated.jpg").write_bytes(photo.read_bytes()[:300])
    write_photo_labels(tmp_path / "labels.tsv", [PhotoLabel(photo.name, "ABÇ123", (10, 10, 90, 45)),
                                                 PhotoLabel(photo.name, "ABC123", (5000, 5000, 10, 10)),
                                                 PhotoLabel("truncated.jpg", "ABC123", (10, 10, 90, 45)),
                                                 PhotoLabel("truncated.jpg", "XYZ789", (200, 10, 90, 45))])
    with pytest.raises(ValueError, match="4 problem") as error:
        tuning.load_labelled_crops(tmp_path, Charset())
    message = str(error.value)
    assert "truncated.jpg plate 1: " in message and "truncated.jpg plate 2: " in message
    assert f"{photo.name} plate 1: plate" in message
    assert f"{photo.name} plate 2: box 5000,5000,10,10 lies outside the 1280x720 photo" in message


def test_holdout_and_synthetic_share_reach_the_run(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from platelab.cli import app

    source = RecognizerTrainConfig(out_dir=tmp_path / "source", steps=2, batch_size=4, workers=0, val_size=4,
                                   warmup_steps=1, threads=1, styles=STYLES)
    train_recognizer(source)
    _crop_folder(tmp_path / "crops", _crops(5), "")
    runs = {}
    for holdout in ("0", "0.2"):
        out = tmp_path / f"tuned-{holdout}"
        result = CliRunner().invoke(app, ["finetune", "--from", str(source.out_dir), "--data", str(tmp_path / "crops"),
                                          "--epochs", "1", "--out", str(out), "--holdout", holdout])
        assert result.exit_code == 0, result.output
        runs[holdout] = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert "val_crops-holdout" not in runs["0"] and "val_crops-holdout" in runs["0.2"]
    assert json.loads((tmp_path / "tuned-0" / "config.json").read_text())["val_fraction"] == 0
    assert json.loads((tmp_path / "tuned-0" / "config.json").read_text())["synth_share"] == 0.5
    result = CliRunner().invoke(app, ["finetune", "--from", str(source.out_dir), "--data", str(tmp_path / "crops"),
                                      "--epochs", "1", "--out", str(tmp_path / "tuned-s"), "--synth-share", "0.75"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "tuned-s" / "config.json").read_text())["synth_share"] == 0.75


def test_a_finished_run_asked_for_more_epochs_says_how_to_go_further(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from platelab.cli import app

    _crop_folder(tmp_path / "crops", _crops(5), "")
    out = tmp_path / "tuned"
    args = ["finetune", "--from", "bundled", "--data", str(tmp_path / "crops"), "--out", str(out), "--holdout", "0"]
    assert CliRunner().invoke(app, [*args, "--epochs", "1"]).exit_code == 0
    result = CliRunner().invoke(app, [*args, "--epochs", "2", "--resume"])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "cannot resume with another config (epochs 1 -> 2)" in message
    assert f"start a new folder from it: finetune --from {out})" in message


def test_freeze_first_k_takes_every_layer_and_no_more() -> None:
    model = PlateRecognizer()
    layers = tuning.backbone_layers(model.backbone)
    assert tuning.freeze(model, f"first-{len(layers)}") == layers
    assert not any(p.requires_grad for p in model.backbone.parameters())
    with pytest.raises(ValueError, match=f"freeze first-{len(layers) + 1}: the backbone has only {len(layers)} layers"):
        tuning.freeze(PlateRecognizer(), f"first-{len(layers) + 1}")


@pytest.mark.parametrize("freeze", ["first-", "first-x", "head", "first-2 "])
def test_a_freeze_mode_that_is_none_of_the_three_is_refused_by_the_config(freeze: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="freeze"):
        _config(Path("unused"), freeze=freeze)


def test_a_holdout_keeps_at_least_one_plate_to_train_on() -> None:
    train, held = tuning.split_holdout(["a.png", "b.png", "c.png"], 0.99, seed=0)
    assert (len(train), len(held)) == (1, 2)


def test_an_epoch_is_enough_steps_to_draw_each_real_crop_once() -> None:
    # 4 a batch, half of them real: 5 crops take 3 steps
    assert tuning.steps_per_epoch(_config(Path("unused"), steps_per_epoch=0), 5) == 3
    assert tuning.steps_per_epoch(_config(Path("unused"), steps_per_epoch=0), 4) == 2


def test_a_batch_of_more_real_crops_than_there_are_draws_some_twice_augmented_or_as_they_are() -> None:
    from platelab.predict.preprocess import preprocess_crops

    crop = _crops(1)
    plain = tuning.TuneBatches(crop, Charset(), _config(Path("unused"), synth_share=0, augment=False), 0, 1)
    images, targets = plain.render_batch(0)
    assert torch.equal(images, torch.from_numpy(preprocess_crops([crop.images[0]] * 4)))
    assert (targets == torch.from_numpy(Charset().encode(crop.texts[0]))).all()
    augmented, _ = tuning.TuneBatches(crop, Charset(), _config(Path("unused"), synth_share=0), 0, 1).render_batch(0)
    assert all(not torch.equal(image, images[0]) for image in augmented)


def test_a_label_loses_its_separators_and_may_fill_every_slot() -> None:
    assert tuning.plate_text("ab-12 3.4", Charset()) == "AB1234"
    assert tuning.plate_text("ABC1234567", Charset()) == "ABC1234567"


def test_the_warm_up_of_a_short_fine_tuning_is_a_quarter_of_it(tmp_path: Path) -> None:
    from platelab.train.loop import schedule

    cfg = _config(tmp_path, steps_per_epoch=4, warmup_steps=20, lr=1e-3)
    tuning.tune_model(PlateRecognizer(), _crops(4), [], cfg)
    logged = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert logged["lr"] == pytest.approx(cfg.lr * schedule(4, 1)(4))  # warm-up 1 step: decayed to 2% by step 4


def test_a_ctc_run_is_fine_tuned_with_its_ctc_head(tmp_path: Path) -> None:
    source = RecognizerTrainConfig(out_dir=tmp_path / "source", head="ctc", steps=1, batch_size=4, workers=0,
                                   val_size=4, warmup_steps=1, threads=1, styles=STYLES)
    trained = train_recognizer(source)
    model = tuning.load_run_model(source.out_dir)
    assert model.head_kind == "ctc" and _same(trained.state_dict(), model)


def test_a_fine_tuning_on_real_crops_alone_exports_in_8_bits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tuning, "INT8_CALIBRATION_CROPS", 8)
    monkeypatch.setattr(tuning, "INT8_VALIDATION_CROPS", 8)
    cfg = _config(tmp_path, synth_share=0)  # calibrated and measured on synthetic plates all the same
    sample = _crops(2).eval_set("sample").images.numpy()
    out = tuning.export_tuned(PlateRecognizer(), tmp_path, cfg, tmp_path / "m.onnx", sample, int8=True)
    card = json.loads(out.with_suffix(".card.json").read_text())
    assert card["int8"]["calibration"] == "8 synthetic crops (seed 2)" and card["config"]["synth_share"] == 0
    assert set(card["accuracy_int8"]) == {"synthetic"}


def test_an_8_bit_export_whose_charset_synthetic_plates_do_not_fit_says_to_export_in_float(tmp_path: Path) -> None:
    # trained with synth_share 0 as the training's error advised; the export draws synthetic plates all the same
    model = PlateRecognizer(charset=Charset("Ж"))
    sample = _crops(2).eval_set("sample").images.numpy()
    with pytest.raises(ValueError, match=r"--int8 calibrates on synthetic plates .* export it in float") as error:
        tuning.export_tuned(model, tmp_path, _config(tmp_path, synth_share=0), tmp_path / "m.onnx", sample, int8=True)
    assert "synth_share" not in str(error.value) and not (tmp_path / "m.onnx").exists()


def test_a_fine_tuning_to_a_new_charset_is_reproducible_from_its_seed(tmp_path: Path) -> None:
    source = RecognizerTrainConfig(out_dir=tmp_path / "source", steps=1, batch_size=4, workers=0, val_size=4,
                                   warmup_steps=1, threads=1, styles=STYLES)
    train_recognizer(source)
    _crop_folder(tmp_path / "crops", _crops(2), "")
    models = [tuning.finetune(tuning.FinetuneConfig(out_dir=tmp_path / f"tuned-{i}", from_run=source.out_dir,
                                                    data=tmp_path / "crops", charset=DEFAULT_CHARS + "Ж", epochs=1,
                                                    batch_size=4, workers=0, threads=1, styles=STYLES, val_fraction=0))
              for i in range(2)]
    # the new output layer starts from the seed too, so the two runs end alike
    assert _same(models[0].state_dict(), models[1])
