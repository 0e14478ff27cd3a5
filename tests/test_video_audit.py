"""Videos as users have them: a phone's (rotated, variable frame rate), cut short, drawn onto a full disk, and
streams that never answer. Clips are written by OpenCV and their MP4 boxes edited here (no ffmpeg needed)."""

from __future__ import annotations

import logging
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from platelab.api import Reader
from platelab.io.decode import ImageDecodeError
from platelab.io.labels import read_labels
from platelab.io.video import MAX_MP4_BOXES, stream_frames, video_frames
from platelab.synth.demo import write_demo

FPS = 10.0


def _write(path: Path, fourcc: str, frames: list[np.ndarray], fps: float = FPS) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        pytest.skip(f"OpenCV cannot write {fourcc} here")
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def _noise(count: int, size: tuple[int, int] = (160, 120)) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (size[1], size[0], 3), np.uint8) for _ in range(count)]


def _set_frame_durations(path: Path, runs: list[tuple[int, float]]) -> None:
    """The MP4's stts box (how long each frame is shown) replaced with (count, times as long as written) runs: a
    variable frame rate, as a phone records. OpenCV writes the moov box after the frames, so only the boxes
    holding stts change size."""
    data = bytearray(path.read_bytes())
    at = data.find(b"stts") - 4
    old, written = struct.unpack_from(">I", data, at)[0], struct.unpack_from(">I", data, at + 20)[0]
    entries = [struct.pack(">II", count, round(written * factor)) for count, factor in runs]
    body = struct.pack(">4sII", b"stts", 0, len(entries)) + b"".join(entries)
    grow = 4 + len(body) - old
    moov = data.find(b"moov") - 4
    assert data.find(b"mdat") < moov < at
    for name in (b"moov", b"trak", b"mdia", b"minf", b"stbl"):
        box = data.find(name, moov) - 4
        struct.pack_into(">I", data, box, struct.unpack_from(">I", data, box)[0] + grow)
    data[at : at + old] = struct.pack(">I", 4 + len(body)) + body
    path.write_bytes(bytes(data))


def _set_rotation(path: Path, degrees: int) -> None:
    """The display matrix of the MP4's track set as a phone (or ffmpeg -metadata:s:v rotate=90) sets it."""
    data = bytearray(path.read_bytes())
    tkhd = data.find(b"tkhd")
    matrix = tkhd + 4 + 4 + (36 if data[tkhd + 4] == 1 else 20) + 8 + 8
    one = 0x10000
    a, b, c, d = {90: (0, one, -one, 0), 180: (-one, 0, 0, -one), 270: (0, -one, one, 0)}[degrees]
    struct.pack_into(">9i", data, matrix, a, b, 0, c, d, 0, 0, 0, 0x40000000)
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, set[str]]:
    folder = tmp_path_factory.mktemp("demo")
    photo = cv2.imread(str(write_demo(folder / "demo")))
    assert photo is not None
    return cv2.resize(photo, (640, 360), interpolation=cv2.INTER_AREA), {
        label.plate for label in read_labels(folder / "demo")}


def test_a_phone_video_with_a_variable_frame_rate_gives_each_plate_the_seconds_it_was_shown(
    tmp_path: Path, demo: tuple[np.ndarray, set[str]]
) -> None:
    photo, truth = demo
    road = np.full_like(photo, 90)
    path = _write(tmp_path / "phone.mp4", "mp4v", [photo if 10 <= k < 25 else road for k in range(40)])
    # 20 frames at 20 fps, 10 at 10 fps, 10 at 5 fps: the same 4 s as written, so the edit list still holds all
    _set_frame_durations(path, [(20, 0.5), (10, 1.0), (10, 2.0)])
    shown = [0.05 * k for k in range(20)] + [1.0 + 0.1 * k for k in range(10)] + [2.0 + 0.2 * k for k in range(10)]
    assert [f.seconds for f in video_frames(path, "phone.mp4")] == pytest.approx(shown)
    plates = Reader().read_video(path, every=3)  # frames 12, 15, ..., 24 of those showing the plates
    assert {p.text for p in plates} == truth
    assert all(p.frames == (12, 24) and p.seconds == pytest.approx((0.6, 1.4)) for p in plates)


def test_a_phone_video_tagged_as_rotated_is_read_upright(tmp_path: Path,
                                                         demo: tuple[np.ndarray, set[str]]) -> None:
    photo, _ = demo
    stored = cv2.rotate(photo, cv2.ROTATE_90_COUNTERCLOCKWISE)  # portrait, recorded as the sensor lies
    path = _write(tmp_path / "portrait.mp4", "mp4v", [stored] * 2)
    _set_rotation(path, 90)
    frames = list(video_frames(path, "portrait.mp4"))
    assert [f.image.shape for f in frames] == [photo.shape] * 2
    assert np.abs(frames[0].image.astype(int) - photo).mean() < 8  # upright, up to compression


def test_a_video_cut_short_gives_the_frames_before_the_cut_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    whole = _write(tmp_path / "whole.avi", "MJPG", _noise(40))
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 6 // 10])
    with caplog.at_level(logging.WARNING, logger="platelab"):
        assert len(list(video_frames(whole, "whole.avi"))) == 40
        assert not caplog.records
        frames = list(video_frames(cut, "cut.avi", every=3))
    assert 0 < frames[-1].index < 30
    [warning] = caplog.records
    assert warning.getMessage().startswith("cut.avi: cut short or damaged: ") and "of its 40 frames" in \
        warning.getMessage()


def test_an_mp4_cut_before_its_index_is_named_as_such(tmp_path: Path) -> None:
    whole = _write(tmp_path / "whole.mp4", "mp4v", _noise(10))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ImageDecodeError, match=r"^cut.mp4: an MP4/MOV without its index \(moov\)"):
        list(video_frames(cut, "cut.mp4"))


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
@pytest.mark.parametrize(("codec", "error"), [("h264", "FFmpeg cannot write H.264 video here (File too large)"),
                                              ("mp4v", "the video written is incomplete (")])
def test_a_drawing_that_the_disk_cannot_hold_is_an_error_not_a_broken_mp4(tmp_path: Path, codec: str,
                                                                          error: str) -> None:
    # a file size limit fails FFmpeg's writes as a full disk does; under OpenCV FFmpeg ignores the failure and
    # OpenCV says nothing, so the check must be of the file written. In a process of its own: the limit is the
    # process's. mp4v: PyAV made unimportable, as where the video extra is not installed.
    if codec == "h264":
        pytest.importorskip("av")
    script = """
import resource, signal, sys
from pathlib import Path
import numpy as np
if sys.argv[2] == "mp4v":
    sys.modules["av"] = None
from platelab.io.video import video_writer
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
frames = np.random.default_rng(0).integers(0, 256, (30, 120, 160, 3), np.uint8)
try:
    with video_writer(Path(sys.argv[1]), 10.0, (160, 120)) as writer:
        for k, frame in enumerate(frames):
            writer.write(frame, k / 10.0)
except OSError as exc:
    print(exc)
"""
    drawn = tmp_path / "drawn.mp4"
    done = subprocess.run([sys.executable, "-c", script, str(drawn), codec], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{drawn}: {error}")
    assert list(tmp_path.iterdir()) == []  # neither the broken file nor its temporary one


def test_a_drawn_phone_video_shows_each_frame_when_the_phone_did(tmp_path: Path) -> None:
    av = pytest.importorskip("av")
    path = _write(tmp_path / "phone.mp4", "mp4v", _noise(40))
    _set_frame_durations(path, [(20, 0.5), (10, 1.0), (10, 2.0)])  # 20 fps, then 10, then 5, as above
    drawn = tmp_path / "drawn.mp4"
    Reader().read_video(path, every=3, draw=drawn)
    shown = [f.seconds for f in video_frames(path, "phone.mp4", every=3)]
    assert [f.seconds for f in video_frames(drawn, "drawn.mp4")] == pytest.approx(shown, abs=1e-3)
    with av.open(str(drawn)) as container:  # the last frame read shown for 3 frames at the clip's 10 fps
        assert container.duration / 1e6 == pytest.approx(shown[-1] + 0.3, abs=1e-3)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers: a camera that has hung."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        try:
            while True:
                accepted.append(server.accept()[0])
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for connection in accepted:  # FFmpeg's opening, still waiting in its thread, ends
        connection.close()


def test_ctrl_c_stops_a_stream_that_does_not_answer_at_once(silent_server: int) -> None:
    import _thread

    # a run started in the background (`&`, nohup) inherits SIGINT ignored, and interrupt_main then does nothing:
    # the test is of Ctrl-C as a terminal delivers it
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        # FFmpeg waits 30 s for an answer before OpenCV returns; Python cannot raise KeyboardInterrupt until it does
        threading.Timer(0.5, _thread.interrupt_main).start()
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            next(stream_frames(f"http://127.0.0.1:{silent_server}/camera.mjpg"))
        assert time.monotonic() - start < 5
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_stream_from_a_file_still_gives_every_frame_and_its_end(tmp_path: Path) -> None:
    path = _write(tmp_path / "clip.avi", "MJPG", _noise(7))
    frames = list(stream_frames(str(path), every=2))
    assert [(f.index, f.seconds) for f in frames] == [(k, pytest.approx(k / FPS)) for k in (0, 2, 4, 6)]


class _V4l2Camera:
    """A webcam as OpenCV's V4L2 backend reports it: 30 fps, and each frame's CAP_PROP_POS_MSEC the time stamp its
    driver gave the buffer, on the kernel's monotonic clock (time since the machine booted: a day here)."""

    def __init__(self, *_: object) -> None:
        self.grabbed = -1

    def isOpened(self) -> bool:  # OpenCV's name
        return True

    def grab(self) -> bool:
        self.grabbed += 1
        return self.grabbed < 4

    def retrieve(self) -> tuple[bool, np.ndarray]:
        return True, np.zeros((24, 32, 3), np.uint8)

    def get(self, prop: int) -> float:
        if prop == cv2.CAP_PROP_POS_MSEC:
            return 0.0 if self.grabbed < 0 else 86_400_000.0 + 1000 / 30 * self.grabbed
        return 30.0 if prop == cv2.CAP_PROP_FPS else -1.0

    def release(self) -> None:
        pass


def test_a_cameras_seconds_count_from_its_first_frame_not_from_its_drivers_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cv2, "VideoCapture", _V4l2Camera)
    frames = list(stream_frames("0"))
    assert [f.seconds for f in frames] == pytest.approx([0, 1 / 30, 2 / 30, 3 / 30])


def test_a_video_that_cannot_be_read_is_not_said_to_have_failed_its_drawing(tmp_path: Path) -> None:
    from platelab.api import read_photo_file

    class Unreadable:
        def read_video(self, *args: object) -> list[object]:
            raise PermissionError(13, "Permission denied")

    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00" * 64)
    result = read_photo_file(Unreadable(), video, "clip.mp4", draw=None, every=1)  # type: ignore[arg-type]
    assert result.error is not None and "Permission denied" in result.error and "drawing" not in result.error


def test_a_network_stream_that_does_not_answer_fails_within_the_stream_timeout(
    silent_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import platelab.io.video as video

    monkeypatch.setattr(video, "STREAM_TIMEOUT_S", 1.0)  # 10 s by default; FFmpeg's own wait is 30 s
    start = time.monotonic()
    with pytest.raises(ImageDecodeError, match="cannot open it as a camera or a stream"):
        next(stream_frames(f"http://127.0.0.1:{silent_server}/camera.mjpg"))
    assert time.monotonic() - start < 6


def test_an_avi_whose_header_is_damaged_fails_in_one_line_with_nothing_else_on_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    whole = _write(tmp_path / "whole.avi", "MJPG", _noise(2))
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[:200])  # inside its hdrl list: OpenCV's own AVI reader complained of it
    with pytest.raises(ImageDecodeError, match=r"^cut.avi: not a video OpenCV can decode$"):
        list(video_frames(cut, "cut.avi"))
    with pytest.raises(ImageDecodeError, match=r"cut.avi: cannot open it as a camera or a stream$"):
        next(stream_frames(str(cut)))  # Reader().follow's
    assert capfd.readouterr().err == ""


def test_frames_over_the_pixel_limit_are_refused_before_one_is_decoded(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "clip.avi", "MJPG", _noise(2))  # 160x120
    opened = cv2.VideoCapture

    class Counted:
        """OpenCV's capture, counting the frames decoded: a 16000x16000 one took 1.9 GB just to be refused."""

        grabbed = 0

        def __init__(self, *args: object) -> None:
            self._capture = opened(*args)

        def grab(self) -> bool:
            Counted.grabbed += 1
            return self._capture.grab()

        def __getattr__(self, name: str) -> object:
            return getattr(self._capture, name)

    monkeypatch.setattr(cv2, "VideoCapture", Counted)
    with pytest.raises(ImageDecodeError, match=r"^clip.avi: frames of 160x120 pixels, over the 19199 limit$"):
        list(video_frames(path, "clip.avi", max_pixels=160 * 120 - 1))
    assert Counted.grabbed == 0


def test_an_mp4_of_endless_boxes_without_its_index_is_refused_before_ffmpeg_searches_them(tmp_path: Path) -> None:
    data = _write(tmp_path / "whole.mp4", "mp4v", _noise(2)).read_bytes()
    ftyp = data[: struct.unpack_from(">I", data)[0]]
    boxes = tmp_path / "boxes.mp4"
    # FFmpeg took 29 s over 100 MB of such boxes, and platelab's own search for the index 22 s more
    boxes.write_bytes(ftyp + struct.pack(">I4s", 8, b"free") * (MAX_MP4_BOXES + 1))
    with pytest.raises(ImageDecodeError, match=rf"^boxes.mp4: an MP4/MOV whose first {MAX_MP4_BOXES} boxes "
                                               r"hold no index \(moov\): damaged$"):
        list(video_frames(boxes, "boxes.mp4"))
