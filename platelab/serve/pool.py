"""Decoding and reading uploads in a few worker threads shared by every request.

onnxruntime sessions are safe to run from several threads at once, so one reader serves all requests; the
pool's size caps how many decodes and inferences run together, so a burst queues instead of thrashing the
CPU or memory. Work still queued when its request times out is cancelled; work already running finishes. The queue
is bounded too: past max_queued uploads waiting, new work is refused (PoolFull) at once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

import numpy as np

from platelab.io.decode import ImageDecodeError, read_image
from platelab.io.results import ImageResult, PlateResult
from platelab.serve.upload import Upload


class PlateReading(Protocol):
    def read(self, image: np.ndarray) -> list[PlateResult]: ...


# Uploads that may wait for a free worker. Without a bound, requests arriving faster than the pool reads each held
# their body until their timeout: 400 uploads of 2.4 MB at 50 a second to one worker (10 s timeout) took the process
# from 116 to 730 MB, and the last waited 16 s for a 504; with this bound, 246 MB and the excess got 503 within a
# second. Refused at once, a client can back off or go elsewhere.
MAX_QUEUED = 32


class PoolFull(RuntimeError):
    """More uploads are waiting for the pool than it queues."""


class ReadPool:
    def __init__(self, reader: PlateReading, workers: int, max_pixels: int, max_queued: int = MAX_QUEUED) -> None:
        self.reader = reader
        self.max_pixels = max_pixels
        self.capacity = workers + max_queued  # uploads being read or waiting
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="platelab-read")
        # counted down by the worker threads as each upload finishes or is cancelled, so the count needs the lock
        self._lock = threading.Lock()
        self._pending = 0

    def _read_now(self, upload: Upload) -> ImageResult:
        image = read_image(upload.data, name=upload.filename, max_pixels=self.max_pixels)
        return ImageResult(upload.filename, plates=tuple(self.reader.read(image)))

    @property
    def pending(self) -> int:
        """Uploads submitted and neither finished nor cancelled."""
        return self._pending

    def _submit(self, uploads: Sequence[Upload]) -> list[asyncio.Future[ImageResult]]:
        """Every upload queued, or none (PoolFull); a batch larger than the whole pool is taken when it is idle."""
        with self._lock:
            if self._pending and self._pending + len(uploads) > self.capacity:
                raise PoolFull(f"{self._pending} images are being read or waiting (limit {self.capacity})")
            self._pending += len(uploads)
        futures = []
        for upload in uploads:
            future = self._executor.submit(self._read_now, upload)
            future.add_done_callback(self._finished)
            # cancelling the asyncio side (a timeout) cancels the work too while it is still queued
            futures.append(asyncio.wrap_future(future))
        return futures

    def _finished(self, _: Future[ImageResult]) -> None:
        with self._lock:
            self._pending -= 1

    async def read(self, upload: Upload) -> ImageResult:
        """The upload's plates; raises ImageDecodeError when it is not a usable image, PoolFull when too many
        uploads are waiting."""
        [future] = self._submit([upload])
        return await future

    async def read_each(self, uploads: Sequence[Upload]) -> list[ImageResult]:
        """One result per upload, in order; a bad image gives a result with its error. Raises PoolFull (reading
        none of them) when they do not fit in the queue."""
        futures = self._submit(uploads)
        results = await asyncio.gather(*futures, return_exceptions=True)
        return [_result_or_error(upload, result) for upload, result in zip(uploads, results)]

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _result_or_error(upload: Upload, outcome: ImageResult | BaseException) -> ImageResult:
    if isinstance(outcome, ImageDecodeError):
        return ImageResult(upload.filename, error=str(outcome))
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome
