"""Frames of a video file, decoded by OpenCV (its FFmpeg build reads MP4, MOV, MKV, WebM, AVI and more)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from platelab.io.decode import MAX_PIXELS, VIDEO_SUFFIXES, ImageDecodeError

# FFmpeg prints its own complaints about a broken file on stderr; the file's one-line error says it instead.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


@dataclass(frozen=True)
class VideoFrame:
    index: int  # frame number in the file, from 0
    seconds: float  # when it is shown
    image: np.ndarray  # BGR uint8


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def video_frames(path: Path, name: str, every: int = 1, max_pixels: int = MAX_PIXELS) -> Iterator[VideoFrame]:
    """Every `every`-th frame of the video at path, from the first.

    Raises ImageDecodeError naming the file when it cannot be opened, holds no decodable frame, or its frames are
    over max_pixels. A video cut short ends at its last whole frame.
    """
    if every < 1:
        raise ValueError(f"every must be at least 1, got {every}")
    if not path.is_file():
        raise ImageDecodeError(name, "no such file")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ImageDecodeError(name, "not a video OpenCV can decode")
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
            yield VideoFrame(index, seconds, image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
            yielded += 1
        if not yielded:
            raise ImageDecodeError(name, "no frame could be decoded")
    finally:
        capture.release()
