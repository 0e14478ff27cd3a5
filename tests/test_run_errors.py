"""Damaged or mismatched inputs to the training commands (checkpoints, run configs, init_from, detector windows):
each is one line naming the file, with exit status 2, before anything is written or replaced."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

torch = pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

from platelab.cli import app  # noqa: E402
from platelab.train.detector import load_detector_config  # noqa: E402
from platelab.utils.config_file import ConfigError  # noqa: E402

DETECTOR = {"steps": 1, "batch_size": 2, "workers": 0, "val_size": 1, "val_every": 100, "checkpoint_every": 1,
            "warmup_steps": 1, "threads": 1}


def _recipe(path: Path, out: Path, fields: dict[str, object], **changes: object) -> Path:
    values = {"out_dir": str(out), **fields, **{k: str(v) if isinstance(v, Path) else v for k, v in changes.items()}}
    path.write_text(yaml.safe_dump(values))
    return path


def _one_line_error(args: list[str], *named: object) -> str:
    """The command ends with exit status 2 and one line that names each of named."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    for name in named:
        assert str(name) in lines[0], result.output
    return lines[0]


@pytest.mark.parametrize(("changes", "where"), [
    ({"window": [0, -1]}, "window"),
    ({"window": [100, 64]}, "window"),  # not a multiple of the backbone's stride 32
    ({"window": [1000, 1000]}, "window"),
    ({"window": [672, 384]}, "(top level)"),  # multiples of 32, larger than the 640x384 scenes
    ({"synth": {"scene": {"size": [10, 10]}}}, "(top level)"),  # the default window does not fit
    ({"window": None, "synth": {"scene": {"size": [100, 64]}}}, "(top level)"),  # the network cannot take it whole
])
def test_a_detector_window_the_network_cannot_train_on_is_refused_by_the_recipe(
    tmp_path: Path, changes: dict[str, object], where: str
) -> None:
    out = tmp_path / "run"
    recipe = _recipe(tmp_path / "d.yaml", out, DETECTOR, **changes)
    with pytest.raises(ConfigError, match="^" + re.escape(f"{recipe}: field {where}: ")):
        load_detector_config(recipe)
    _one_line_error(["train", "detector", "--config", recipe], f"{recipe}: field {where}: ")
    assert not out.exists()


def test_windows_and_scenes_the_network_takes_are_accepted(tmp_path: Path) -> None:
    for changes in ({}, {"window": [64, 64], "synth": {"scene": {"size": [128, 64]}}},
                    {"window": None, "synth": {"scene": {"size": [320, 192]}}}):
        load_detector_config(_recipe(tmp_path / "d.yaml", tmp_path / "run", DETECTOR, **changes))
