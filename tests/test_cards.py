"""The bundled model cards report what the bundled files read (benchmarks/cards.py --write measured them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from platelab.eval import hits as per_item
from platelab.eval.hits import crop_hits, synthetic_hits
from platelab.eval.measured import CROP_SETS, NO_PRIOR, PHOTO_SETS
from platelab.io.labels import read_labels
from platelab.weights import default_model
from tests.conftest import REAL_DATA
from tests.test_eval_audit import _plate, _StubReader, _StubRecognizer

RECOGNIZERS = ["recognizer", "recognizer-float"]
REMEASURE = "re-measure with `python benchmarks/cards.py --write` after changing a bundled model"


def _measured(name: str) -> dict[str, Any]:
    return json.loads(default_model(name).with_suffix(".card.json").read_text())["measured"]


@pytest.mark.parametrize("name", [*RECOGNIZERS, "detector"])
def test_each_card_says_where_when_and_how_it_was_measured(name: str) -> None:
    measured = _measured(name)
    assert measured["command"].startswith("python benchmarks/cards.py")
    assert "cores" in measured["environment"] and "onnxruntime" in measured["environment"]
    expected = {"synthetic", *CROP_SETS} if name in RECOGNIZERS else set(PHOTO_SETS)
    assert set(measured["sets"]) == expected
    for figures in measured["sets"].values():
        for prior, result in figures.items():
            if isinstance(result, dict):
                assert 0 <= result["read"] <= figures["items"], prior
                assert result["share"] == pytest.approx(result["read"] / figures["items"], abs=1e-4)


@pytest.mark.parametrize("name", RECOGNIZERS)
def test_the_synthetic_figure_is_what_the_file_reads(name: str) -> None:
    card = _measured(name)["sets"]["synthetic"]
    hits = synthetic_hits(default_model(name))
    assert len(hits) == card["items"]
    # OpenCV's code paths round the renderer's warps a little differently from one CPU to another, which moves a
    # few plates; another model moves dozens.
    assert abs(sum(hits) - card[NO_PRIOR]["read"]) <= 6, REMEASURE


@pytest.mark.skipif(not (REAL_DATA / "crops-us").is_dir(), reason="../shared/data/real is not here")
@pytest.mark.parametrize("name", RECOGNIZERS)
@pytest.mark.parametrize("prior", [None, "us", "auto"])
def test_the_real_crops_figures_are_what_the_file_reads(name: str, prior: str | None) -> None:
    labels = read_labels(REAL_DATA / "crops-us", "crops")
    card = _measured(name)["sets"]["crops-us"]
    hits = crop_hits(REAL_DATA / "crops-us", labels, default_model(name), prior)
    assert (len(hits), sum(hits)) == (card["items"], card[prior or NO_PRIOR]["read"]), REMEASURE


def test_platelab_models_prints_each_bundled_model_with_what_it_reads() -> None:
    from typer.testing import CliRunner

    from platelab.cli import app

    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    for name in [*RECOGNIZERS, "detector"]:
        assert f"{name}.onnx" in result.output
    synthetic = _measured("recognizer")["sets"]["synthetic"][NO_PRIOR]["share"]
    assert f"synthetic, 2040 plates, read with each prior: none {synthetic:.1%}" in result.output
    lines = CliRunner().invoke(app, ["models", "--json"]).output.splitlines()
    assert [json.loads(line)["card"]["measured"]["command"] for line in lines] == [
        "python benchmarks/cards.py --write"] * 3


def test_platelab_models_describes_named_files_and_the_priors_a_recognizer_takes(tmp_path: Path) -> None:
    import shutil

    from typer.testing import CliRunner

    from platelab.cli import app

    mine = tmp_path / "mine.onnx"  # a model without its card, as a user may copy one
    shutil.copyfile(default_model("recognizer"), mine)
    not_a_model = tmp_path / "notes.onnx"
    not_a_model.write_text("not a model", encoding="utf-8")
    onnx = pytest.importorskip("onnx")
    another = tmp_path / "identity.onnx"  # a network platelab did not export: it was listed as a model of no task
    value = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "g", [value],
                                   [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    onnx.save(onnx.helper.make_model(graph), str(another))
    result = CliRunner().invoke(app, ["models", str(not_a_model), str(another), str(mine),
                                      str(default_model("detector"))])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{not_a_model}: not a usable ONNX model")
    assert lines[1] == f"{another}: not a platelab model: it is not exported by platelab (no platelab_task metadata)"
    assert lines[2].startswith("mine.onnx  1.1 MB  recognizer")
    assert "no model card beside it (mine.card.json)" in result.output
    priors = [line for line in lines if line.startswith("  --prior: ")]
    assert len(priors) == 1 and priors[0].startswith("  --prior: auto, br, ") and priors[0].endswith(", uk, us")
    record = json.loads(CliRunner().invoke(app, ["models", "--json", str(mine)]).output)
    assert record["priors"][0] == "auto" and "us" in record["priors"] and record["card"] == {}


def test_a_share_is_rounded_once_from_its_counts() -> None:
    from platelab.eval.measured import summary_lines, table_rows

    # 98 of 120 plates is 81.67%, 98 of 118 83.05%: a share stored rounded to 0.8305 would print 83.0% (its binary
    # value lies just under); plates found are a share of the plates, false plates a count per photo
    sets = {"endtoend-us": {"items": 118, "photos": 100, "us": {"read": 98, "share": 0.8305, "found": 113,
                                                               "false_plates": 7}}}
    assert list(table_rows("detector.onnx", sets)) == [
        "| detector.onnx | endtoend-us | us | 98 of 118 (83.1%) | 113 | 0.07 |"]
    assert summary_lines({"sets": sets, "date": "2026-12-07", "environment": "here"})[0] == (
        "endtoend-us, 118 plates in 100 photos, read with each prior: "
        "us 83.1% (95.8% found, 0.07 false plates a photo)")


def test_each_item_of_a_set_is_read_right_or_not_with_the_options_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What benchmarks/compare.py pairs item by item (McNemar): a crop or a labelled plate read exactly, written as
    the label is, with the prior and test-time augmentation asked for."""
    monkeypatch.setattr(per_item, "Recognizer", _StubRecognizer)
    monkeypatch.setattr(per_item, "Reader", _StubReader)
    crops = tmp_path / "crops"
    crops.mkdir()
    for name, height in (("a.png", 40), ("b.png", 41)):
        cv2.imwrite(str(crops / name), np.full((height, 90, 3), 120, np.uint8))
    (crops / "labels.tsv").write_text("file\tstate\tplate\na.png\tca\tabc-123\nb.png\tca\tXY12\n")
    _StubRecognizer.texts = {40: "ABC123", 41: "XY13"}
    assert per_item.hits(crops, None, None, "us", tta=True) == [True, False]
    assert _StubRecognizer.made_with[1] == {"prior": "us", "tta": True}

    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "car.png"), np.full((120, 200, 3), 90, np.uint8))
    (photos / "labels.tsv").write_text("file\tx\ty\tw\th\tplate\ncar.png\t10\t10\t60\t20\tABC123\n"
                                       "car.png\t100\t60\t60\t20\tXYZ789\ncar.png\t10\t90\t60\t20\tMISS1\n")
    # the first plate read, the second found and misread, the third missed: found is not read
    _StubReader.plates = {120: [_plate("ABC123", (10, 10, 60, 20)), _plate("XYZ788", (100, 60, 60, 20))]}
    assert per_item.hits(photos, None, None, "us", tta=True) == [True, False, False]
    assert _StubReader.made_with[1] == {"detector": None, "recognizer": None, "prior": "us", "tta": True}

    monkeypatch.setattr(per_item, "synthetic_set", lambda: ([np.zeros((40, 90, 3), np.uint8)], ["ABC123"]))
    _StubRecognizer.texts = {40: "ABC123"}
    assert per_item.hits(tmp_path / per_item.SYNTHETIC, None, None, None, tta=True) == [True]
    assert _StubRecognizer.made_with[1] == {"tta": True}


def test_a_card_counts_what_each_prior_reads_over_every_item_of_a_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """benchmarks/cards.py's figures: a share is of all the set's items, found or not; false plates are counted."""
    from platelab.eval import measured

    monkeypatch.setattr(per_item, "Recognizer", _StubRecognizer)
    monkeypatch.setattr(per_item, "Reader", _StubReader)
    monkeypatch.setattr(per_item, "synthetic_set", lambda: ([np.zeros((40, 90, 3), np.uint8)] * 3, ["A1", "B2", "C3"]))
    _StubRecognizer.texts = {40: "A1", 41: "XY13", 42: "QQ7"}
    crops = tmp_path / "crops-us"
    crops.mkdir()
    for name, height in (("a.png", 40), ("b.png", 41), ("c.png", 42)):
        cv2.imwrite(str(crops / name), np.full((height, 90, 3), 120, np.uint8))
    (crops / "labels.tsv").write_text("file\tstate\tplate\na.png\tca\tA-1\nb.png\tca\tXY13\nc.png\tca\tQQ8\n")
    figures = measured.recognizer_figures(Path("r.onnx"), tmp_path)
    assert figures["synthetic"] == {"items": 3, NO_PRIOR: {"read": 1, "share": 0.3333}}
    assert figures["crops-us"] == {"items": 3, **{p: {"read": 2, "share": 0.6667} for p in (NO_PRIOR, "us", "auto")}}
    assert _StubRecognizer.made_with == ((Path("r.onnx"),), {"prior": "auto", "tta": False})
    assert [row.split(" | ")[2:4] for row in measured.table_rows("r.onnx", {"crops-us": figures["crops-us"]})] == [
        [prior, "2 of 3 (66.7%)"] for prior in (NO_PRIOR, "us", "auto")]

    photos = tmp_path / "endtoend-us"
    photos.mkdir()
    for name, height in (("car.png", 120), ("van.png", 121), ("road.png", 122)):
        cv2.imwrite(str(photos / name), np.full((height, 200, 3), 90, np.uint8))
    (photos / "labels.tsv").write_text("file\tx\ty\tw\th\tplate\ncar.png\t10\t10\t60\t20\tABC123\n"
                                       "car.png\t100\t60\t60\t20\tXYZ789\nvan.png\t10\t90\t60\t20\tMISS1\n"
                                       "road.png\t\t\t\t\t\n")
    # of three plates: one read, one found and misread, one missed; a false plate on the van and one on the road,
    # a photo said to hold no plate that counts among the photos as `platelab eval` counts it
    _StubReader.plates = {120: [_plate("ABC123", (10, 10, 60, 20)), _plate("XYZ788", (100, 60, 60, 20))],
                          121: [_plate("FALSE1", (120, 10, 40, 15))], 122: [_plate("FALSE2", (20, 20, 40, 15))]}
    figures = measured.reader_figures(Path("d.onnx"), Path("r.onnx"), tmp_path)
    read = {"read": 1, "share": 0.3333, "found": 2, "false_plates": 2}
    assert figures == {"endtoend-us": {"items": 3, "photos": 3, "recognizer": "r.onnx",
                                       **{p: read for p in (NO_PRIOR, "us", "auto")}}}
    assert _StubReader.made_with[1] == {"detector": Path("d.onnx"), "recognizer": Path("r.onnx"), "prior": "auto",
                                        "tta": False}


def test_the_synthetic_benchmark_counts_each_style_s_plates_read_as_the_card_does() -> None:
    """benchmarks/synthetic.py's table: per style, the unseen plates read exactly, of all drawn; each misreading."""
    from types import SimpleNamespace

    from platelab.eval.synthetic import UNSEEN_SEED, score_styles, unseen_crops
    from platelab.synth.style import select_styles

    styles = select_styles(["us-delaware", "eu-fr"])
    truths = [c.text for style in styles for c in unseen_crops(style, 3, UNSEEN_SEED)]
    readings = iter(["", *truths[1:4], truths[4] + "1", truths[5]])  # one plate of each style misread

    class Predictor:
        def read(self, images: list[np.ndarray]) -> list[SimpleNamespace]:
            return [SimpleNamespace(text=next(readings)) for _ in images]

    scores = score_styles(Predictor(), styles, 3, UNSEEN_SEED)  # type: ignore[arg-type]
    assert [(s.style, s.hits, s.total, s.misreads) for s in scores] == [
        (styles[0].name, 2, 3, ((truths[0], ""),)), (styles[1].name, 2, 3, ((truths[4], truths[4] + "1"),))]
