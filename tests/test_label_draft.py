"""`platelab read --labels-out`: a labels.tsv drafted from what was read, which eval and finetune take as it is and
a user corrects; it never replaces a file of the user's."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from platelab.cli import app
from platelab.eval.metrics import IOU_MIN, overlaps
from platelab.io.labels import (
    DRAFT_STATE,
    CropLabel,
    PhotoLabel,
    names_in,
    read_labels,
    read_photo_set,
    write_crop_labels,
    write_label_draft,
    write_photo_labels,
)
from platelab.io.outputs import OutputError, prepare_draft_file
from platelab.io.results import ImageResult
from tests.conftest import demo_photos
from tests.test_refine import _reading


def _invoke(args: list[str]) -> Result:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result


def _refused(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_the_draft_of_the_demo_scene_is_what_was_read_and_eval_scores_it_all_read(
    tmp_path: Path, demo_scene: Path
) -> None:
    photos = demo_photos(tmp_path, demo_scene)
    plain = _invoke(["read", str(photos), "--json"])
    drafting = _invoke(["read", str(photos), "--json", "--labels-out", str(photos)])

    assert drafting.stdout == plain.stdout  # reading's own output is unchanged
    assert drafting.stderr.splitlines()[-1] == ("1 photo with no plate found: their rows say they hold none; add any "
                                                "plates by hand (blank.png)")
    draft = read_labels(photos, "photos")  # a folder gets labels.tsv; finetune and eval read it as it is
    assert read_photo_set(photos)[1] == ["blank.png", "cam 1/scene.jpg"]  # the photo without plates is in the set
    read = {json.loads(line)["file"]: json.loads(line)["plates"] for line in plain.stdout.splitlines()}
    reported = read["cam 1/scene.jpg"]
    assert draft == [PhotoLabel("cam 1/scene.jpg", p["text"], tuple(p["box"])) for p in reported]
    truth = read_labels(demo_scene.parent, "photos")
    for label in truth:  # and each plate of the truth is in it, as the reader's tolerance finds a plate
        assert [d.plate for d in draft if overlaps(d.box, label.box, IOU_MIN)] == [label.plate]

    scored = json.loads(_invoke(["eval", str(photos), "--json"]).stdout)
    assert (scored["n_photos"], scored["n_plates"], scored["read"], scored["n_false"]) == (2, len(truth), 1.0, 0)


def test_names_are_relative_to_the_labels_files_folder(tmp_path: Path) -> None:
    nested = tmp_path / "set" / "day" / "cam 1" / "a.jpg"
    assert names_in(tmp_path / "set", [nested, tmp_path / "set" / "b.jpg"]) == ["day/cam 1/a.jpg", "b.jpg"]
    assert names_in(tmp_path / "set" / ".." / "set", [tmp_path / "set" / "day" / ".." / "b.jpg"]) == ["b.jpg"]
    with pytest.raises(OutputError, match="not under"):
        names_in(tmp_path / "set" / "day", [nested, tmp_path / "set" / "b.jpg"])
    with pytest.raises(OutputError, match="cannot be written to a labels file"):
        names_in(tmp_path, [tmp_path / "a\tb.jpg"])


def test_a_linked_file_named_by_way_of_dot_dot_is_named_where_it_is_listed(tmp_path: Path) -> None:
    (tmp_path / "elsewhere.jpg").write_bytes(b"a photo kept out of the set's folder")
    (tmp_path / "set" / "day").mkdir(parents=True)
    (tmp_path / "set" / "car.jpg").symlink_to(tmp_path / "elsewhere.jpg")
    assert names_in(tmp_path / "set", [tmp_path / "set" / "day" / ".." / "car.jpg"]) == ["car.jpg"]


def test_a_row_without_a_file_or_a_plate_is_not_written(tmp_path: Path) -> None:
    for row in (CropLabel("", "ABC123", "CA"), CropLabel("a.png", "", "CA")):
        with pytest.raises(ValueError, match="cannot be written to a labels file"):
            write_crop_labels(tmp_path / "labels.tsv", [row])
    assert not (tmp_path / "labels.tsv").exists()


def test_a_box_read_twice_keeps_its_surer_reading_and_a_reading_with_no_letter_or_digit_is_no_row(
    tmp_path: Path,
) -> None:
    # either would be refused on reading, and the whole draft with it; plates come best first, so the first is surer
    box = (1, 2, 30, 10)
    plates = (replace(_reading("AB123", 0.9), box=box), replace(_reading("AB128", 0.5), box=box),
              replace(_reading("--", 0.4), box=(50, 2, 30, 10)))
    named = [("a.jpg", ImageResult("a.jpg", plates)), ("b.jpg", ImageResult("b.jpg", plates[2:])),
             ("c.jpg", ImageResult("c.jpg", error="c.jpg: not an image"))]
    assert write_label_draft(tmp_path / "labels.tsv", named, "photos") == (1, ["b.jpg"])
    assert read_photo_set(tmp_path) == ([PhotoLabel("a.jpg", "AB123", box)], ["a.jpg", "b.jpg"])


def test_a_draft_beside_the_photos_folder_names_them_under_it(tmp_path: Path, demo_scene: Path) -> None:
    photos = demo_photos(tmp_path, demo_scene)
    draft = tmp_path / "draft.tsv"
    _invoke(["read", str(photos), "--labels-out", str(draft)])
    assert {label.file for label in read_labels(draft, "photos")} == {"photos/cam 1/scene.jpg"}


def test_a_file_outside_the_labels_folder_a_video_or_a_stream_is_refused_before_reading(
    tmp_path: Path, demo_scene: Path
) -> None:
    photos = demo_photos(tmp_path, demo_scene)
    _refused(["read", str(photos), str(demo_scene), "--labels-out", str(photos)],
             f"{demo_scene}: not under {photos}, the labels file's folder")
    (photos / "clip.mp4").write_bytes(b"not even a video: refused by its name, before anything is read")
    _refused(["read", str(photos), "--labels-out", str(photos)], "clip.mp4: a video; --labels-out drafts labels")
    _refused(["read", "--stream", "0", "--labels-out", str(photos)], "a stream's frames are not files")
    assert not (photos / "labels.tsv").exists()
    # a folder not made yet ("new/" as typed) is not taken for a file of the wrong kind
    _refused(["read", str(photos), "--labels-out", f"{photos / 'new'}/"],
             f"{photos / 'new'}: no such folder, nor a .tsv file to write; make the folder first or name the draft")


def test_a_file_of_the_users_is_never_replaced_and_an_unedited_draft_is(tmp_path: Path, demo_scene: Path) -> None:
    photos = demo_photos(tmp_path, demo_scene)
    mine = photos / "labels.tsv"
    write_photo_labels(mine, [PhotoLabel("cam 1/scene.jpg", "ABC123", (10, 10, 90, 45))])
    before = mine.read_bytes()
    _refused(["read", str(photos), "--labels-out", str(mine)], "exists and is not a labels draft platelab wrote")
    assert mine.read_bytes() == before

    draft = tmp_path / "draft.tsv"
    _invoke(["read", str(photos), "--labels-out", str(draft)])
    prepare_draft_file(draft, (".tsv",), "labels draft")  # a draft platelab wrote may be written again
    draft.write_text(draft.read_text() + "photos/blank.png\t1\t1\t9\t9\tAB12\n")
    with pytest.raises(OutputError, match="or was edited since"):  # corrected: the user's now
        prepare_draft_file(draft, (".tsv",), "labels draft")


def test_the_crops_draft_has_a_placeholder_state_and_reads_back(tmp_path: Path) -> None:
    from platelab.synth import writer
    from platelab.synth.style import select_styles

    crops = tmp_path / "crops"
    writer.write_crops(crops, 3, select_styles(["us-*"]), progress=False)
    (crops / "labels.tsv").unlink()  # the synthetic truth; the draft takes its place
    read = _invoke(["read", "--crops", str(crops), "--json", "--labels-out", str(crops)])

    readings = [json.loads(line) for line in read.stdout.splitlines()]
    expected = [CropLabel(Path(r["file"]).name, r["plates"][0]["text"], DRAFT_STATE) for r in readings]
    assert read_labels(crops, "crops") == expected
    assert json.loads(_invoke(["eval", str(crops), "--json"]).stdout)["exact"] == 1.0


def test_read_by_workers_the_rows_keep_the_files_order(tmp_path: Path, demo_scene: Path) -> None:
    photos = demo_photos(tmp_path, demo_scene)
    shutil.copy(demo_scene, photos / "a.jpg")
    _invoke(["read", str(photos), "--labels-out", str(tmp_path / "one.tsv")])
    _invoke(["read", str(photos), "--labels-out", str(tmp_path / "two.tsv"), "--workers", "2"])
    drafted = read_labels(tmp_path / "two.tsv", "photos")
    assert [label.file for label in drafted] == ["photos/a.jpg"] * 2 + ["photos/cam 1/scene.jpg"] * 2
    assert drafted == read_labels(tmp_path / "one.tsv", "photos")


def test_a_draft_is_whole_when_the_output_is_cut_short(tmp_path: Path, demo_scene: Path) -> None:
    import subprocess
    import sys

    photos = demo_photos(tmp_path, demo_scene)
    shutil.copy(demo_scene, photos / "a.jpg")
    reading = subprocess.Popen([sys.executable, "-m", "platelab", "read", str(photos), "--labels-out", str(photos)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reading.stdout is not None and reading.stderr is not None
    reading.stdout.readline()
    reading.stdout.close()  # as `| head -1` does: the rest is still read for the draft
    assert reading.wait(timeout=60) == 0, reading.stderr.read()
    assert [label.file for label in read_labels(photos, "photos")] == ["a.jpg"] * 2 + ["cam 1/scene.jpg"] * 2


def test_a_file_that_failed_before_the_output_was_cut_still_makes_the_exit_status_1(
    tmp_path: Path, demo_scene: Path
) -> None:
    import subprocess
    import sys

    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "0-corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a whole JPEG")  # read first, its error on stderr
    for i in range(6):  # enough plate lines that writing goes on after the reader has gone
        shutil.copy(demo_scene, photos / f"car{i}.jpg")
    reading = subprocess.Popen([sys.executable, "-m", "platelab", "read", str(photos), "--labels-out", str(photos)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reading.stdout is not None and reading.stderr is not None
    reading.stdout.readline()
    reading.stdout.close()
    errors = reading.stderr.read().decode()
    assert reading.wait(timeout=60) == 1, errors
    assert "0-corrupt.jpg" in errors and "1 file(s) could not be read" in errors
    assert len(read_labels(photos, "photos")) == 12
