"""Videos: plates followed from frame to frame and read once each, by the vote of their readings; bad videos fail
one by one."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from platelab.api import Reader, read_paths
from platelab.cli import app
from platelab.io import video
from platelab.io.decode import ImageDecodeError
from platelab.io.labels import read_labels
from platelab.io.outputs import OWNED_MARKER
from platelab.io.results import CharResult, PlateResult
from platelab.io.video import h264_installed, video_frames, video_writer
from platelab.predict.track import PlateTracker
from platelab.predict.vote import Tally, vote, voted
from platelab.synth.demo import write_demo
from platelab.utils.extras import install_hint

FRAMES, FPS = 12, 10.0


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """The demo photo panned a few pixels a frame, as an MJPEG AVI (OpenCV writes it without FFmpeg)."""
    folder = tmp_path_factory.mktemp("video")
    photo = cv2.imread(str(write_demo(folder / "demo")))
    height, width = photo.shape[:2]
    path = folder / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (width, height))
    for k in range(FRAMES):
        moved = np.float32([[1, 0, -6 * k], [0, 1, 2 * k]])
        writer.write(cv2.warpAffine(photo, moved, (width, height), borderMode=cv2.BORDER_REPLICATE))
    writer.release()
    return path, {label.plate for label in read_labels(folder / "demo")}


def test_each_plate_in_a_video_is_read_once_with_when_it_was_seen(clip: tuple[Path, set[str]]) -> None:
    path, truth = clip
    plates = Reader().read_video(path)
    assert {p.text for p in plates} == truth and len(plates) == len(truth)
    assert all(p.frames == (0, FRAMES - 1) for p in plates)
    assert all(p.seconds == pytest.approx((0.0, (FRAMES - 1) / FPS)) for p in plates)
    every_fourth = Reader().read_video(path, every=4)
    assert {p.text for p in every_fourth} == truth
    assert all(p.frames == (0, 8) for p in every_fourth)


def _plate(text: str, x: int, confidence: float = 0.9, width: int = 120) -> PlateResult:
    return PlateResult(text, confidence, tuple(CharResult(c, confidence) for c in text), (x, 100, width, 40),
                       ((x, 100), (x + width, 100), (x + width, 140), (x, 140)))


def test_a_tracks_readings_vote_and_a_plate_back_after_a_long_gap_is_a_new_track() -> None:
    tracker = PlateTracker(max_missed=2)
    readings = ["ABC123", "ABC123", "A8C123", "ABC123"]
    for frame, text in enumerate(readings):
        tracker.add(frame, frame / 10, [_plate(text, 10 * frame), _plate("XYZ789", 600 - 10 * frame)])
    for frame in range(4, 7):  # three frames with no plate: more than max_missed
        tracker.add(frame, frame / 10, [])
    tracker.add(7, 0.7, [_plate("ABC123", 40)])
    plates = tracker.plates()
    assert [(p.text, p.frames) for p in plates] == [("ABC123", (0, 3)), ("XYZ789", (0, 3)), ("ABC123", (7, 7))]
    assert plates[0].confidence == pytest.approx(0.9 * 3 / 4)  # one reading of four disagreed


def test_a_fast_plate_keeps_one_track_through_misreadings_and_missed_frames() -> None:
    # 120 px wide, 100 px a read frame: no two of its boxes overlap enough; the first two join by their text, then
    # its speed leads the track to it, through a misreading and past two frames it was not read in
    tracker = PlateTracker()
    seen = {0: "ABC123", 1: "ABC123", 2: "A8C123", 5: "ABC123", 6: "ABC123"}
    for frame in range(8):
        tracker.add(frame, frame / 10, [_plate(seen[frame], 100 * frame)] if frame in seen else [])
    assert [(p.text, p.frames) for p in tracker.plates()] == [("ABC123", (0, 6))]


def test_two_plates_side_by_side_never_share_a_track() -> None:
    tracker = PlateTracker()
    tracker.add(0, 0.0, [_plate("ABC123", 0), _plate("DEF456", 60)])  # boxes overlap by half
    tracker.add(1, 0.1, [_plate("ABC123", 5), _plate("DEF456", 65)])
    assert [(p.text, p.frames) for p in tracker.plates()] == [("ABC123", (0, 1)), ("DEF456", (0, 1))]


@pytest.mark.parametrize(
    ("gap", "moved", "frames"),
    [(1, 240, [(0, 1)]), (1, 241, [(0, 0), (1, 1)]), (2, 480, [(0, 2)]), (2, 481, [(0, 0), (2, 2)]),
     (1, 1000, [(0, 0), (1, 1)])],
)
def test_a_plate_read_alike_joins_a_track_only_within_two_widths_a_read_frame(gap: int, moved: int,
                                                                               frames: list[tuple[int, int]]) -> None:
    # _plate boxes are 120 px wide at one height, so their centres lie `moved` apart and never overlap here: the
    # text alone joins them, up to 2 widths (240 px) for each read frame between the two readings
    tracker = PlateTracker()
    tracker.add(0, 0.0, [_plate("ABC123", 0)])
    for frame in range(1, gap):
        tracker.add(frame, frame / 10, [])
    tracker.add(gap, gap / 10, [_plate("ABC123", moved)])
    assert [(p.text, p.frames) for p in tracker.plates()] == [("ABC123", seen) for seen in frames]


def test_two_plates_read_alike_in_one_frame_never_join_one_track() -> None:
    tracker = PlateTracker()
    tracker.add(0, 0.0, [_plate("ABC123", 0)])
    # both continue the track: one where it was, one 130 px on (no overlap, but read alike and near enough)
    tracker.add(1, 0.1, [_plate("ABC123", 0), _plate("ABC123", 130)])
    assert [(p.text, p.frames, p.box[0]) for p in tracker.plates()] == [("ABC123", (0, 1), 0),
                                                                       ("ABC123", (1, 1), 130)]


def test_a_tracks_speed_is_per_read_frame_across_frames_it_missed() -> None:
    # 100 px a read frame, unseen in frame 2: from frame 1 to 3 it moved 200 px in two read frames, so in frame 4 it
    # is expected at 400, where it is (misread, so only its place joins it). Taking 200 px as one frame's move would
    # expect it at 500, overlapping the plate too little, and start a second track.
    tracker = PlateTracker()
    seen = {0: ("ABC123", 0), 1: ("ABC123", 100), 3: ("ABC123", 300), 4: ("A8C123", 400)}
    for frame in range(5):
        tracker.add(frame, frame / 10, [_plate(*seen[frame])] if frame in seen else [])
    assert [(p.text, p.frames) for p in tracker.plates()] == [("ABC123", (0, 4))]


def test_a_tracks_speed_is_its_last_move_not_its_average() -> None:
    # 20 px a read frame, then 160 (the car pulls away): in frame 4 the plate is where its last move leads (360),
    # misread there; the average speed since its first reading (67 px a frame) would expect it at 267, too far off
    tracker = PlateTracker()
    seen = [("ABC123", 0), ("ABC123", 20), ("ABC123", 40), ("ABC123", 200), ("A8C123", 360)]
    for frame, (text, x) in enumerate(seen):
        tracker.add(frame, frame / 10, [_plate(text, x)])
    assert [(p.text, p.frames) for p in tracker.plates()] == [("ABC123", (0, 4))]


def test_a_plate_that_stops_keeps_its_track_where_it_was_last_seen() -> None:
    # moving 100 px a read frame, then halted at a barrier and misread there: the box its speed leads to is 100 px
    # on, but it overlaps its last box fully
    tracker = PlateTracker()
    for frame, (text, x) in enumerate([("ABC123", 0), ("ABC123", 100), ("A8C123", 100)]):
        tracker.add(frame, frame / 10, [_plate(text, x)])
    assert [(p.text, p.frames) for p in tracker.plates()] == [("ABC123", (0, 2))]


def test_plates_read_as_nothing_are_not_joined_by_their_empty_text() -> None:
    # two unread plates 200 px apart (within two widths) in successive frames, not overlapping: an empty text is no
    # evidence that they are one plate
    tracker = PlateTracker()
    tracker.add(0, 0.0, [_plate("", 0)])
    tracker.add(1, 0.1, [_plate("", 200)])
    assert [(p.text, p.frames) for p in tracker.plates()] == [("", (0, 0)), ("", (1, 1))]


def test_a_plate_growing_as_it_comes_closer_is_joined_within_two_of_its_new_widths() -> None:
    # 120 px wide, then 200 px wide 300 px further (centre to centre): within two widths of the larger box (400 px)
    # though not of the smaller (240 px)
    tracker = PlateTracker()
    tracker.add(0, 0.0, [_plate("ABC123", 0)])
    tracker.add(1, 0.1, [_plate("ABC123", 260, width=200)])
    assert [(p.text, p.frames) for p in tracker.plates()] == [("ABC123", (0, 1))]


def test_one_plate_in_a_frame_joins_one_track_only() -> None:
    # Two plates side by side, then only one seen, overlapping both tracks: it continues the one it overlaps most;
    # the other track must not take the same reading too (it would be seen in a frame it was not).
    tracker = PlateTracker()
    tracker.add(0, 0.0, [_plate("ABC123", 0), _plate("DEF456", 60)])
    tracker.add(1, 0.1, [_plate("ABC123", 20)])
    assert [(p.text, p.frames) for p in tracker.plates()] == [("ABC123", (0, 1)), ("DEF456", (0, 0))]


def test_plates_first_seen_in_one_frame_are_given_left_to_right() -> None:
    tracker = PlateTracker()
    tracker.add(0, 0.0, [_plate("XYZ789", 600), _plate("ABC123", 0), _plate("DEF456", 300)])
    assert [p.text for p in tracker.plates()] == ["ABC123", "DEF456", "XYZ789"]
    tracker.end()
    assert [p.text for p in tracker.passed()] == ["ABC123", "DEF456", "XYZ789"]


def test_of_equally_sure_readings_of_the_winning_text_the_first_is_given() -> None:
    # In the photo reader the first reading is the detector's own crop, in TTA the crop as it is, in a track the
    # first frame's: where a later reading gives the winning text just as surely, the plate keeps the first one's
    # box and characters.
    readings = [_plate("ABC123", 0, 0.8), _plate("ABC123", 10, 0.8), _plate("ABC128", 20, 0.5)]
    assert vote(readings)[0] == 0
    assert voted(readings).box == readings[0].box
    tally = Tally()
    for reading in readings:
        tally.add(reading)
    index, reading, _ = tally.winner()
    assert index == 0 and reading.box == readings[0].box


def test_a_plate_passing_by_with_dozens_of_misreadings_is_voted_without_forgetting_any() -> None:
    # The tally forgets only past MAX_TEXTS texts, far more than a passing plate gives: read weakly first, then 30
    # different misreadings, then twice more, the plate's text wins with all three of its readings counted.
    readings = [_plate("ABC123", 0, 0.3)] + [_plate(f"X{k:05d}", 0, 0.5) for k in range(30)]
    readings += [_plate("ABC123", 0, 0.3), _plate("ABC123", 0, 0.3)]
    best, confidence = vote(readings)
    assert readings[best].text == "ABC123"
    assert confidence == pytest.approx(0.9 / len(readings))


@pytest.mark.parametrize(("content", "reason"), [(b"", "empty file"), (b"just text", "not a video")])
def test_a_file_that_is_not_a_video_gets_a_one_line_error(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(content)
    with pytest.raises(ImageDecodeError, match=reason) as error:
        list(video_frames(path, "broken.mp4"))
    assert str(error.value).startswith("broken.mp4: ") and "\n" not in str(error.value)


def test_a_bad_video_fails_alone_and_a_video_is_no_crop(tmp_path: Path, clip: tuple[Path, set[str]]) -> None:
    path, truth = clip
    (tmp_path / "broken.mp4").write_text("not a video")
    result = CliRunner().invoke(app, ["read", "--json", "--every", "3", str(tmp_path / "broken.mp4"), str(path)])
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 1
    assert lines[0] == {"file": str(tmp_path / "broken.mp4"), "error": f"{tmp_path / 'broken.mp4'}: not a video "
                                                                      "OpenCV can decode"}
    assert {plate["text"] for plate in lines[1]["plates"]} == truth
    assert all(plate["frames"] == [0, 9] for plate in lines[1]["plates"])
    crops = CliRunner().invoke(app, ["read", "--crops", "--json", str(path)])
    assert crops.exit_code == 1 and "a video, not a cropped plate" in json.loads(crops.stdout)["error"]


def test_folders_list_videos_beside_photos(tmp_path: Path) -> None:
    from platelab.io.decode import list_images

    for name in ["a.jpg", "b.MP4", "c.mov", "notes.txt"]:
        (tmp_path / name).write_bytes(b"x")
    assert [name for _, name in list_images([tmp_path])] == ["a.jpg", "b.MP4", "c.mov"]


def test_draw_writes_a_video_of_the_frames_read_with_their_plates_outlined(
    clip: tuple[Path, set[str]], tmp_path: Path
) -> None:
    path, truth = clip
    drawn = tmp_path / "drawn"
    result = CliRunner().invoke(app, ["read", str(path), "--every", "3", "--draw", str(drawn), "--json"])
    assert result.exit_code == 0, result.output
    assert {p["text"] for p in json.loads(result.stdout)["plates"]} == truth
    # given by its absolute path, it is drawn at that path under the folder; no temporary file is left beside it
    [written] = [p for p in drawn.rglob("*") if p.is_file() and p.name != OWNED_MARKER]
    assert written == drawn.joinpath(*path.parts[1:]).with_name("clip.avi.mp4")
    frames = list(video_frames(written, "clip.mp4"))
    originals = list(video_frames(path, "clip.avi", every=3))
    assert len(frames) == len(originals) == 4
    assert frames[1].fps == pytest.approx(FPS / 3, rel=1e-3) and frames[1].image.shape == originals[1].image.shape
    for frame, original in zip(frames, originals):
        outline = np.abs(frame.image.astype(int) - original.image.astype(int)).max(axis=2) > 100
        assert outline.sum() > 500  # both plates' outlines and labels, not compression noise


def _top_level_boxes(data: bytes) -> list[bytes]:
    """The kinds of an MP4's top-level boxes, in order (each: its size in 4 bytes, then its kind)."""
    kinds, start = [], 0
    while start + 8 <= len(data):
        size = int.from_bytes(data[start : start + 4], "big")
        assert size >= 8, "a box of 64-bit size, or to the end of the file, in a small test video"
        kinds.append(data[start + 4 : start + 8])
        start += size
    return kinds


def test_a_drawn_video_is_h264_with_its_index_first_so_that_browsers_play_it(
    clip: tuple[Path, set[str]], tmp_path: Path
) -> None:
    av = pytest.importorskip("av")
    path, _ = clip
    drawn = tmp_path / "drawn.mp4"
    Reader().read_video(path, every=3, draw=drawn)
    with av.open(str(drawn)) as container:
        [stream] = container.streams.video
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert stream.frames == FRAMES // 3
        assert container.duration / 1e6 == pytest.approx(FRAMES / FPS)  # 4 frames read, each shown for 3
    kinds = _top_level_boxes(drawn.read_bytes())
    assert kinds.index(b"moov") < kinds.index(b"mdat")  # faststart: played as it downloads
    assert len(list(video_frames(drawn, "drawn.mp4"))) == FRAMES // 3  # and OpenCV decodes it


@pytest.fixture
def without_pyav(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """PyAV unimportable, as where the video extra is not installed."""
    monkeypatch.setitem(sys.modules, "av", None)
    monkeypatch.setattr(video, "_h264_hint_due", True)  # as in a process that has not drawn a video yet
    h264_installed.cache_clear()
    yield
    h264_installed.cache_clear()


def test_without_pyav_videos_are_drawn_as_mpeg4_and_one_line_says_what_to_install(
    clip: tuple[Path, set[str]], tmp_path: Path, without_pyav: None, caplog: pytest.LogCaptureFixture
) -> None:
    path, _ = clip
    second = shutil.copy(path, tmp_path / "second.avi")
    drawn = tmp_path / "drawn"
    with caplog.at_level(logging.WARNING, logger="platelab"):
        results = list(read_paths([path, second], draw=drawn, every=3))
    assert [r.error for r in results] == [None, None]
    written_files = sorted(drawn.rglob("*.mp4"))
    assert sorted(p.name for p in written_files) == ["clip.avi.mp4", "second.avi.mp4"]
    for written in written_files:
        capture = cv2.VideoCapture(str(written))
        assert int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little") == b"FMP4"  # FFmpeg's MPEG-4 Part 2
        assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == FRAMES // 3
        capture.release()
    [hint] = [r.getMessage() for r in caplog.records]
    assert "MPEG-4 Part 2" in hint and 'pip install -e ".[video]"' in hint and "\n" not in hint


def test_without_pyav_worker_processes_leave_the_hint_to_their_run(clip: tuple[Path, set[str]], tmp_path: Path) -> None:
    """Each worker process is started afresh: left to itself, each would say what to install, once per worker."""
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("a.avi", "b.avi"):
        shutil.copy(clip[0], videos / name)
    hidden = tmp_path / "without_pyav"
    hidden.mkdir()
    # the workers are spawned, so sys.modules cannot hide PyAV from them; a module that fails to import, first on
    # their path too, does
    (hidden / "av.py").write_text('raise ImportError("PyAV is not installed here")\n', encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(hidden),
                                                                             os.environ.get("PYTHONPATH")]))}
    drawn = tmp_path / "drawn"
    run = subprocess.run([sys.executable, "-m", "platelab", "read", str(videos), "--draw", str(drawn), "--workers",
                          "2"], capture_output=True, text=True, env=environment, timeout=300)
    assert run.returncode == 0, run.stderr
    for name in ("a.avi.mp4", "b.avi.mp4"):
        capture = cv2.VideoCapture(str(drawn / name))
        assert int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little") == b"FMP4"  # drawn without PyAV indeed
        capture.release()
    [hint] = [line for line in run.stderr.splitlines() if "MPEG-4 Part 2" in line]  # once, not once per worker
    assert hint.endswith(f"for H.264: {install_hint('video')}")
    assert "leaked semaphore" not in run.stderr  # tqdm's process lock, made in each worker that reads a video


@pytest.mark.parametrize("codec", ["h264", "mp4v"])
def test_a_video_of_odd_width_and_height_is_drawn_one_column_and_row_smaller(
    tmp_path: Path, codec: str, request: pytest.FixtureRequest
) -> None:
    if codec == "h264":
        pytest.importorskip("av")
    else:
        request.getfixturevalue("without_pyav")
    frames = [np.full((121, 161, 3), 60 * (k + 1), np.uint8) for k in range(3)]
    for frame in frames:  # a white last column and row, which the crop drops and a scaling would smear in
        frame[-1], frame[:, -1] = 255, 255
    drawn = tmp_path / "odd.mp4"
    with video_writer(drawn, FPS, (161, 121)) as writer:
        for k, frame in enumerate(frames):
            writer.write(frame, k / FPS)
    decoded = [f.image for f in video_frames(drawn, "odd.mp4")]
    assert [image.shape for image in decoded] == [(120, 160, 3)] * 3  # cropped, as yuv420p needs even sides
    for image, frame in zip(decoded, frames):
        assert np.abs(image.astype(int) - frame[:120, :160]).max() < 8


def test_a_phone_video_stored_sideways_is_read_and_drawn_upright(tmp_path: Path) -> None:
    # A phone held upright records its sensor's landscape pixels and a display matrix in the MP4 saying to turn
    # them a quarter clockwise, as its player does; OpenCV's FFmpeg backend turns them (CAP_PROP_ORIENTATION_AUTO,
    # on by default), so the plates are read, and outlined, in the frame as the phone shows it.
    av = pytest.importorskip("av")
    photo = cv2.imread(str(write_demo(tmp_path / "demo")))
    height, width = photo.shape[:2]
    stored = cv2.rotate(photo, cv2.ROTATE_90_COUNTERCLOCKWISE)
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10, options={"qscale": "2"})
        stream.width, stream.height, stream.pix_fmt = height, width, "yuv420p"
        stream.set_display_rotation(-90)  # FFmpeg's angles are counter-clockwise
        for k in range(3):
            frame = av.VideoFrame.from_ndarray(stored, format="bgr24")
            frame.pts = k
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with av.open(str(path)) as container:  # the file holds the sideways pixels and the matrix to turn them
        decoded = next(container.decode(video=0))
        assert (decoded.width, decoded.height, decoded.rotation) == (height, width, -90)
    assert [f.image.shape for f in video_frames(path, "phone.mp4")] == [photo.shape] * 3
    drawn = tmp_path / "drawn"
    result = CliRunner().invoke(app, ["read", "--json", "--draw", str(drawn), str(path)])
    assert result.exit_code == 0, result.output
    plates = json.loads(result.stdout)["plates"]
    labels = {label.plate: label for label in read_labels(tmp_path / "demo")}
    assert {p["text"] for p in plates} == set(labels)
    for plate in plates:  # each box where its plate is in the upright photo
        x, y, w, h = plate["box"]
        assert 0 <= x <= x + w <= width and 0 <= y <= y + h <= height
        assert np.abs(np.subtract(plate["box"], labels[plate["text"]].box)).max() < 15
    [written] = drawn.rglob("phone*.mp4")
    with av.open(str(written)) as container:  # drawn upright, with no matrix for a player to turn it by
        decoded = next(container.decode(video=0))
        assert (decoded.width, decoded.height, decoded.rotation) == (width, height, 0)


def test_a_tracker_gives_each_plate_once_when_its_track_closes() -> None:
    tracker = PlateTracker(max_missed=1)
    tracker.add(0, 0.0, [_plate("ABC123", 0), _plate("XYZ789", 600)])
    tracker.add(1, 0.1, [_plate("XYZ789", 600)])
    assert tracker.passed() == []
    tracker.add(2, 0.2, [_plate("XYZ789", 600)])  # ABC123 unseen for two read frames: more than max_missed
    assert tracker.passed() == []  # known at the next frame, which it could still have joined
    tracker.add(3, 0.3, [_plate("XYZ789", 600)])
    assert [p.text for p in tracker.passed()] == ["ABC123"]
    assert tracker.passed() == []
    tracker.end()
    [xyz] = tracker.passed()
    assert (xyz.text, xyz.frames) == ("XYZ789", (0, 3))
    assert [p.text for p in tracker.plates()] == ["ABC123", "XYZ789"]


@pytest.fixture(scope="module")
def passing_clip(clip: tuple[Path, set[str]]) -> Path:
    """The demo photo for 4 frames, then 8 frames of empty road: the plates pass before the video ends."""
    path = clip[0].parent / "passing.avi"
    frames = list(video_frames(clip[0], "clip.avi"))
    height, width = frames[0].image.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (width, height))
    for k in range(12):
        writer.write(frames[k].image if k < 4 else np.full((height, width, 3), 90, np.uint8))
    writer.release()
    return path


def test_a_stream_gives_each_plate_as_it_passes(passing_clip: Path, clip: tuple[Path, set[str]]) -> None:
    reader = Reader()
    frames_read: list[int] = []
    read_frame = reader.reader.read
    reader.reader.read = lambda image: frames_read.append(1) or read_frame(image)  # type: ignore[method-assign]
    passed = []
    for plate in reader.follow(str(passing_clip)):
        passed.append((plate.text, len(frames_read)))
    assert {text for text, _ in passed} == clip[1]
    # both plates were last seen in frame 3, gone for more than MAX_MISSED (5) read frames by frame 10, and given
    # as frame 10 was read, before the video's last frames
    assert [seen for _, seen in passed] == [11, 11] and len(frames_read) == 12


def test_cli_reads_a_stream_plate_by_plate(passing_clip: Path, clip: tuple[Path, set[str]]) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["read", "--stream", str(passing_clip), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(line["file"] == str(passing_clip) and len(line["plates"]) == 1 for line in lines)
    assert {line["plates"][0]["text"] for line in lines} == clip[1]
    assert all(line["plates"][0]["frames"] == [0, 3] for line in lines)
    both = runner.invoke(app, ["read", "--stream", str(passing_clip), str(passing_clip)])
    assert both.exit_code == 2 and "--stream reads a camera or a stream alone" in both.output
    absent = runner.invoke(app, ["read", "--stream", str(passing_clip.parent / "absent.mp4")])
    assert absent.exit_code == 1 and "absent.mp4: cannot open it as a camera or a stream" in absent.output


def test_a_stream_that_does_not_open_is_one_error_line_not_counted_as_files(tmp_path: Path) -> None:
    absent = tmp_path / "absent.mp4"
    for json_lines in ([], ["--json"]):
        result = CliRunner().invoke(app, ["read", "--stream", str(absent), *json_lines])
        assert result.exit_code == 1, result.output
        assert result.stderr == f"{absent}: cannot open it as a camera or a stream\n"
        if json_lines:  # the error is the JSON line a program reads too
            assert json.loads(result.stdout) == {"file": str(absent), "error": result.stderr.strip()}
        else:
            assert result.stdout == ""


def test_a_stream_that_fails_part_way_prints_its_plates_then_its_one_error_line(
    clip: tuple[Path, set[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(source: str, every: int = 1):  # six frames of the clip, then the camera's frames grow too big
        yield from list(video_frames(clip[0], "clip.avi"))[:6]
        raise ImageDecodeError(source, "frames of 9000x9000 pixels, over the limit")

    monkeypatch.setattr(video, "stream_frames", failing)
    result = CliRunner().invoke(app, ["read", "--stream", "rtsp://camera"])
    assert result.exit_code == 1, result.output
    assert {line.split("\t")[1] for line in result.stdout.splitlines()} == clip[1]
    assert result.stderr == "rtsp://camera: frames of 9000x9000 pixels, over the limit\n"


def test_ctrl_c_ends_a_stream_command_with_the_plates_in_view_printed(
    passing_clip: Path, clip: tuple[Path, set[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import platelab.io.video as video

    def camera(source: str, every: int = 1):  # four frames with both plates in view, then Ctrl-C
        for frame in video_frames(passing_clip, "passing.avi"):
            if frame.index == 4:
                raise KeyboardInterrupt
            yield frame

    monkeypatch.setattr(video, "stream_frames", camera)
    result = CliRunner().invoke(app, ["read", "--stream", "0", "--json"])
    assert result.exit_code == 0, result.output
    assert {json.loads(line)["plates"][0]["text"] for line in result.stdout.splitlines()} == clip[1]


def test_sigterm_ends_a_stream_command_as_ctrl_c_does(clip: tuple[Path, set[str]]) -> None:
    # a service manager's stop (systemd, docker stop) sends SIGTERM: the plates still in view must be printed first
    command = [sys.executable, "-m", "platelab", "read", "--stream", str(clip[0]), "--json", "--reconnect", "60"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        for line in process.stderr:  # the clip has been read whole, its plates still in view, when it is reopened
            if "opening it again" in line:
                break
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0
    assert {json.loads(line)["plates"][0]["text"] for line in out.splitlines()} == clip[1]


def test_a_stream_that_fails_gives_the_plates_in_view_first(clip: tuple[Path, set[str]],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import platelab.io.video as video

    def failing(source: str, every: int = 1):  # six frames of the clip, then the camera's frames grow too big
        yield from list(video_frames(clip[0], "clip.avi"))[:6]
        raise ImageDecodeError(source, "frames of 9000x9000 pixels, over the limit")

    monkeypatch.setattr(video, "stream_frames", failing)
    passed = []
    with pytest.raises(ImageDecodeError, match="over the limit"):
        for plate in Reader().follow("rtsp://camera"):
            passed.append(plate.text)
    assert set(passed) == clip[1]


def test_a_tracker_for_a_stream_forgets_the_plates_it_has_given() -> None:
    tracker = PlateTracker(max_missed=0, keep_closed=False)
    tracker.add(0, 0.0, [_plate("ABC123", 0)])
    tracker.add(1, 0.1, [])
    tracker.add(2, 0.2, [_plate("XYZ789", 600)])
    assert [p.text for p in tracker.passed()] == ["ABC123"]
    assert [p.text for p in tracker.plates()] == ["XYZ789"]  # only what is still in view is kept


def test_a_stream_that_drops_is_opened_again_and_counts_on(clip: tuple[Path, set[str]], passing_clip: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import platelab.io.video as video

    openings: list[str] = []

    def camera(source: str, every: int = 1):  # the clip, a failed opening, the clip again, then Ctrl-C
        openings.append(source)
        if len(openings) == 2:
            raise ImageDecodeError(source, "cannot open it as a camera or a stream")
        if len(openings) > 3:
            raise KeyboardInterrupt
        yield from video_frames(passing_clip, "passing.avi")

    slept: list[float] = []
    monkeypatch.setattr(video, "stream_frames", camera)
    monkeypatch.setattr(time, "sleep", slept.append)
    plates = []
    with pytest.raises(KeyboardInterrupt):  # the caller's to handle, after the plates in view
        for plate in Reader().follow("rtsp://camera", reconnect=2.5):
            plates.append(plate)
    assert slept == [2.5, 2.5, 2.5] and len(openings) == 4
    # each pass of the clip shows both plates in its first 4 frames; the second pass counts on from frame 12
    assert sorted((p.text, p.frames) for p in plates) == sorted(
        (text, frames) for text in clip[1] for frames in ((0, 3), (12, 15)))
    assert all(p.seconds is not None for p in plates)
    assert CliRunner().invoke(app, ["read", str(passing_clip), "--reconnect", "1"]).exit_code == 2


def test_a_wait_to_reconnect_that_cannot_be_slept_is_refused_before_anything_opens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # time.sleep raised OverflowError or ValueError after the stream had failed once, as a traceback
    monkeypatch.setattr(video, "stream_frames", lambda *args, **kwargs: pytest.fail("the stream was opened"))
    for wait in (math.inf, math.nan, -1.0, 1e12):
        with pytest.raises(ValueError, match="reconnect must be 0 to 86400 seconds"):
            Reader().follow("rtsp://camera", reconnect=wait)
    for wait in ("inf", "1e12"):
        result = CliRunner().invoke(app, ["read", "--stream", "rtsp://camera", "--reconnect", wait])
        assert result.exit_code == 2 and f"--reconnect: {float(wait):g} s; at most 86400" in result.output


def test_a_camera_that_is_not_there_fails_in_one_line_without_opencvs_log(capfd: pytest.CaptureFixture[str]) -> None:
    from platelab.io.video import stream_frames

    level = cv2.utils.logging.getLogLevel()
    with pytest.raises(ImageDecodeError, match=r"^99: cannot open it as a camera or a stream$"):
        next(stream_frames("99"))
    assert capfd.readouterr().err == ""  # OpenCV's backends each log their failure to open it unless quietened
    assert cv2.utils.logging.getLogLevel() == level


def test_a_plate_in_view_for_hours_is_tallied_in_constant_memory_with_the_same_vote() -> None:
    import tracemalloc

    def reading(step: int) -> PlateResult:
        return _plate("ABC123" if step % 3 else "A8C123", 100 + step % 2, 0.5 + (step * 7 % 10) / 25)

    tracker = PlateTracker(keep_closed=False)  # as a stream follows plates
    tracemalloc.start()
    for step in range(30_000):
        tracker.add(step, step / 30, [reading(step)])
        if step == 9_999:  # past Python's own warm-up of its allocators
            settled = tracemalloc.get_traced_memory()[0]
    grown = tracemalloc.get_traced_memory()[0] - settled
    tracemalloc.stop()
    assert grown < 20_000, grown  # a reading kept per frame would be some 20,000 x 1 kB
    (followed,) = tracker.plates()
    readings = [reading(step) for step in range(30_000)]
    best, confidence = vote(readings)
    assert followed.text == readings[best].text and followed.confidence == pytest.approx(confidence)
    assert followed.box == readings[best].box and followed.frames == (0, 29_999)
