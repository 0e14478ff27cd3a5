"""Frames of a video file, decoded by OpenCV (its FFmpeg build reads MP4, MOV, MKV, WebM, AVI and more)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from platelab.io.atomic import atomic_path
from platelab.io.decode import MAX_PIXELS, VIDEO_SUFFIXES, ImageDecodeError

# FFmpeg prints its own complaints about a broken file on stderr; the file's one-line error says it instead.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


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
    over max_pixels. A video cut short ends at its last whole frame.
    """
    if not path.is_file():
        raise ImageDecodeError(name, "not a regular file" if path.exists() else "no such file")
    if path.stat().st_size == 0:
        raise ImageDecodeError(name, "empty file")
    with _quiet_opencv():
        capture = cv2.VideoCapture(opencv_path(path))
    yield from _frames(capture, name, "not a video OpenCV can decode", every, max_pixels)


def stream_frames(source: str, every: int = 1, max_pixels: int = MAX_PIXELS) -> Iterator[VideoFrame]:
    """Every `every`-th frame of a camera (its index: "0", "1", ...) or a stream OpenCV's FFmpeg opens (rtsp://,
    http://, a file), until it ends. Raises ImageDecodeError naming the source as video_frames does."""
    with _quiet_opencv():
        capture = cv2.VideoCapture(int(source)) if source.isdecimal() else cv2.VideoCapture(opencv_path(source))
    yield from _frames(capture, source, "cannot open it as a camera or a stream", every, max_pixels)


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


def _frames(capture: cv2.VideoCapture, name: str, unopened: str, every: int, max_pixels: int
            ) -> Iterator[VideoFrame]:
    if every < 1:
        capture.release()
        raise ValueError(f"every must be at least 1, got {every}")
    try:
        if not capture.isOpened():
            raise ImageDecodeError(name, unopened)
        fps = capture.get(cv2.CAP_PROP_FPS)
        index, yielded = -1, 0
        while capture.grab():  # grab without converting the frames that are skipped
            index += 1
            if index % every:
                continue
            ok, image = capture.retrieve()
            if not ok:
                break
            if image.shape[0] * image.shape[1] > max_pixels:
                raise ImageDecodeError(name, f"frames of {image.shape[1]}x{image.shape[0]} pixels, over the "
                                             f"{max_pixels} limit")
            seconds = index / fps if fps > 0 else capture.get(cv2.CAP_PROP_POS_MSEC) / 1000
            bgr = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            yield VideoFrame(index, seconds, bgr, fps)
            yielded += 1
        if not yielded:
            raise ImageDecodeError(name, "no frame could be decoded")
    finally:
        capture.release()


@contextmanager
def video_writer(path: Path, fps: float, size: tuple[int, int]) -> Iterator[cv2.VideoWriter]:
    """An MPEG-4 writer of (width, height) frames at fps, whose file appears at path only once it is complete."""
    with atomic_path(path) as temp:
        writer = cv2.VideoWriter(opencv_path(temp), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
        if not writer.isOpened():
            raise OSError(f"{path}: OpenCV cannot write MPEG-4 video here")
        try:
            yield writer
        finally:
            writer.release()
