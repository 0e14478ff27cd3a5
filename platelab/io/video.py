"""Frames of a video file, decoded by OpenCV (its FFmpeg build reads MP4, MOV, MKV, WebM, AVI and more)."""

from __future__ import annotations

import functools
import logging
import math
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np

from platelab.io.atomic import atomic_path
from platelab.io.decode import MAX_PIXELS, VIDEO_SUFFIXES, ImageDecodeError

# FFmpeg prints its own complaints about a broken file on stderr; the file's one-line error says it instead.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

_T = TypeVar("_T")


@dataclass(frozen=True)
class VideoFrame:
    index: int  # frame number in the file, from 0
    seconds: float  # when it is shown
    image: np.ndarray  # BGR uint8
    fps: float  # the file's frame rate (0 when it does not say)


def opencv_path(path: str | Path) -> Any:
    """A path as OpenCV must be given it: its bytes. A name that is not valid UTF-8 (bytes from another system's
    encoding, decoded with surrogateescape) given as str crashes OpenCV's binding outright, killing the process;
    as the file system's own bytes it opens (on Windows, os.fsencode gives the UTF-8 that OpenCV passes on).
    Any: OpenCV's stubs name only str, though its binding takes bytes as well."""
    return os.fsencode(path)


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def video_frames(path: Path, name: str, every: int = 1, max_pixels: int = MAX_PIXELS) -> Iterator[VideoFrame]:
    """Every `every`-th frame of the video at path, from the first.

    Raises ImageDecodeError naming the file when it cannot be opened, holds no decodable frame, or its frames are
    over max_pixels. A video cut short ends at its last whole frame, and says so in a warning (logger
    "platelab") when its header counts more.
    """
    if not path.is_file():
        raise ImageDecodeError(name, "not a regular file" if path.exists() else "no such file")
    if path.stat().st_size == 0:
        raise ImageDecodeError(name, "empty file")
    boxes = _mp4_boxes_without_index(path)
    if boxes is not None and boxes > MAX_MP4_BOXES:
        raise ImageDecodeError(name, f"an MP4/MOV whose first {MAX_MP4_BOXES} boxes hold no index (moov): damaged")
    with _quiet_opencv():
        capture = _file_capture(path)
    unopened = "not a video OpenCV can decode"
    if not capture.isOpened() and boxes is not None:
        unopened = "an MP4/MOV without its index (moov): cut short, or its recording never finished"
    try:
        yield from _frames(capture, name, unopened, every, max_pixels)
    finally:
        capture.release()


def stream_frames(source: str, every: int = 1, max_pixels: int = MAX_PIXELS) -> Iterator[VideoFrame]:
    """Every `every`-th frame of a camera (its index: "0", "1", ...) or a stream OpenCV's FFmpeg opens (rtsp://,
    http://, a file), until it ends. Raises ImageDecodeError naming the source as video_frames does. Seconds count
    from the first frame: a camera's time stamps are its driver's clock (V4L2's: time since the machine booted).

    A network stream (a URL) that does not open, or stalls, within STREAM_TIMEOUT_S fails as one that cannot be
    opened or ends. OpenCV is called from a thread of the stream's own, so that Ctrl-C (KeyboardInterrupt) is raised
    here at once: Python cannot run its signal handler until OpenCV returns."""
    worker = _CallingThread()
    opened: list[cv2.VideoCapture] = []

    def open_source() -> cv2.VideoCapture:
        with _quiet_opencv():
            if source.isdecimal():
                opened.append(cv2.VideoCapture(int(source)))
            elif "://" in source:
                opened.append(cv2.VideoCapture(opencv_path(source), cv2.CAP_FFMPEG, _network_timeouts()))
            elif os.path.isfile(source):  # not a device (/dev/video0), which OpenCV's V4L2 backend opens
                opened.append(_file_capture(source))
            else:
                opened.append(cv2.VideoCapture(opencv_path(source)))
        return opened[-1]

    try:
        capture = worker.call(open_source)
        start: float | None = None
        for frame in _frames(capture, source, "cannot open it as a camera or a stream", every, max_pixels,
                             worker.call):
            start = frame.seconds if start is None else start
            yield replace(frame, seconds=frame.seconds - start)
    finally:
        # released by the stream's thread once a call it is still in returns (interrupted), never under it
        def release() -> None:
            for capture in opened:
                capture.release()

        worker.close(release)


def _file_capture(path: str | Path) -> cv2.VideoCapture:
    """A video file opened by OpenCV's FFmpeg alone: when FFmpeg fails, OpenCV's fallback backends try the file
    (its own MJPEG AVI reader prints "Unexpected element" lines on stderr, past its log level), and they open none
    that FFmpeg does not (of 2,353 videos, damaged and whole). An OpenCV built without FFmpeg keeps its own."""
    backend = cv2.CAP_FFMPEG if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG) else cv2.CAP_ANY
    return cv2.VideoCapture(opencv_path(path), backend)


# How long a network stream may keep the reader waiting to open or for its next frame before it counts as down
# (an error, or with --reconnect an opening again): FFmpeg's own wait is 30 s, long for a gate camera that has
# stalled, and a stream of a frame every few seconds still fits.
STREAM_TIMEOUT_S = 10.0


def _network_timeouts() -> list[int]:
    ms = round(STREAM_TIMEOUT_S * 1000)
    return [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]


class _CallingThread:
    """A daemon thread that runs the calls given to it in turn, each waited for in short naps (Ctrl-C is raised
    between them; a lock waited on without a timeout cannot be interrupted on Windows)."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="platelab-stream", daemon=True).start()

    def _run(self) -> None:
        while (item := self._calls.get()) is not None:
            call, future = item
            try:
                future.set_result(call())
            except BaseException as exc:  # handed to the caller, which raises it
                future.set_exception(exc)

    def call(self, function: Callable[[], _T]) -> _T:
        future: Future[_T] = Future()
        self._calls.put((function, future))
        while True:
            try:
                return future.result(timeout=0.2)
            except FutureTimeout:
                continue

    def close(self, last: Callable[[], Any], wait: float = 1.0) -> None:
        """last runs after the call in progress, if any; the thread then ends. Waited for up to wait seconds: a
        process that exits while the thread is still in OpenCV's release aborts, but a call stuck on a server
        that does not answer must not hold up Ctrl-C."""
        done: Future[Any] = Future()
        self._calls.put((last, done))
        self._calls.put(None)
        with suppress(FutureTimeout):
            done.result(timeout=wait)


# A whole MP4's top-level boxes are a handful (ftyp, free, mdat, moov), a fragmented one's index comes first: a file
# of 8-byte boxes with no index kept FFmpeg 29 s and the search below 22 s on 100 MB before it failed.
MAX_MP4_BOXES = 10_000


def _mp4_boxes_without_index(path: Path) -> int | None:
    """How many top-level boxes an MP4 or MOV holds, none of them moov (counted up to MAX_MP4_BOXES + 1): the
    index written when recording stops, missing from a phone's or a dashcam's file cut short (the battery died, a
    copy was interrupted). Its frames are there, but FFmpeg cannot find them without the index. None when the file
    has its index, or is no MP4 (its first box is no ftyp)."""
    try:
        with path.open("rb") as file:
            size = path.stat().st_size
            start, count = 0, 0
            while start + 8 <= size and count <= MAX_MP4_BOXES:
                file.seek(start)
                header = file.read(16)
                length, kind = int.from_bytes(header[:4], "big"), header[4:8]
                if (count == 0 and kind != b"ftyp") or kind == b"moov":
                    return None
                if length == 1 and len(header) == 16:
                    length = int.from_bytes(header[8:16], "big")
                if length < 8:  # 0: runs to the end of the file (an mdat being recorded); less: damage
                    break
                start, count = start + length, count + 1
            return count or None
    except OSError:
        return None


# OpenCV's log level is one for the whole process: two threads opening videos at once would each save the level the
# other set, and the one leaving last would leave OpenCV silent for good. The first in saves it, the last out puts it
# back (counted under a lock, not one opening at a time: opening a stream can take seconds).
_quiet_lock = threading.Lock()
_quiet_users = 0
_quiet_level_before = 0


@contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV's backends log each one that fails to open a source (a camera index out of range: a dozen lines);
    the source's one-line error says it instead."""
    global _quiet_users, _quiet_level_before
    with _quiet_lock:
        if _quiet_users == 0:
            _quiet_level_before = cv2.utils.logging.getLogLevel()
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        _quiet_users += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_users -= 1
            if _quiet_users == 0:
                cv2.utils.logging.setLogLevel(_quiet_level_before)


def _frames(capture: cv2.VideoCapture, name: str, unopened: str, every: int, max_pixels: int,
            call: Callable[[Callable[[], Any]], Any] = lambda function: function()) -> Iterator[VideoFrame]:
    """call runs each of OpenCV's calls on the capture (a stream: on the stream's thread); the caller releases
    the capture."""
    if every < 1:
        raise ValueError(f"every must be at least 1, got {every}")
    if not call(capture.isOpened):
        raise ImageDecodeError(name, unopened)
    # the size FFmpeg found on opening, checked before a frame is decoded: a 1.5 MB MJPEG of 16000x16000 frames
    # took 1.9 GB (its frame decoded, then converted to BGR) to be refused
    width, height = call(lambda: (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    if width * height > max_pixels:
        raise _over_limit(name, round(width), round(height), max_pixels)
    fps = call(lambda: capture.get(cv2.CAP_PROP_FPS))
    index, yielded, seconds = -1, 0, 0.0

    def grab() -> float | None:  # the grabbed frame's time in ms, None at the end
        return capture.get(cv2.CAP_PROP_POS_MSEC) if capture.grab() else None

    while (stamp := call(grab)) is not None:  # grab without converting the frames that are skipped
        index += 1
        seconds = _frame_seconds(stamp / 1000, seconds, index, fps)
        if index % every:
            continue
        ok, image = call(capture.retrieve)
        if not ok:
            break
        if image.shape[0] * image.shape[1] > max_pixels:  # a stream's size can be unknown until its first frame
            raise _over_limit(name, image.shape[1], image.shape[0], max_pixels)
        bgr = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        yield VideoFrame(index, seconds, bgr, fps)
        yielded += 1
    if not yielded:
        raise ImageDecodeError(name, "no frame could be decoded")
    count = call(lambda: capture.get(cv2.CAP_PROP_FRAME_COUNT))
    if _cut_short(index + 1, seconds, count, fps):
        logging.getLogger("platelab").warning(
            "%s: cut short or damaged: %d of its %d frames could be decoded; its plates are those seen up to "
            "%.2f s", name, index + 1, count, seconds)


def _over_limit(name: str, width: int, height: int, max_pixels: int) -> ImageDecodeError:
    return ImageDecodeError(name, f"frames of {width}x{height} pixels, over the {max_pixels} limit")


def _frame_seconds(stamp: float, before: float, index: int, fps: float) -> float:
    """When the frame at index is shown: its own time stamp. Counting frames (index / fps) drifts from it in a
    phone's video, whose frame rate varies (it slows in low light): a clip at 20 fps, then 10, then 5 had a plate
    seen from 0.6 s counted from 1.2 s. A stamp that is missing or does not move on is replaced by one frame on
    from the last."""
    if math.isfinite(stamp) and (stamp > before or (index == 0 and stamp >= 0)):
        return stamp
    return 0.0 if index == 0 else before + (1 / fps if fps > 0 else 0.0)


def _cut_short(frames: int, seconds: float, count: float, fps: float) -> bool:
    """Whether frames decoded up to seconds are fewer than the count the file's header gives, by more than a
    frame or a second: its tail is missing or damaged. Matroska and WebM headers give only a duration (count
    estimated from it at the nominal rate), so the decoded frames' time must fall short of it too: a video
    whose rate varies is not mistaken for one cut short."""
    if not count > frames + 1:  # 0 or less, NaN: not known (a stream, an image read as a video)
        return False
    return fps <= 0 or seconds + max(2 / fps, 1.0) < count / fps


# H.264 for annotated footage, chosen on benchmarks/video.py's 1080p clip with its plates outlined: CRF 23 (x264's
# default quality) at preset veryfast wrote it at 37% of mp4v's size (24% with sensor noise added) in 22-31 ms a
# frame on 2 cores (mp4v: 9-15), the plates' text as legible; faster and medium were no smaller, at two to four
# times the time.
# No B-frames: x264 times a B-frame stream's decoding (dts) by the frames two on, and an MP4's length is counted from
# those, so a variable frame rate's last frames fell past its end (a 0.9 s clip came out 0.6 s long); without them
# the file is a fifth larger.
H264_OPTIONS = {"crf": "23", "preset": "veryfast", "bf": "0"}
# MPEG's 90 kHz clock: whole ticks for a frame at 24, 25, 30 or 30000/1001 fps, and a time stamp's millisecond
_TIME_BASE = Fraction(1, 90_000)


@functools.cache
def h264_installed() -> bool:
    """Whether PyAV with its libx264 is installed (the video extra)."""
    try:
        import av
    except ImportError:
        return False
    return "libx264" in av.codecs_available  # a PyAV built on an FFmpeg without x264 has none


# False once this process has said that drawn videos are not H.264, or in a worker process whose parent says it for
# the whole run (parallel): the workers are spawned afresh, so each would say it again.
_h264_hint_due = True


def warn_without_h264() -> None:
    """Without H.264, drawn videos are MPEG-4 Part 2, which browsers and phones do not play: said once, in a warning
    naming what to install."""
    global _h264_hint_due
    if _h264_hint_due and not h264_installed():
        from platelab.utils.extras import install_hint

        _h264_hint_due = False
        logging.getLogger("platelab").warning("drawn videos are MPEG-4 Part 2, which browsers and phones do not "
                                              "play; for H.264: %s", install_hint("video"))


def leave_h264_warning_to_parent() -> None:
    """For a worker process: its parent gives warn_without_h264's warning once for the run."""
    global _h264_hint_due
    _h264_hint_due = False


class H264Writer:
    """An H.264 (yuv420p) MP4 through PyAV's FFmpeg, its index (moov) before the frames (faststart: a browser plays
    it as it downloads). Each frame is shown at its own time, so a phone's variable frame rate plays as recorded;
    the last for 1/fps. yuv420p keeps colour at half the size, so a frame of an odd width or height loses its last
    column or row, as OpenCV's MPEG-4 writer crops it. FFmpeg's failures are OSErrors naming the file, name."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int], name: Path) -> None:
        import av

        self._name = name
        width, height = size
        rate = Fraction(fps).limit_denominator(_TIME_BASE.denominator)
        self._frame_ticks = max(1, round(1 / (rate * _TIME_BASE)))
        self._start: float | None = None  # the first frame's time, shown at 0
        self._pts = -self._frame_ticks
        with self._named_errors():
            # str: PyAV gives FFmpeg a name as os.fsencode's bytes, so one that is not UTF-8 opens as with OpenCV
            self._container = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
            self._stream = self._container.add_stream("libx264", rate=rate, options=H264_OPTIONS)
            self._stream.width, self._stream.height = width - width % 2, height - height % 2
            self._stream.pix_fmt = "yuv420p"
            self._stream.codec_context.time_base = _TIME_BASE

    def write(self, image: np.ndarray, seconds: float) -> None:
        """image: BGR uint8, shown at seconds (from any start: the first frame is shown at 0)."""
        import av

        height, width = image.shape[:2]
        frame = av.VideoFrame.from_ndarray(image[: height - height % 2, : width - width % 2], format="bgr24")
        self._start = seconds if self._start is None else self._start
        pts = round((seconds - self._start) / _TIME_BASE)
        # a time that does not move on (a source without time stamps) is shown a frame at fps after the last
        self._pts = frame.pts = pts if pts > self._pts else self._pts + self._frame_ticks
        frame.time_base = _TIME_BASE
        with self._named_errors():
            self._container.mux(self._stream.encode(frame))

    def release(self) -> None:
        """Encode the frames x264 still holds and write the index; the file is closed even when that fails."""
        with self._named_errors():
            try:
                self._container.mux(self._stream.encode(None))
            finally:
                self._container.close()

    @contextmanager
    def _named_errors(self) -> Iterator[None]:
        import av

        try:
            yield
        except av.FFmpegError as exc:
            raise OSError(f"{self._name}: FFmpeg cannot write H.264 video here ({exc.strerror or exc})"
                          f"{_space_left(self._name)}") from exc


class CountingWriter:
    """A video writer's write, counting the frames it was given. seconds: when the frame is shown, which H.264
    keeps; OpenCV's MPEG-4 writer shows every frame for 1/fps."""

    def __init__(self, writer: H264Writer | cv2.VideoWriter) -> None:
        self._writer = writer
        self.written = 0

    def write(self, image: np.ndarray, seconds: float) -> None:
        if isinstance(self._writer, H264Writer):
            self._writer.write(image, seconds)
        else:
            self._writer.write(image)
        self.written += 1


@contextmanager
def video_writer(path: Path, fps: float, size: tuple[int, int]) -> Iterator[CountingWriter]:
    """An MP4 writer of (width, height) frames at fps, whose file appears at path only once it is complete: H.264
    with PyAV installed (H264Writer), else MPEG-4 Part 2 by OpenCV (its wheels write no H.264).

    OSError when the file written does not play back every frame given: FFmpeg ignores a failed write (a full
    disk) and OpenCV says nothing, leaving an MP4 without its index that no player opens."""
    with atomic_path(path) as temp:
        writer: H264Writer | cv2.VideoWriter
        if h264_installed():
            writer = H264Writer(temp, fps, size, path)
        else:
            warn_without_h264()
            writer = cv2.VideoWriter(opencv_path(temp), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
            if not writer.isOpened():
                raise OSError(f"{path}: OpenCV cannot write MPEG-4 video here{_space_left(path)}")
        counting = CountingWriter(writer)
        try:
            yield counting
        finally:
            writer.release()
        with _quiet_opencv():
            written = cv2.VideoCapture(opencv_path(temp))
        try:
            count = written.get(cv2.CAP_PROP_FRAME_COUNT) if written.isOpened() else 0
        finally:
            written.release()
        if count != counting.written:
            raise OSError(f"{path}: the video written is incomplete ({count:.0f} of {counting.written} frames "
                          f"play back){_space_left(path)}")


def _space_left(path: Path) -> str:
    """Why a write may have failed, when the folder's disk is (nearly) full."""
    import shutil

    try:
        return "; the disk is full" if shutil.disk_usage(path.parent).free < 2**20 else ""
    except OSError:
        return ""
