"""A model whose platelab metadata is missing or malformed fails to load in one line naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")

from platelab.predict.decode import AutoPrior  # noqa: E402
from platelab.predict.detector import DetectionPredictor  # noqa: E402
from platelab.predict.recognizer import PriorError, RecognitionPredictor  # noqa: E402
from platelab.predict.session import ModelLoadError  # noqa: E402
from platelab.weights import default_model  # noqa: E402


def _edited(model: str, folder: Path, key: str, value: str | None) -> Path:
    """The bundled model with one metadata entry set to value (None: removed)."""
    graph = onnx.load(str(default_model(model)))
    kept = [entry for entry in graph.metadata_props if entry.key != key]
    del graph.metadata_props[:]
    graph.metadata_props.extend(kept)
    if value is not None:
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    path = folder / f"{model}-{key}.onnx"
    onnx.save(graph, str(path))
    return path


@pytest.mark.parametrize(("key", "value", "reason"), [
    ("charset", None, "no 'charset' in its platelab metadata"),
    ("charset", "AB", "37 output classes for a charset of 2 characters"),
    ("slots", "x", "malformed platelab metadata (invalid literal"),
    ("input_size", "abc", "malformed platelab metadata (Expecting value"),
    ("input_size", "[64, 0]", "input_size is not two positive integers"),
    ("class_scale", "[1, 2]", "malformed platelab metadata"),
    ("class_scale", '{"Ж": 4}', "class_scale 'Ж'"),
    ("class_scale", '{"M": -1}', "class_scale 'M'"),
    ("formats", "{", "malformed platelab metadata"),
])
def test_a_recognizer_with_damaged_metadata_is_refused_naming_it(
    tmp_path: Path, key: str, value: str | None, reason: str
) -> None:
    path = _edited("recognizer", tmp_path, key, value)
    with pytest.raises(ModelLoadError) as caught:
        RecognitionPredictor(path)
    assert str(caught.value).startswith(f"{path}: ") and reason in str(caught.value)
    assert len(str(caught.value).splitlines()) == 1


def test_damaged_formats_of_one_country_are_found_when_its_prior_is_asked(tmp_path: Path) -> None:
    path = _edited("recognizer", tmp_path, "formats", '{"us": [{"weight": 1}]}')
    assert RecognitionPredictor(path).prior is None  # no prior asked: the formats are not needed
    with pytest.raises(ModelLoadError, match=r"no 'alphabets' in its platelab metadata"):
        RecognitionPredictor(path, prior="us")
    with pytest.raises(PriorError, match=r"no format prior 'br' in this model; it has: auto, us"):
        RecognitionPredictor(path, prior="br")  # a prior the model lacks is the user's choice, not damage


def test_auto_leaves_out_a_country_whose_formats_the_model_cannot_read(tmp_path: Path) -> None:
    # "xx" writes a Cyrillic letter first, which this model does not read: no reading could keep to its format
    formats = '{"us": [{"alphabets": ["ABC", "123"], "weight": 1}], "xx": [{"alphabets": ["Ж", "123"], "weight": 1}]}'
    path = _edited("recognizer", tmp_path, "formats", formats)
    auto = RecognitionPredictor(path, prior="auto").prior
    assert isinstance(auto, AutoPrior) and len(auto.priors) == 1  # us alone
    with pytest.raises(PriorError, match="this model can read none of the 'xx' formats it carries"):
        RecognitionPredictor(path, prior="xx")
    malformed = _edited("recognizer", tmp_path, "formats", '{"us": [{"alphabets": 5, "weight": 1}]}')
    with pytest.raises(ModelLoadError, match="malformed platelab metadata"):
        RecognitionPredictor(malformed, prior="auto")


def test_countries_listed_read_each_plate_under_the_one_that_fits_it_among_them_alone(tmp_path: Path) -> None:
    formats = {"aa": [{"alphabets": ["ABC"] * 3, "weight": 1}], "bb": [{"alphabets": ["123"] * 3, "weight": 1}],
               "cc": [{"alphabets": ["ABC123"] * 3, "weight": 1}], "xx": [{"alphabets": ["Ж"] * 3, "weight": 1}]}
    path = _edited("recognizer", tmp_path, "formats", json.dumps(formats))
    listed = RecognitionPredictor(path, prior=" BB,aa , bb").prior  # any case, spaces, a country named twice
    assert isinstance(listed, AutoPrior) and [p.country for p in listed.priors] == ["bb", "aa"]
    for prior, reason in (("aa,dd", r"no format prior 'dd' \(in 'aa,dd'\) in this model; it has: auto, aa, bb, cc"),
                          ("aa,", r"no format prior '' \(in 'aa,'\)"),
                          ("aa,xx", "this model can read none of the 'xx' formats it carries"),
                          ("auto,aa", "'auto' takes every country already; list countries alone")):
        with pytest.raises(PriorError, match=reason):
            RecognitionPredictor(path, prior=prior)


@pytest.mark.parametrize(("key", "value", "reason"), [
    ("stride", "0", "stride 0 is not a positive number of pixels"),
    ("stride", "four", "malformed platelab metadata (invalid literal"),
    ("input_size", "[384]", "input_size is not two numbers: [384]"),
])
def test_a_detector_with_damaged_metadata_is_refused_naming_it(
    tmp_path: Path, key: str, value: str, reason: str
) -> None:
    path = _edited("detector", tmp_path, key, value)
    with pytest.raises(ModelLoadError) as caught:
        DetectionPredictor(path)
    assert str(caught.value).startswith(f"{path}: ") and reason in str(caught.value)


def test_models_shows_what_a_users_card_says_of_its_training(tmp_path: Path) -> None:
    import json
    import shutil

    from typer.testing import CliRunner

    from platelab.cli import app

    model = tmp_path / "mine.onnx"
    shutil.copyfile(default_model("recognizer"), model)
    model.with_suffix(".card.json").write_text(json.dumps({
        "task": "plate recognition (cropped plate -> text)", "data": "synthetic plates only",
        "training_command": "platelab train recognizer --config r.yaml --val-real crops-us", "steps": 18,
        "wall_time_s": 42.3, "hardware": "AMD EPYC, 2 cores", "accuracy": {"synthetic": 0.25, "crops-us": 0.8378},
        "accuracy_at_step": 10}))
    result = CliRunner().invoke(app, ["models", str(model)])
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines()]
    assert "trained 18 steps in 42 s on AMD EPYC, 2 cores" in lines
    assert "validation at step 10: synthetic 0.25, crops-us 0.8378" in lines
    assert "not measured" not in result.output
