"""Photo and video files read by several processes at once (read_paths' workers).

One onnxruntime session in one process barely uses a second core (the US photos took 4.1 s with two threads,
4.3 s with one); most of a photo's time is decoding, warping and Python between the models. Processes of one
thread each do scale: two read the same photos in 2.4 s.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from platelab.api import PhotoReaderOptions, Reader, read_photo_file
from platelab.io.results import ImageResult

# each worker process's own reader, built once, and the files being read (which no drawing may replace)
_reader: Reader | None = None
_inputs: frozenset[Path] = frozenset()


def _start(options: PhotoReaderOptions, inputs: frozenset[Path]) -> None:
    global _reader, _inputs
    _reader, _inputs = options.build(threads=1), inputs


def _read(task: tuple[Path, str, Path | None, int]) -> ImageResult:
    if _reader is None:
        raise RuntimeError("a worker read a file before its reader was built")
    path, name, draw, every = task
    return read_photo_file(_reader, path, name, draw, every, inputs=_inputs)


def read_in_workers(files: list[tuple[Path, str]], options: PhotoReaderOptions, draw: Path | None, every: int,
                    workers: int, inputs: frozenset[Path] = frozenset()) -> Iterator[ImageResult]:
    """read_photo_file for each (path, name) in files, by `workers` processes, in the files' order (inputs: the
    files no drawing may replace). A model or prior that cannot be used raises here, as with one process, not as a
    broken pool. A worker that dies (killed for memory) fails the files not yet read, each with its error, rather
    than leaving the batch waiting for them."""
    options.build(threads=1)
    # spawn: a forked child would inherit the parent's threads (progress bars, onnxruntime's) mid-flight
    executor = ProcessPoolExecutor(min(workers, max(len(files), 1)), multiprocessing.get_context("spawn"),
                                   initializer=_start, initargs=(options, inputs))
    futures = [executor.submit(_read, (path, name, draw, every)) for path, name in files]
    try:
        for future, (_, name) in zip(futures, files):
            try:
                yield future.result()
            except BrokenProcessPool:
                yield ImageResult(name, error=f"{name}: not read: a reading process died (out of memory?)")
    finally:
        # a reader that stops early (`| head`) must not wait for a long video another worker is still reading;
        # the executor has no public way to stop its processes before Python 3.14
        for process in list(getattr(executor, "_processes", {}).values()):
            process.terminate()
        executor.shutdown(wait=True, cancel_futures=True)
