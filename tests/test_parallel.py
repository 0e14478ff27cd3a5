"""Photos read by worker processes: the same results, in the same order, bad files included."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from platelab import parallel
from platelab.api import PhotoReaderOptions, read_paths
from platelab.cli import app
from platelab.io.outputs import OWNED_MARKER
from platelab.io.results import ImageResult
from platelab.predict.thresholds import MIN_CHARACTERS, MIN_SCORE
from platelab.synth.demo import write_demo


def test_workers_read_as_one_process_does_in_the_files_order(tmp_path: Path, bad_images: dict[str, Path]) -> None:
    folder = next(iter(bad_images.values())).parent
    photo = write_demo(tmp_path / "demo")
    for name in ("a.jpg", "m.jpg", "z.jpg"):
        shutil.copy(photo, folder / name)
    drawn = tmp_path / "drawn"
    alone = list(read_paths([folder]))
    together = list(read_paths([folder], workers=2, draw=drawn))
    assert together == alone
    assert sum(r.error is not None for r in together) >= 5 and sum(bool(r.plates) for r in together) == 3
    # every photo read was drawn by the workers (car.png as car.png.jpg, beside the folder's marker)
    expected = {r.file if r.file.endswith(".jpg") else f"{r.file}.jpg" for r in together if not r.error}
    assert {p.name for p in drawn.iterdir()} == expected | {OWNED_MARKER}


def test_workers_are_for_photos_not_crops(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["read", "--crops", str(tmp_path), "--workers", "2"])
    assert result.exit_code == 2 and "cropped plates (--crops) are read in batches" in result.output


def test_the_api_refuses_workers_for_crops_before_reading(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cropped plates are read in batches, not by worker processes"):
        next(read_paths([tmp_path], crops=True, workers=2))


def test_workers_given_a_prior_the_model_lacks_fail_as_one_process_does(tmp_path: Path) -> None:
    from platelab.predict.recognizer import PriorError

    photo = write_demo(tmp_path / "demo")
    with pytest.raises(PriorError, match="mars"):
        list(read_paths([photo], prior="mars", workers=2))
    result = CliRunner().invoke(app, ["read", str(photo), "--prior", "mars", "--workers", "2"])
    assert result.exit_code == 2 and "no format prior 'mars'" in result.output and "Traceback" not in result.output


def _dies_on_files_named_kill(task: tuple[Path, str, Path | None, int]) -> ImageResult:
    """Ends its process on a file named kill*, and on a file named once* the first time it is read (a process
    killed for another's memory)."""
    path = task[0]
    first_time = path.with_suffix(".read")
    if path.name.startswith("once") and not first_time.exists():
        first_time.touch()
        os._exit(9)
    if path.name.startswith("kill"):
        os._exit(9)  # as the kernel's out-of-memory killer would end it: no exception, no result
    return parallel._read(task)


def _read_dying(tmp_path: Path, names: list[str],
                monkeypatch: pytest.MonkeyPatch) -> tuple[list[ImageResult], list[int]]:
    """The files read by 2 workers that die as _dies_on_files_named_kill says, and the size of each pool started."""
    photo = write_demo(tmp_path / "demo")
    for name in names:
        shutil.copy(photo, tmp_path / name)
    sizes: list[int] = []
    start_pool = parallel._pool

    def counted_pool(size: int, *args: Any) -> Any:
        sizes.append(size)
        return start_pool(size, *args)

    monkeypatch.setattr(parallel, "_pool", counted_pool)
    options = PhotoReaderOptions(None, None, None, None, MIN_SCORE, True, MIN_CHARACTERS, False, 1)
    files = [(tmp_path / name, name) for name in names]

    def too_long(*_: object) -> None:
        raise TimeoutError("read_in_workers still reading after 120 s: a retry that never ends")

    # a mistake in the retries loops for ever rather than failing: the alarm makes it fail
    previous = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(120)
    try:
        return list(parallel.read_in_workers(files, options, None, 1, 2, read=_dies_on_files_named_kill)), sizes
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _sleeps_on_files_named_slow(task: tuple[Path, str, Path | None, int]) -> ImageResult:
    """Reads a file named slow* for a minute (a long video), the others at once."""
    if task[0].name.startswith("slow"):
        time.sleep(60)
    return parallel._read(task)


def test_a_reading_stopped_early_does_not_wait_for_a_file_a_worker_is_still_reading(tmp_path: Path) -> None:
    photo = write_demo(tmp_path / "demo")
    names = ["a.jpg", "slow.jpg"]
    for name in names:
        shutil.copy(photo, tmp_path / name)
    options = PhotoReaderOptions(None, None, None, None, MIN_SCORE, True, MIN_CHARACTERS, False, 1)
    results = parallel.read_in_workers([(tmp_path / name, name) for name in names], options, None, 1, 2,
                                       read=_sleeps_on_files_named_slow)
    assert next(results).file == "a.jpg"
    started = time.monotonic()
    results.close()  # `platelab read --workers 2 ... | head -1`
    assert time.monotonic() - started < 15


def test_a_process_that_dies_on_one_file_fails_that_file_alone(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    names = ["a.jpg", "kill-1.jpg", "b.jpg", "c.jpg", "kill-2.jpg", "d.jpg"]
    results, _ = _read_dying(tmp_path, names, monkeypatch)
    alone = next(iter(read_paths([tmp_path / "a.jpg"])))
    assert [r.file for r in results] == names
    for result in results:
        if result.file.startswith("kill"):
            assert result.error == f"{result.file}: not read: the reading process died on it (out of memory?)"
        else:
            assert result.error is None and result.plates == alone.plates


def test_after_a_death_no_file_is_to_blame_for_the_rest_go_back_to_all_the_workers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the pool of 2 holds at most 5 files at once besides those it finished: those are read again alone, and read
    # well, so the 14 after them go back to 2 processes
    names = ["a.jpg", "once.jpg", *(f"{i:02d}.jpg" for i in range(18))]
    results, sizes = _read_dying(tmp_path, names, monkeypatch)
    assert [r.file for r in results] == names and all(r.error is None and r.plates for r in results)
    assert sizes == [2, 1, 2]


def test_a_file_that_ends_a_pool_of_one_is_not_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results, sizes = _read_dying(tmp_path, ["kill.jpg"], monkeypatch)
    assert [r.error for r in results] == ["kill.jpg: not read: the reading process died on it (out of memory?)"]
    assert sizes == [1]
