"""`platelab eval --json`: the report's figures as numbers, drawn from the same scores as the markdown, so each figure
the markdown prints is the JSON's, rounded as the markdown rounds it."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from platelab.cli import app
from platelab.eval import folders
from platelab.eval.environment import Environment
from platelab.eval.report import TOP_CONFUSIONS
from platelab.io.results import Candidate, PlateResult
from platelab.predict.charset import Charset
from tests.test_eval_audit import _plate, _StubReader

README = Path(__file__).resolve().parents[1] / "README.md"
COMMON_KEYS = {"kind", "set", "folder", "candidates", "options", "environment", "unreadable", "unread_characters"}
CROP_KEYS = COMMON_KEYS | {"n_crops", "n_exact", "exact", "exact_interval", "cer", "by_length", "by_region",
                           "confusions", "by_confidence"}
PHOTO_KEYS = COMMON_KEYS | {"n_photos", "n_plates", "n_detected", "detected", "n_read", "read", "read_interval",
                            "read_of_detected", "n_false", "false_per_photo", "failures", "false_plates",
                            "ms_per_photo"}
NESTED_KEYS = {
    "by_length": {"length", "n_crops", "exact"},
    "by_region": {"region", "n_crops", "exact"},
    "confusions": {"truth", "read", "count"},
    "by_confidence": {"min_confidence", "n_kept", "kept", "exact"},
    "failures": {"file", "truth", "read"},
    "false_plates": {"file", "read", "box"},
}
CANDIDATE_KEYS = {"n_among", "among", "among_interval"}


def _reading(text: str, confidence: float, *candidates: str) -> PlateResult:
    plate = _plate(text, (0, 0, 90, 30))
    return replace(plate, confidence=confidence,
                   candidates=tuple(Candidate(t, confidence / (i + 1)) for i, t in enumerate((text, *candidates))))


class _Recognizer:
    """Recognizer stand-in: reads each crop as the reading of its height in a table."""

    readings: ClassVar[dict[int, PlateResult]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.predictor = SimpleNamespace(path=Path("stub-recognizer.onnx"), charset=Charset())

    def read(self, images: Sequence[np.ndarray]) -> list[PlateResult]:
        return [self.readings[image.shape[0]] for image in images]


# height: (file, state, label, reading); varied lengths, regions, confidences, substitutions, insertions, deletions
CROPS = {
    40: ("a.png", "ca", "ABC123", _reading("ABC123", 0.95)),
    41: ("b.png", "ca", "8XY1234", _reading("BXY1234", 0.6, "8XY1234")),
    42: ("c.png", "ny", "QRS9", _reading("QRS99", 0.4, "QRS9")),
    43: ("d.png", "ny", "0PQ77", _reading("OPQ7", 0.8)),
    44: ("e.png", "tx", "LMN456", _reading("LMN456", 0.2)),
    45: ("f.png", "tx", "ZZ11", _reading("", 0.0)),
}


def _crop_folder(folder: Path, missing: bool = False) -> Path:
    rows = ["file\tstate\tplate"]
    for height, (file, state, label, _) in CROPS.items():
        cv2.imwrite(str(folder / file), np.full((height, 90, 3), 120, np.uint8))
        rows.append(f"{file}\t{state}\t{label}")
    if missing:
        rows.append("gone.png\tca\tGONE1")
    (folder / "labels.tsv").write_text("\n".join(rows) + "\n")
    return folder


# photo height: its plates as read; labels below. Photo 60: one read, one misread; 61: one missed and a false plate;
# 62: a plate read whose truth is among its candidates only, and one read on a plate labelled nowhere
PHOTOS = {
    60: [replace(_plate("ABC123", (10, 10, 60, 20)), candidates=(Candidate("ABC123", 0.9),)),
         replace(_plate("XYZ788", (100, 40, 60, 20)), candidates=(Candidate("XYZ788", 0.9), Candidate("XYZ789", 0.5)))],
    61: [replace(_plate("FALSE1", (120, 10, 60, 20)), candidates=(Candidate("FALSE1", 0.9),))],
    62: [replace(_plate("QRS4", (10, 10, 60, 20)), candidates=(Candidate("QRS4", 0.9), Candidate("ORS4", 0.4))),
         replace(_plate("NOPE2", (100, 60, 60, 20)), candidates=(Candidate("NOPE2", 0.9),))],
}
PHOTO_LABELS = [("p0.png", 60, (10, 10, 60, 20), "ABC123"), ("p0.png", 60, (100, 40, 60, 20), "XYZ789"),
                ("p1.png", 61, (10, 60, 60, 20), "MISS55"), ("p2.png", 62, (10, 10, 60, 20), "ORS4")]


def _photo_folder(folder: Path, missing: bool = False) -> Path:
    rows = ["file\tx\ty\tw\th\tplate"]
    for file, height, box, plate in PHOTO_LABELS:
        cv2.imwrite(str(folder / file), np.full((height, 200, 3), 90, np.uint8))
        rows.append("\t".join([file, *map(str, box), plate]))
    if missing:
        rows.append("gone.png\t0\t0\t10\t10\tGONE1")
    (folder / "labels.tsv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.fixture
def stubs(monkeypatch: pytest.MonkeyPatch) -> None:
    _Recognizer.readings = {height: reading for height, (*_, reading) in CROPS.items()}
    _StubReader.plates = dict(PHOTOS)
    monkeypatch.setattr(folders, "Recognizer", _Recognizer)
    monkeypatch.setattr(folders, "Reader", _StubReader)


def _tables(report: str) -> dict[str, list[list[str]]]:
    """Each markdown table's rows (header and rule left out) by the heading above it, "##" for the title's."""
    tables: dict[str, list[list[str]]] = {}
    heading = ""
    for block in report.split("\n\n"):
        if block.startswith("#"):
            heading = "##" if block.startswith("## ") else block.lstrip("# ")
        elif block.startswith("| "):
            tables[heading] = [[cell.strip() for cell in line.strip("|").split("|")]
                               for line in block.strip().splitlines()[2:]]
    return tables


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def _interval(bounds: list[float]) -> str:
    assert len(bounds) == 2 and 0 <= bounds[0] <= bounds[1] <= 1
    return f"{100 * bounds[0]:.1f}-{100 * bounds[1]:.1f}%"


def _table(tables: dict[str, list[list[str]]], prefix: str) -> list[list[str]]:
    (rows,) = [rows for heading, rows in tables.items() if heading.startswith(prefix)]
    return rows


def _check_candidates(report: str, data: dict[str, Any], total: int) -> None:
    if data["candidates"] is None:
        assert "### Candidates" not in report
        return
    among = data["candidates"]
    assert set(among) == CANDIDATE_KEYS
    assert _table(_tables(report), "Candidates") == [
        [f"{among['n_among']} of {total} ({_pct(among['among'])})", _interval(among["among_interval"])]]


def _check_common(report: str, data: dict[str, Any], folder: Path) -> None:
    options = data["options"]
    models = f"detector: {options['detector']}, " if data["kind"] == "photos" else ""
    models += f"recognizer: {options['recognizer']}" + (", tta" if options["tta"] else "")
    assert report.startswith(f"## {folder} (prior: {options['prior'] or 'none'}, {models})\n")
    assert data["set"] == folder.name and data["folder"] == str(folder)
    measured = re.search(r"^measured on: (.*)$", report, re.MULTILINE)
    assert measured is not None and measured.group(1) == Environment(**data["environment"]).describe()
    assert all(error in report for error in data["unreadable"])
    json.dumps(data, allow_nan=False)  # plain JSON types only


def _check_crops(report: str, data: dict[str, Any], folder: Path) -> None:
    assert set(data) == CROP_KEYS and data["kind"] == "crops"
    tables = _tables(report)
    assert tables["##"] == [[str(data["n_crops"]), _pct(data["exact"]), _interval(data["exact_interval"]),
                             _pct(data["cer"])]]
    assert data["n_exact"] == round(data["exact"] * data["n_crops"])
    assert _table(tables, "By length") == [[str(r["length"]), str(r["n_crops"]), _pct(r["exact"])]
                                           for r in data["by_length"]]
    assert _table(tables, "By region") == [[r["region"] or "-", str(r["n_crops"]), _pct(r["exact"])]
                                           for r in data["by_region"]]
    assert _table(tables, "Top") == [[r["truth"], r["read"], str(r["count"])]
                                     for r in data["confusions"][:TOP_CONFUSIONS]]
    assert _table(tables, "By confidence") == [
        [str(r["min_confidence"]), f"{r['n_kept']} ({_pct(r['kept'])})", _pct(r["exact"])]
        for r in data["by_confidence"]]
    for key in ("by_length", "by_region", "confusions", "by_confidence"):
        assert data[key] and all(set(row) == NESTED_KEYS[key] for row in data[key])
    _check_candidates(report, data, data["n_crops"])
    _check_common(report, data, folder)


def _check_photos(report: str, data: dict[str, Any], folder: Path) -> None:
    assert set(data) == PHOTO_KEYS and data["kind"] == "photos"
    tables = _tables(report)
    assert tables["##"] == [[str(data["n_photos"]), str(data["n_plates"]), _pct(data["detected"]), _pct(data["read"]),
                             _interval(data["read_interval"]), f"{data['false_per_photo']:.2f}",
                             _pct(data["read_of_detected"])]]
    assert (data["n_detected"], data["n_read"]) == (round(data["detected"] * data["n_plates"]),
                                                    round(data["read"] * data["n_plates"]))
    assert _table(tables, "Failures") == [[r["file"], r["truth"], r["read"] or "(missed)"] for r in data["failures"]]
    assert _table(tables, "False plates") == [[r["file"], r["read"], ",".join(map(str, r["box"]))]
                                              for r in data["false_plates"]]
    assert data["n_false"] == len(data["false_plates"])
    for key in ("failures", "false_plates"):
        assert all(set(row) == NESTED_KEYS[key] for row in data[key])
    assert f"mean time per photo (decoded, end to end): {data['ms_per_photo']:.1f} ms" in report
    assert data["options"]["min_score"] == pytest.approx(0.4)
    _check_candidates(report, data, data["n_plates"])
    _check_common(report, data, folder)


@pytest.mark.usefixtures("stubs")
def test_a_labels_file_given_for_its_folder_scores_the_folder(tmp_path: Path) -> None:
    # its rows name files beside it: read under the file itself, every one was "Not a directory" and scored 0%
    folder = _crop_folder(tmp_path)
    data = folders.evaluate(folder / "labels.tsv", prior="us").to_dict()
    assert (data["n_crops"], data["n_exact"], data["unreadable"]) == (6, 2, [])
    with pytest.raises(ValueError, match="cropped plates; detector and min_score are for photos"):
        folders.evaluate(folder, detector="detector.onnx")  # it would be ignored: crops are read without detection


@pytest.mark.parametrize("candidates", [1, 3])
@pytest.mark.usefixtures("stubs")
def test_crop_json_gives_the_figures_of_the_markdown(tmp_path: Path, candidates: int) -> None:
    folder = _crop_folder(tmp_path)
    evaluation = folders.evaluate(folder, prior="us", candidates=candidates)
    data = json.loads(json.dumps(evaluation.to_dict()))
    _check_crops(evaluation.report, data, folder)
    assert (data["n_crops"], data["n_exact"]) == (6, 2)
    assert {"truth": "∅", "read": "9", "count": 1} in data["confusions"]  # the gap symbol, as in the markdown
    assert data["options"] == {"prior": "us", "recognizer": "stub-recognizer.onnx", "tta": False,
                               "candidates": candidates}
    assert (data["candidates"] is None) == (candidates == 1)
    if candidates > 1:
        assert data["candidates"]["n_among"] == 4  # two read right, two with the truth as a second text


@pytest.mark.usefixtures("stubs")
def test_evaluate_takes_the_folder_and_the_montage_as_strings(tmp_path: Path) -> None:
    """The README's `platelab.evaluate(DIR)`: a folder named by a string, as Reader and Recognizer take files (a str
    folder ended in a TypeError deep in the labels code)."""
    folder = _crop_folder(tmp_path)
    montage = tmp_path / "fails.png"
    data = folders.evaluate(str(folder), prior="us", failures=str(montage)).to_dict()
    assert data == folders.evaluate(folder, prior="us").to_dict() | {"environment": data["environment"]}
    assert (data["n_crops"], data["n_exact"]) == (6, 2) and montage.is_file()


@pytest.mark.parametrize("candidates", [1, 3])
@pytest.mark.usefixtures("stubs")
def test_photo_json_gives_the_figures_of_the_markdown(tmp_path: Path, candidates: int) -> None:
    folder = _photo_folder(tmp_path)
    evaluation = folders.evaluate(folder, min_score=0.4, tta=True, candidates=candidates)
    data = json.loads(json.dumps(evaluation.to_dict()))
    _check_photos(evaluation.report, data, folder)
    assert (data["n_photos"], data["n_plates"], data["n_detected"], data["n_read"], data["n_false"]) == (3, 4, 3, 1, 2)
    assert data["failures"][0] == {"file": "p0.png", "truth": "XYZ789", "read": "XYZ788"}
    assert data["false_plates"][0] == {"file": "p1.png", "read": "FALSE1", "box": [120, 10, 60, 20]}
    assert data["options"]["tta"] is True and data["options"]["detector"] == "stub.onnx"
    if candidates > 1:
        assert data["candidates"]["n_among"] == 3


@pytest.mark.parametrize(("make", "kind"), [(_crop_folder, "crops"), (_photo_folder, "photos")])
@pytest.mark.usefixtures("stubs")
def test_the_command_prints_one_json_object_and_fails_on_an_unreadable_file(
    tmp_path: Path, make: Any, kind: str
) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    make(folder)
    montage = tmp_path / "fails.png"
    result = CliRunner().invoke(app, ["eval", str(folder), "--json", "--candidates", "2", "--failures", str(montage)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["kind"] == kind and data["unreadable"] == [] and montage.is_file()
    assert data["candidates"] is not None

    make(folder, missing=True)
    result = CliRunner().invoke(app, ["eval", str(folder), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)  # the JSON alone on stdout; the count of unreadable files on stderr
    assert len(data["unreadable"]) == 1 and "gone.png" in data["unreadable"][0]
    assert "1 file(s) could not be read" in result.stderr
    plain = CliRunner().invoke(app, ["eval", str(folder)])
    assert plain.exit_code == 1 and "\n1 file(s) could not be read and count as misses:\n" in plain.stdout


def test_the_readme_documents_every_key() -> None:
    text = README.read_text(encoding="utf-8")
    keys = CROP_KEYS | PHOTO_KEYS | CANDIDATE_KEYS | set().union(*NESTED_KEYS.values())
    keys |= set(Environment.here().to_dict()) | {"prior", "recognizer", "detector", "tta", "min_score"}
    assert not {key for key in keys if f"`{key}`" not in text}


@pytest.mark.usefixtures("stubs")
def test_the_set_is_the_folders_name_when_given_as_dot_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "set"
    (folder / "sub").mkdir(parents=True)
    _crop_folder(folder)
    monkeypatch.chdir(folder / "sub")
    for given in ("..", "../", "../sub/.."):
        result = CliRunner().invoke(app, ["eval", given, "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["set"] == "set", given
