"""Photos read by worker processes: the same results, in the same order, bad files included."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

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


def test_workers_given_a_prior_the_model_lacks_fail_as_one_process_does(tmp_path: Path) -> None:
    from platelab.predict.recognizer import PriorError

    photo = write_demo(tmp_path / "demo")
    with pytest.raises(PriorError, match="mars"):
        list(read_paths([photo], prior="mars", workers=2))
    result = CliRunner().invoke(app, ["read", str(photo), "--prior", "mars", "--workers", "2"])
    assert result.exit_code == 2 and "no format prior 'mars'" in result.output and "Traceback" not in result.output


def _dies_on_files_named_kill(task: tuple[Path, str, Path | None, int]) -> ImageResult:
    if task[0].name.startswith("kill"):
        os._exit(9)  # as the kernel's out-of-memory killer would end it: no exception, no result
    return parallel._read(task)


def test_a_process_that_dies_on_one_file_fails_that_file_alone(tmp_path: Path) -> None:
    photo = write_demo(tmp_path / "demo")
    names = ["a.jpg", "kill-1.jpg", "b.jpg", "c.jpg", "kill-2.jpg", "d.jpg"]
    for name in names:
        shutil.copy(photo, tmp_path / name)
    files = [(tmp_path / name, name) for name in names]
    options = PhotoReaderOptions(None, None, None, None, MIN_SCORE, True, MIN_CHARACTERS, False, 1)
    results = list(parallel.read_in_workers(files, options, None, 1, 2, read=_dies_on_files_named_kill))
    alone = next(iter(read_paths([photo])))
    assert [r.file for r in results] == names
    for result in results:
        if result.file.startswith("kill"):
            assert result.error == f"{result.file}: not read: the reading process died on it (out of memory?)"
        else:
            assert result.error is None and result.plates == alone.plates
