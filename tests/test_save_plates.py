"""`platelab read --save-plates DIR`: each plate printed saved as the crop it was read from, with a labels.tsv of crops
that eval and finetune take as it is; the folder rules of --draw apply."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
from typer.testing import CliRunner, Result

import platelab
from platelab.cli import app
from platelab.io.labels import DRAFT_STATE, CropLabel, read_labels
from tests.conftest import demo_photos


def _photos(root: Path, demo_scene: Path) -> Path:
    """root/photos: the demo_scene scene in a nested folder and at the top, and a blank image with nothing to find."""
    photos = demo_photos(root, demo_scene)
    shutil.copy(demo_scene, photos / "gate.jpg")
    return photos


def _invoke(args: list[str], code: int = 0) -> Result:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == code, result.output
    return result


def _refused(args: list[str], message: str) -> None:
    result = _invoke(args, code=2)
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def _saved(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file()}


def test_each_crop_reads_as_the_photo_reader_read_it_and_eval_scores_the_folder_all_read(
    tmp_path: Path, demo_scene: Path
) -> None:
    photos = _photos(tmp_path, demo_scene)
    plates = photos / "plates"  # inside the folder read: no input, now or on a later reading of the folder
    plain = _invoke(["read", str(photos), "--json"])
    saving = _invoke(["read", str(photos), "--json", "--save-plates", str(plates)])
    assert saving.stdout == plain.stdout  # reading's own output is unchanged
    assert f"wrote 4 plate crop(s) to {plates} " in saving.stderr  # the plates of 3 photos, one of them blank
    assert _invoke(["read", str(photos), "--json"]).stdout == plain.stdout

    read = {json.loads(line)["file"]: json.loads(line)["plates"] for line in plain.stdout.splitlines()}
    assert len(read["gate.jpg"]) == len(read["cam 1/scene.jpg"]) == 2 and read["blank.png"] == []
    expected = [CropLabel(f"{stem}.plate{n}.png", plate["text"], DRAFT_STATE)
                for file, stem in (("cam 1/scene.jpg", "cam 1/scene"), ("gate.jpg", "gate"))
                for n, plate in enumerate(read[file], 1)]
    assert read_labels(plates) == expected  # named by the photo, its subfolders kept, in the files' order
    shown = [name for name in _saved(plates) if not name.startswith(".")]  # platelab's marks are hidden
    assert sorted(shown) == sorted([label.file for label in expected] + ["labels.tsv"])

    crops = [plates / label.file for label in expected]
    assert [r.text for r in platelab.Recognizer().read(crops)] == [label.plate for label in expected]
    assert all(cv2.imread(str(crop)).shape[0] >= 64 for crop in crops)  # the photo's pixels, not the network's 64

    scored = json.loads(_invoke(["eval", str(plates), "--json"]).stdout)
    assert (scored["n_crops"], scored["exact"]) == (len(expected), 1.0)


def test_the_api_cuts_the_crop_that_was_saved(tmp_path: Path, demo_scene: Path) -> None:
    plates = tmp_path / "plates"
    [result] = platelab.read_paths([demo_scene], save_plates=plates)
    labels = read_labels(plates)  # a photo named by its whole path is saved under it, as --draw draws it
    under = demo_scene.with_suffix("").relative_to(demo_scene.anchor).as_posix()
    assert [label.file for label in labels] == [f"{under}.plate{n}.png" for n in (1, 2)]
    for label, plate in zip(labels, result.plates, strict=True):
        assert np.array_equal(platelab.plate_crop(demo_scene, plate), cv2.imread(str(plates / label.file)))


def test_two_workers_save_what_one_does(tmp_path: Path, demo_scene: Path) -> None:
    photos = _photos(tmp_path, demo_scene)
    one = _invoke(["read", str(photos), "--save-plates", str(tmp_path / "one")])
    two = _invoke(["read", str(photos), "--save-plates", str(tmp_path / "two"), "--workers", "2"])
    assert two.stdout == one.stdout
    assert _saved(tmp_path / "two") == _saved(tmp_path / "one")


def test_photos_whose_crops_would_share_names_are_refused_before_anything_is_written(
    tmp_path: Path, demo_scene: Path
) -> None:
    photos = _photos(tmp_path, demo_scene)
    shutil.copy(demo_scene, photos / "gate.png")
    _refused(["read", str(photos), "--save-plates", str(tmp_path / "plates")],
             f"would both have their plates saved as {tmp_path / 'plates' / 'gate.plate1.png'}")
    assert not (tmp_path / "plates").exists()


def test_a_folder_of_other_files_is_refused_and_platelabs_own_is_written_again(
    tmp_path: Path, demo_scene: Path
) -> None:
    photos = _photos(tmp_path, demo_scene)
    _refused(["read", str(photos / "gate.jpg"), "--save-plates", str(photos)], "holds files platelab did not write")
    plates = tmp_path / "plates"
    _invoke(["read", str(photos), "--save-plates", str(plates)])
    first = _saved(plates)
    _invoke(["read", str(photos), "--save-plates", str(plates)])
    assert _saved(plates) == first
    _refused(["read", str(photos), "--draw", str(plates)], "holds platelab's plate crops")
    _refused(["read", str(photos), "--draw", str(tmp_path / "new"), "--save-plates", str(tmp_path / "new")],
             "need folders of their own")
    _refused(["read", str(photos), "--labels-out", str(plates), "--save-plates", str(plates)],
             "--save-plates writes the crops' labels there")

    labels = plates / "labels.tsv"
    labels.write_text(labels.read_text().replace("\tZ", "\tX"))  # the user's corrections are theirs
    _refused(["read", str(photos), "--save-plates", str(plates)], "or was edited since")


def test_videos_streams_and_crops_are_refused(tmp_path: Path, demo_scene: Path) -> None:
    photos = _photos(tmp_path, demo_scene)
    (photos / "clip.mp4").write_bytes(b"not even a video: refused by its name, before anything is read")
    _refused(["read", str(photos), "--save-plates", str(tmp_path / "plates")], "clip.mp4: a video")
    _refused(["read", "--stream", "0", "--save-plates", str(tmp_path / "plates")], "a stream's plates")
    _refused(["read", "--crops", str(photos), "--save-plates", str(tmp_path / "plates")], "are crops already")
    assert not (tmp_path / "plates").exists()


def test_crops_that_cannot_be_written_fail_their_own_photo_and_the_batch_goes_on(
    tmp_path: Path, demo_scene: Path
) -> None:
    photos = _photos(tmp_path, demo_scene)
    plates = tmp_path / "plates"
    _invoke(["read", str(photos), "--save-plates", str(plates)])
    shutil.rmtree(plates / "cam 1")
    (plates / "cam 1").write_bytes(b"")  # where the folder of cam 1's crops must go

    result = _invoke(["read", str(photos), "--save-plates", str(plates)], code=1)
    failed = [line for line in result.stderr.splitlines() if "cam 1/scene.jpg" in line]
    assert len(failed) == 1 and "its plate crops could not be written" in failed[0]
    assert [label.file for label in read_labels(plates)] == ["gate.plate1.png", "gate.plate2.png"]


def test_a_photo_read_again_with_fewer_plates_keeps_no_crop_of_the_earlier_run(
    tmp_path: Path, demo_scene: Path
) -> None:
    photos, crops = tmp_path / "photos", tmp_path / "crops"
    photos.mkdir()
    shutil.copy(demo_scene, photos / "gate.jpg")  # two plates, read 0.76 and 0.60 sure
    _invoke(["read", str(photos), "--save-plates", str(crops), "--min-confidence", "0"])
    assert sorted(crops.glob("*.png")) == [crops / "gate.plate1.png", crops / "gate.plate2.png"]
    _invoke(["read", str(photos), "--save-plates", str(crops), "--min-confidence", "0.7"])
    assert sorted(crops.glob("*.png")) == [crops / "gate.plate1.png"]
    assert len(read_labels(crops)) == 1


def test_every_photos_crops_are_saved_when_the_output_is_cut_short(tmp_path: Path, demo_scene: Path) -> None:
    import shlex
    import subprocess
    import sys

    photos = _photos(tmp_path, demo_scene)
    for name in ("x1.jpg", "x2.jpg"):  # read after `head` has gone
        shutil.copy(demo_scene, photos / name)
    command = shlex.join([sys.executable, "-m", "platelab", "read", str(photos), "--save-plates", str(tmp_path / "p")])
    cut = subprocess.run(["bash", "-c", f"set -o pipefail; {command} | head -1"], capture_output=True, text=True,
                         timeout=60)
    assert cut.returncode == 0 and len(cut.stdout.splitlines()) == 1, cut.stderr
    assert [label.file for label in read_labels(tmp_path / "p")][-2:] == ["x2.plate1.png", "x2.plate2.png"]
