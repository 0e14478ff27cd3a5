"""Watch lists: a plate is marked with the wanted plate it may be, by its text or its candidates, look-alikes
counted as one unless asked not to; bad list files get one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from platelab.api import Reader
from platelab.cli import app
from platelab.eval.metrics import overlaps
from platelab.io.labels import normalize_plate, read_labels
from platelab.io.results import Candidate, PlateResult
from platelab.predict.watch import WatchList, WatchListError, fold_look_alikes
from platelab.synth.demo import write_demo
from tests.conftest import REAL_DATA

QUAD = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))


def _plate(text: str, *candidates: str) -> PlateResult:
    listed = tuple(Candidate(c, 0.1) for c in (text, *candidates)) if candidates else ()
    return PlateResult(text, 0.9, (), (0, 0, 1, 1), QUAD, candidates=listed)


def test_a_plate_matches_by_its_text_then_its_candidates() -> None:
    watch = WatchList(["abc-123", "197 659"], look_alikes=False)
    assert len(watch) == 2
    assert watch.match(_plate("ABC123")) == "ABC123"
    assert watch.match(_plate("8197659", "8197658", "197659")) == "197659"  # a logo read as a character
    assert watch.match(_plate("8197659")) is None
    assert watch.marked(_plate("ABC123")).wanted == "ABC123"
    assert watch.marked(_plate("XYZ789")).wanted is None


def test_look_alikes_count_as_one_unless_exact() -> None:
    assert fold_look_alikes("OISZGB") == "015268"
    assert WatchList(["0SG719"]).match(_plate("OSG719")) == "0SG719"
    assert WatchList(["0SG719"], look_alikes=False).match(_plate("OSG719")) is None
    assert WatchList(["IAMWZ40"]).match(_plate("1AMW240")) == "IAMWZ40"  # the list's spelling is reported


def test_a_watch_list_file_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "wanted.txt"
    path.write_text("# stolen, reported 2026-12-01\nABC 123\n\n  # another\nxyz-789\n", encoding="utf-8")
    assert len(WatchList.load(path)) == 2
    path.write_text("# nothing yet\n\n", encoding="utf-8")
    with pytest.raises(WatchListError, match=r"wanted\.txt: a watch list needs at least one plate"):
        WatchList.load(path)
    with pytest.raises(WatchListError, match=r"absent\.txt: cannot read"):
        WatchList.load(tmp_path / "absent.txt")


def test_read_marks_the_wanted_plate_in_a_photo(tmp_path: Path) -> None:
    photo = write_demo(tmp_path / "demo")
    truth = sorted(label.plate for label in read_labels(photo.parent))
    wanted, other = truth[0], truth[1]
    # typed with look-alikes swapped, as a report might have it
    listed = wanted.translate(str.maketrans("0123456789OIZSGB", "OIZ34SG7B9012568"))
    assert listed != wanted
    (tmp_path / "wanted.txt").write_text(f"{listed}\nNOTHERE1\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["read", str(photo), "--json", "--watch", str(tmp_path / "wanted.txt")])
    assert result.exit_code == 0, result.output
    plates = {p["text"]: p for p in json.loads(result.stdout)["plates"]}
    assert plates[wanted]["wanted"] == listed and "wanted" not in plates[other]
    assert "candidates" not in plates[wanted]  # matched on, shown only when asked for
    exact = runner.invoke(app, ["read", str(photo), "--json", "--watch", str(tmp_path / "wanted.txt"), "--exact"])
    assert all("wanted" not in p for p in json.loads(exact.stdout)["plates"])
    plain = runner.invoke(app, ["read", str(photo), "--watch", str(tmp_path / "wanted.txt")]).stdout
    assert f"\t{wanted}\t" in plain and f"wanted: {listed}" in plain
    missing = runner.invoke(app, ["read", str(photo), "--watch", str(tmp_path / "absent.txt")])
    assert missing.exit_code == 2 and "absent.txt: cannot read the watch list" in missing.output


@pytest.mark.skipif(not (REAL_DATA / "endtoend-us").is_dir(), reason="../shared/data/real is not here")
def test_real_us_photos_wanted_plates_found() -> None:
    # Measured with the shipped models (python benchmarks/watch.py): 89.8% of the labelled plates found among
    # 100,000 other wanted plates, no false alert; 83.1% are read exactly.
    labels = read_labels(REAL_DATA / "endtoend-us", "photos")
    watch = WatchList([label.plate for label in labels])
    reader = Reader(prior="us", candidates=5)
    found = 0
    for file in dict.fromkeys(label.file for label in labels):
        truths = [label for label in labels if label.file == file]
        for plate in reader.read(REAL_DATA / "endtoend-us" / file):
            wanted = watch.match(plate)
            found += any(normalize_plate(t.plate) == wanted and overlaps(plate.box, t.box, 0.3) for t in truths)
    assert found / len(labels) >= 0.87, found


def test_a_byte_order_mark_and_comments_after_a_plate_are_read_as_a_person_means(tmp_path: Path) -> None:
    path = tmp_path / "wanted.txt"
    path.write_text("\ufeff# ABC123 recovered\nXYZ-789  # stolen 2026-12-01\n", encoding="utf-8")
    watch = WatchList.load(path)
    assert len(watch) == 1 and watch.match(_plate("XYZ789")) == "XYZ789" and watch.match(_plate("ABC123")) is None
    path.write_text("\ufeff# nothing yet\n", encoding="utf-8")
    with pytest.raises(WatchListError, match="at least one plate"):
        WatchList.load(path)


def test_read_paths_matches_a_watch_list_on_candidates_by_default(tmp_path: Path) -> None:
    from platelab.api import read_paths

    photo = write_demo(tmp_path / "demo")
    truth = sorted(label.plate for label in read_labels(photo.parent))
    [result] = read_paths([photo], watch=WatchList(truth))
    assert {p.wanted for p in result.plates} == set(truth)
    assert all(len(p.candidates) >= 1 for p in result.plates)  # read for matching, and kept for the caller


def test_a_watch_list_that_is_no_regular_file_or_too_big_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from platelab.predict import watch

    os.mkfifo(tmp_path / "pipe")  # opened, it would wait for a writer; /dev/zero would fill the memory
    with pytest.raises(WatchListError, match=r"pipe: not a regular file$"):
        WatchList.load(tmp_path / "pipe")
    (tmp_path / "big.txt").write_text("ABC123\n" * 20)
    monkeypatch.setattr(watch, "MAX_LIST_BYTES", 100)
    with pytest.raises(WatchListError, match=r"big\.txt: 140 bytes; a watch list \(one plate a line\) may have 100$"):
        WatchList.load(tmp_path / "big.txt")
    monkeypatch.setattr(watch, "MAX_LIST_BYTES", 140)
    assert len(WatchList.load(tmp_path / "big.txt")) == 1  # exactly at the limit: read
