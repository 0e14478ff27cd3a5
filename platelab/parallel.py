"""Photo and video files read by several processes at once (read_paths' workers).

One onnxruntime session in one process barely uses a second core (the US photos took 4.1 s with two threads,
4.3 s with one); most of a photo's time is decoding, warping and Python between the models. Processes of one
thread each do scale: two read the same photos in 2.4 s.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from tqdm import tqdm

from platelab.api import PhotoReaderOptions, Reader, read_photo_file
from platelab.io.results import ImageResult
from platelab.io.video import is_video, leave_h264_warning_to_parent, warn_without_h264

# each worker process's own reader, built once, the files being read (which no drawing may replace) and the
# folder for the plates' crops
_reader: Reader | None = None
_inputs: frozenset[Path] = frozenset()
_save_plates: Path | None = None


def _start(options: PhotoReaderOptions, inputs: frozenset[Path], save_plates: Path | None = None) -> None:
    global _reader, _inputs, _save_plates
    _reader, _inputs, _save_plates = options.build(threads=1), inputs, save_plates
    leave_h264_warning_to_parent()  # read_in_workers gives it once for the run; a fresh process would repeat it
    # tqdm's own lock is a multiprocessing semaphore, made by a video's (hidden) frame bar: a worker ended early
    # (_stop) leaves it behind, and Python warns of a leaked semaphore at exit; one process needs a thread's lock
    tqdm.set_lock(threading.RLock())


def _read(task: tuple[Path, str, Path | None, int]) -> ImageResult:
    if _reader is None:
        raise RuntimeError("a worker read a file before its reader was built")
    path, name, draw, every = task
    return read_photo_file(_reader, path, name, draw, every, inputs=_inputs, save_plates=_save_plates)


def _pool(workers: int, options: PhotoReaderOptions, inputs: frozenset[Path], save_plates: Path | None = None
          ) -> ProcessPoolExecutor:
    # spawn: a forked child would inherit the parent's threads (progress bars, onnxruntime's) mid-flight
    return ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"), initializer=_start,
                               initargs=(options, inputs, save_plates))


def _stop(executor: ProcessPoolExecutor) -> None:
    # a reader that stops early (`| head`) must not wait for a long video another worker is still reading;
    # the executor has no public way to stop its processes before Python 3.14
    for process in list(getattr(executor, "_processes", {}).values()):
        process.terminate()
    executor.shutdown(wait=True, cancel_futures=True)


def read_in_workers(files: list[tuple[Path, str]], options: PhotoReaderOptions, draw: Path | None, every: int,
                    workers: int, inputs: frozenset[Path] = frozenset(),
                    read: Callable[[tuple[Path, str, Path | None, int]], ImageResult] = _read,
                    save_plates: Path | None = None) -> Iterator[ImageResult]:
    """read_photo_file for each (path, name) in files, by `workers` processes, in the files' order (inputs: the
    files no drawing may replace; read: what a worker does with one file, which tests replace; save_plates: the
    folder for the plates' crops). A model or prior
    that cannot be used raises here, as with one process, not as a broken pool. When a process dies (killed for
    memory by one huge file), the files that were in its pool's hands are read again one at a time, so the file it
    died on is the only one that fails, with its error, and the rest go back to all the workers."""
    options.build(threads=1)
    if draw is not None and any(is_video(path) for path, _ in files):
        warn_without_h264()
    pending, alone = list(files), 0  # alone: how many of the pending files to read with one process
    executor: ProcessPoolExecutor | None = None
    try:
        while pending:
            batch = pending[:alone] if alone else pending
            size = 1 if alone else min(workers, len(batch))
            executor = _pool(size, options, inputs, save_plates)
            futures: list[Future[ImageResult]] = []
            done = 0
            try:
                futures.extend(executor.submit(read, (path, name, draw, every)) for path, name in batch)
                for future in futures:
                    yield future.result()
                    done += 1
            except BrokenProcessPool:
                if size == 1:  # the only process died on this file and on no other
                    name = batch[done][1]
                    yield ImageResult(name, error=f"{name}: not read: the reading process died on it (out of memory?)")
                    done += 1
                else:
                    # a pool holds at most 2 x its processes + 1 files at once (running or queued), besides those
                    # it finished out of order: the file a process died on is among them
                    finished = sum(f.done() and f.exception() is None for f in futures[done:])
                    alone = min(len(pending) - done, 2 * size + 1 + finished)
            if size == 1 and alone:  # a pool of one that read its whole batch leaves alone at 0
                alone = max(alone - done, 0)
            pending = pending[done:]
            _stop(executor)
            executor = None
    finally:
        if executor is not None:
            _stop(executor)
