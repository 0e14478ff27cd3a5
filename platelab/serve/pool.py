"""Decoding and reading uploads in a few worker threads shared by every request.

onnxruntime sessions are safe to run from several threads at once, so one reader serves all requests; the
pool's size caps how many decodes and inferences run together, so a burst queues instead of thrashing the
CPU or memory. Work still queued when its request times out is cancelled; work already running finishes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np

from platelab.io.decode import ImageDecodeError, read_image
from platelab.io.results import ImageResult, PlateResult
from platelab.serve.upload import Upload


class PlateReading(Protocol):
    def read(self, image: np.ndarray) -> list[PlateResult]: ...


class ReadPool:
    def __init__(self, reader: PlateReading, workers: int, max_pixels: int) -> None:
        self.reader = reader
        self.max_pixels = max_pixels
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="platelab-read")

    def _read_now(self, upload: Upload) -> ImageResult:
        image = read_image(upload.data, name=upload.filename, max_pixels=self.max_pixels)
        return ImageResult(upload.filename, plates=tuple(self.reader.read(image)))

    async def read(self, upload: Upload) -> ImageResult:
        """The upload's plates; raises ImageDecodeError when it is not a usable image."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._read_now, upload)

    async def read_each(self, uploads: Sequence[Upload]) -> list[ImageResult]:
        """One result per upload, in order; a bad image gives a result with its error."""
        return list(await asyncio.gather(*(self._read_or_error(upload) for upload in uploads)))

    async def _read_or_error(self, upload: Upload) -> ImageResult:
        try:
            return await self.read(upload)
        except ImageDecodeError as exc:
            return ImageResult(upload.filename, error=str(exc))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
