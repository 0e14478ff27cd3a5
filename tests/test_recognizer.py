"""The shipped recognizer reads unseen synthetic plates and real crops, and bad files fail one by one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from platelab.api import Recognizer
from platelab.cli import app
from platelab.eval.synthetic import UNSEEN_SEED, score_styles
from platelab.synth.crops import CropGenerator
from platelab.synth.style import builtin_styles
from platelab.weights import default_model
from tests.conftest import REAL_DATA, SHOULD_DECODE, SHOULD_FAIL

REAL_CROPS = REAL_DATA / "crops-us"
# Fresh seed: the shipped model trained on seed 0 and validated on seed 1, so these plates are new to it.


@pytest.mark.parametrize("name", ["recognizer", "recognizer-float"])
def test_shipped_model_is_small_and_has_a_card(name: str) -> None:
    model = default_model(name)
    card = json.loads(model.with_suffix(".card.json").read_text())
    assert model.stat().st_size <= 10 * 2**20
    assert card["training_command"].startswith("platelab train ")
    assert "synthetic" in card["accuracy"]
    # every stage that made it, back to the first recipe, with its command
    stages = []
    while card:
        stages.append(card["training_command"])
        card = card.get("initialised_from")
    assert stages[-1].startswith("platelab train recognizer --config references/recognizer/")
    assert all(command.startswith("platelab train ") for command in stages)


def test_the_8_bit_recognizer_reads_as_the_float_one() -> None:
    # Same network, 8-bit weights and activations: on 300 unseen plates of every style they agreed on 98.3%, and
    # they read 90.9% and 90.9% of 2040 such plates (`python benchmarks/synthetic.py --model ...`).
    crops = CropGenerator(list(builtin_styles().values()), seed=UNSEEN_SEED).sample
    images = [crops(i).image for i in range(100)]
    floats, eights = (Recognizer(default_model(name)).read(images) for name in ("recognizer-float", "recognizer"))
    assert np.mean([a.text == b.text for a, b in zip(floats, eights)]) >= 0.95
    assert default_model("recognizer").stat().st_size < default_model("recognizer-float").stat().st_size / 3
    # its probabilities come from a float softmax (quantize.float_outputs): rounded to 8 bits, a frame's unlikely
    # characters would be exactly 0, and they are what a format prior or class scale weighs
    probabilities = Recognizer(default_model("recognizer")).predictor.probabilities(images[:4])
    assert np.all(probabilities > 0) and len(np.unique(probabilities)) > 256


def _unseen_synthetic_accuracy(per_style: int = 10, two_rows_only: bool = False, tta: bool = False) -> float:
    styles = [s for s in builtin_styles().values() if len(s.rows) > 1 or not two_rows_only]
    scores = score_styles(Recognizer(tta=tta).predictor, styles, per_style, UNSEEN_SEED)
    return sum(s.hits for s in scores) / sum(s.total for s in scores)


def test_reads_unseen_synthetic_plates_of_every_style_above_the_shipped_floor() -> None:
    # The shipped recognizer (8 bits) measured 0.910 on this sample (90.9% on 2040 such plates, `python
    # benchmarks/synthetic.py`); the one shipped before it read 0.892 (0.906 before the engine drew Wyoming's and
    # New Mexico's emblems as printed and New Mexico's centennial plate): a regression guard, not the target.
    assert _unseen_synthetic_accuracy() >= 0.89


def test_reads_two_row_plates_top_row_first() -> None:
    # 3 two-row styles (motorcycle plates); the shipped recognizer measured 99 of 120 on this sample (97 before
    # its outputs were float; the one shipped before it 89).
    assert _unseen_synthetic_accuracy(per_style=40, two_rows_only=True) >= 0.75


def test_test_time_jitter_reads_more_unseen_plates() -> None:
    # Measured on this sample: 471 of 510 with tta, 464 without; two-row styles 108 and 99 of 120 (on 2040 plates
    # 92.3% and 90.9%, `python benchmarks/synthetic.py [--tta]`).
    with_tta = _unseen_synthetic_accuracy(tta=True)
    assert with_tta >= 0.91 and with_tta > _unseen_synthetic_accuracy()
    assert _unseen_synthetic_accuracy(per_style=40, two_rows_only=True, tta=True) >= 0.85


@pytest.mark.xfail(strict=True, reason="issue 3 target not reached: the shipped model reads 0.904 (0.929 with tta)")
@pytest.mark.parametrize("tta", [False, True])
def test_reads_unseen_synthetic_plates_of_every_style_at_the_target(tta: bool) -> None:
    assert _unseen_synthetic_accuracy(tta=tta) >= 0.95


@pytest.mark.skipif(not REAL_CROPS.is_dir(), reason="../shared/data/real is not here")
@pytest.mark.parametrize("prior", ["us", "auto"])
def test_real_us_crops_accuracy_floor(prior: str) -> None:
    from platelab.io.labels import normalize_plate, read_labels

    labels = read_labels(REAL_CROPS)
    readings = Recognizer(prior=prior).read([REAL_CROPS / label.file for label in labels])
    accuracy = np.mean([r.text == normalize_plate(label.plate) for r, label in zip(readings, labels)])
    # The shipped recognizer measured 0.916 with the US prior, 0.905 with the automatic one (0.892 without; its
    # float version 0.905 and 0.876); the target is 0.90.
    assert accuracy >= 0.88, accuracy


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["read", "--crops", "--prior", "mars", "{crop}"], "no format prior 'mars' in this model; it has: auto"),
        (["read", "--crops", "--model", "{tmp}/absent.onnx", "{crop}"], "absent.onnx: model file not found"),
        (["read", "--crops", "--model", "{tmp}/notes.onnx", "{crop}"], "notes.onnx: not a usable ONNX model"),
        (["read", "{tmp}/absent.jpg"], "no such file, folder or matching images"),
        (["eval", "{tmp}"], "no labels file"),
        (["read", "--crops", "--draw", "{tmp}/out", "{crop}"], "cropped plates (--crops) have none to outline"),
    ],
)
def test_what_a_user_can_fix_gets_one_line_and_status_2(tmp_path: Path, args: list[str], message: str) -> None:
    cv2.imwrite(str(tmp_path / "crop.png"), np.full((64, 128, 3), 128, np.uint8))
    (tmp_path / "notes.onnx").write_text("not a model")
    given = [arg.format(crop=tmp_path / "crop.png", tmp=tmp_path) for arg in args]
    result = CliRunner().invoke(app, given)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_bad_files_get_one_line_errors_and_the_batch_goes_on(bad_images: dict[str, Path]) -> None:
    folder = next(iter(bad_images.values())).parent
    result = CliRunner().invoke(app, ["read", "--crops", "--json", str(folder)])
    by_file = {entry["file"]: entry for entry in map(json.loads, result.stdout.splitlines())}
    assert result.exit_code != 0
    for key, path in bad_images.items():
        entry = by_file[path.name]
        if key in SHOULD_FAIL:
            assert SHOULD_FAIL[key] in entry["error"] and path.name in entry["error"]
        else:
            assert key in SHOULD_DECODE and len(entry["plates"]) == 1


def test_eval_reports_scores_and_writes_a_failure_montage(tmp_path: Path) -> None:
    from platelab.synth.style import select_styles
    from platelab.synth.writer import write_crops

    folder = tmp_path / "set"
    write_crops(folder, 12, select_styles(["us-*"]), seed=UNSEEN_SEED, progress=False)
    montage_path = tmp_path / "failures.png"
    result = CliRunner().invoke(app, ["eval", str(folder), "--prior", "us", "--failures", str(montage_path)])
    assert result.exit_code == 0, result.output
    exact = float(re.search(r"\| 12 \| ([0-9.]+)% \|", result.stdout).group(1))
    assert exact >= 75.0
    assert "### By length" in result.stdout and "### By region" in result.stdout
    assert "### By confidence" in result.stdout
    assert "recognizer: recognizer.onnx" in result.stdout.splitlines()[0]  # which model was scored
    assert "measured on: " in result.stdout and "OpenCV SIMD" in result.stdout  # and on what
    assert montage_path.stat().st_size > 0


def test_a_long_read_counts_its_images_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from platelab.api import read_paths
    from platelab.synth.writer import write_crops

    write_crops(tmp_path, 3, list(builtin_styles().values()), seed=UNSEEN_SEED, progress=False)
    results = list(read_paths([tmp_path], crops=True, progress=True))
    names = [f"crop_{i:06d}.png" for i in range(3)]
    assert [r.file for r in results] == names and all(r.plates for r in results)
    assert "3/3" in capsys.readouterr().err
    list(read_paths([tmp_path], crops=True))
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("kind", ["crops", "scenes"])
def test_eval_scores_an_undecodable_file_as_a_miss_and_says_so(tmp_path: Path, kind: str) -> None:
    from platelab.synth.style import select_styles
    from platelab.synth.writer import write_crops, write_scenes

    folder = tmp_path / "set"
    write = write_crops if kind == "crops" else write_scenes
    write(folder, 4, select_styles(["us-*"]), seed=UNSEEN_SEED, progress=False)
    broken = sorted(p for p in folder.iterdir() if p.suffix in (".png", ".jpg"))[1]
    broken.write_bytes(b"not an image")
    montage_path = tmp_path / "failures.png"
    result = CliRunner().invoke(app, ["eval", str(folder), "--failures", str(montage_path)])
    assert result.exit_code == 1
    assert f"- {broken.name}: not an image" in result.stdout
    assert "measured on: " in result.stdout
    assert "| 4 |" in result.stdout  # every labelled file is scored, the broken one as read as nothing
    assert montage_path.stat().st_size > 0
