"""What users on macOS and Windows, and anyone's odd file names, meet: names that are not UTF-8, names near the
file system's length limit, a desktop's junk files, glob matches on Windows, labels in another Unicode form, and a
stdout in a legacy code page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import unicodedata
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from platelab.api import read_paths
from platelab.cli import app
from platelab.eval.folders import evaluate
from platelab.io.atomic import atomic_write_bytes
from platelab.io.decode import list_images
from platelab.io.labels import CropLabel, labelled_file, write_crop_labels
from platelab.io.outputs import DRAWINGS, OutputError, claim_folder

NFD_CAFE = unicodedata.normalize("NFD", "café")
NFC_CAFE = unicodedata.normalize("NFC", "café")


def _make(path: Path, data: bytes = b"") -> Path:
    """Write path, or skip where the file system refuses its name (macOS refuses names that are not UTF-8)."""
    try:
        path.write_bytes(data)
    except (OSError, UnicodeEncodeError) as exc:
        pytest.skip(f"this file system refuses the name: {exc}")
    return path


def _png(size: tuple[int, int] = (96, 32)) -> bytes:
    ok, data = cv2.imencode(".png", np.full((size[1], size[0], 3), 200, np.uint8))
    assert ok
    return data.tobytes()


@pytest.mark.skipif(os.name == "nt", reason="Windows names are UTF-16: none is undecodable bytes")
def test_videos_and_wallpapers_named_in_bytes_that_are_not_utf8_open_instead_of_crashing(tmp_path: Path) -> None:
    # As str, such a name crashed OpenCV's binding (a segfault that ended the whole batch): run apart, so a crash
    # fails this test rather than the test run.
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (64, 48))
    for _ in range(3):
        writer.write(np.full((48, 64, 3), 128, np.uint8))
    writer.release()
    folder = os.fsencode(tmp_path)
    try:
        os.rename(os.fsencode(clip), folder + b"/clip\xff.avi")
        os.mkdir(folder + b"/walls")
        with open(folder + b"/walls/wall\xfe.png", "wb") as file:
            file.write(_png())
    except OSError as exc:
        pytest.skip(f"this file system refuses names that are not UTF-8: {exc}")
    script = textwrap.dedent("""
        import os, sys
        from pathlib import Path
        import numpy as np
        from platelab.io.video import video_frames, video_writer
        import platelab.synth.backgrounds as backgrounds

        folder = Path(sys.argv[1])
        clip = folder / os.fsdecode(b"clip\\xff.avi")
        print(sum(1 for _ in video_frames(clip, "clip")))
        with video_writer(folder / os.fsdecode(b"drawn\\xfd.mp4"), 5.0, (64, 48)) as writer:
            writer.write(np.zeros((48, 64, 3), np.uint8), 0.0)
        print((folder / os.fsdecode(b"drawn\\xfd.mp4")).stat().st_size > 0)
        backgrounds.WALLPAPER_DIRS = (folder / "walls",)
        print(len(backgrounds._wallpapers()))
    """)
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["3", "True", "1"]


def test_atomic_writes_beside_a_name_near_the_length_limit(tmp_path: Path) -> None:
    # the temporary name adds ~15 characters to the target's, which a 250-character name has no room for
    target = tmp_path / ("a" * 246 + ".txt")
    _make(target)
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_a_drawing_that_cannot_be_written_fails_its_own_file_and_the_batch_goes_on(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    near_limit = _make(photos / ("a" * 246 + ".jpg"), _png())  # drawn under its own name: fits
    too_long = _make(photos / ("b" * 251 + ".png"), _png())  # drawn as NAME.png.jpg: 259 characters, too many
    _make(photos / "c.jpg", _png())
    drawn = tmp_path / "drawn"
    results = list(read_paths([photos], draw=drawn, refine=False))
    assert [r.file for r in results] == [near_limit.name, too_long.name, "c.jpg"]
    assert results[0].error is None and (drawn / near_limit.name).is_file()
    assert results[1].error is not None and "drawing could not be written" in results[1].error
    assert results[2].error is None and (drawn / "c.jpg").is_file()
    assert sorted(p.name for p in drawn.iterdir()) == sorted([".platelab-output", near_limit.name, "c.jpg"])


def test_a_folder_holding_only_a_desktops_junk_takes_drawings_but_one_with_a_users_file_does_not(
    tmp_path: Path,
) -> None:
    junk = tmp_path / "made in finder"
    junk.mkdir()
    for name in (".DS_Store", "._IMG_0001.jpg", "Thumbs.db", "desktop.ini"):
        (junk / name).write_bytes(b"\x00\x05\x16\x07")
    claim_folder(junk, DRAWINGS)
    kept = tmp_path / "album"
    kept.mkdir()
    (kept / ".DS_Store").write_bytes(b"")
    (kept / "holiday.jpg").write_bytes(b"")
    with pytest.raises(OutputError, match="did not write"):
        claim_folder(kept, DRAWINGS)


def test_glob_matches_are_named_with_slashes_as_a_folders_files_are(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    if os.name == "nt":
        (tmp_path / "photos").mkdir()
        _make(tmp_path / "photos" / "car.png", _png())
        assert [name for _, name in list_images(["photos/*.png"])] == ["photos/car.png"]
        return
    # Windows' glob joins with "\": played here by a name holding one, with os.sep made "\" as on Windows
    _make(tmp_path / "photos\\car.png", _png())
    assert [name for _, name in list_images(["photos\\*.png"])] == ["photos\\car.png"]  # here, part of the name
    monkeypatch.setattr(os, "sep", "\\")
    assert [name for _, name in list_images(["photos\\*.png"])] == ["photos/car.png"]


def test_labelled_files_are_found_in_another_unicode_form_case_or_separator(tmp_path: Path) -> None:
    decomposed = _make(tmp_path / f"{NFD_CAFE}.png", _png())
    (tmp_path / "sub").mkdir()
    upper = _make(tmp_path / "sub" / "Plate.PNG", _png())
    assert labelled_file(tmp_path, f"{NFC_CAFE}.png").samefile(decomposed)
    assert labelled_file(tmp_path, "sub\\plate.png").samefile(upper)
    assert not labelled_file(tmp_path, "sub/other.png").exists()
    if not (tmp_path / "sub" / "plate.png").exists():  # a file system that tells case apart: two such are ambiguous
        _make(tmp_path / "sub" / "PLATE.png", _png())
        assert not labelled_file(tmp_path, "sub/plate.png").exists()


def test_eval_reads_crops_labelled_in_another_unicode_form_than_their_names_on_disk(tmp_path: Path) -> None:
    # macOS writes decomposed names; the labels typed elsewhere are composed
    _make(tmp_path / f"{NFD_CAFE}.png", _png())
    write_crop_labels(tmp_path / "labels.tsv", [CropLabel(f"{NFC_CAFE}.png", "ABC123", "us")])
    assert evaluate(tmp_path).unreadable == ()


def test_plain_output_to_a_legacy_code_page_escapes_what_it_cannot_hold(tmp_path: Path) -> None:
    # a Windows stdout redirected to a file is cp1252, which has no combining accent or emoji
    _make(tmp_path / f"{NFD_CAFE} 🚗.png", _png())
    _make(tmp_path / "z.png", _png())
    result = CliRunner(charset="cp1252").invoke(app, ["read", "--crops", str(tmp_path)])
    assert result.exception is None, result.output
    assert result.exit_code == 0
    names = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert names == ["cafe\\u0301 \\U0001f697.png", "z.png"]


def test_json_lines_name_every_awkward_file_on_one_line(tmp_path: Path) -> None:
    names = ["-plate.png", "with space.png", f"{NFD_CAFE}.png", "tab\there.png", "new\nline.png", "emoji 🚗.PNG"]
    for name in names:
        _make(tmp_path / name, _png())
    result = CliRunner().invoke(app, ["read", "--crops", "--json", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert sorted(json.loads(line)["file"] for line in lines) == sorted(names)
