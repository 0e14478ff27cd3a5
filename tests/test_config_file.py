"""Config files that extend another: only the differences are written, the result is the whole config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from platelab.train.config import load_train_config
from platelab.train.detector import load_detector_config
from platelab.utils.config_file import ConfigError

REFERENCES = Path(__file__).resolve().parents[1] / "references"
RECIPES = REFERENCES / "recognizer"


def test_an_extending_file_overrides_fields_and_merges_nested_ones(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("seed: 3\nsteps: 100\nsynth:\n  camera:\n    lowres_p: 0.3\n    noise_p: 0.1\n")
    (tmp_path / "next.yaml").write_text("extends: base.yaml\nsteps: 200\nsynth:\n  camera:\n    noise_p: 0.2\n")
    cfg = load_train_config(tmp_path / "next.yaml")
    assert (cfg.seed, cfg.steps) == (3, 200)
    assert (cfg.synth.camera.lowres_p, cfg.synth.camera.noise_p) == (0.3, 0.2)


def test_a_loop_of_extends_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match="extends it back"):
        load_train_config(tmp_path / "a.yaml")


def test_the_shipped_recognizer_recipe_resolves_through_its_stages() -> None:
    cfg = load_train_config(RECIPES / "synthetic-ctc-stage6.yaml")
    assert cfg.init_from == Path("runs/recognizer-ctc-stage5/last.ckpt")
    assert (cfg.seed, cfg.steps, cfg.lr, cfg.head) == (8, 5500, 0.0003, "ctc")
    assert cfg.synth.camera.lowres_p == 0.35


@pytest.mark.parametrize("recipe", sorted((REFERENCES / "recognizer").glob("*.yaml")), ids=lambda p: p.name)
def test_every_recognizer_recipe_is_a_valid_config(recipe: Path) -> None:
    assert load_train_config(recipe).steps > 0


@pytest.mark.parametrize("recipe", sorted((REFERENCES / "detector").glob("*.yaml")), ids=lambda p: p.name)
def test_every_detector_recipe_is_a_valid_config(recipe: Path) -> None:
    assert load_detector_config(recipe).task == "detector"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("geometry: {focal: [0, 0]}\n", "field geometry.focal.0: Input should be greater than 0"),
        ("geometry: {yaw: [-89, 89]}\n", "field geometry.yaw.0: Input should be greater than or equal to -80"),
        ("geometry: {yaw: [25, -25]}\n", "field geometry.yaw: Value error, a range is (low, high)"),
        ("crop_size: [0, 64]\n", "field crop_size.0: Input should be greater than or equal to 8"),
        ("plate_height: [80, 44]\n", "field plate_height: Value error, a range is (low, high)"),
        ("scene: {size: [0, 0]}\n", "field scene.size.0"),
        ("scene: {plates: [3, 1]}\n", "field scene.plates: Value error, a range is (low, high)"),
        ("surround: {margin: [-0.5, -0.4]}\n", "field surround.margin.0: Input should be greater than or equal to 0"),
    ],
)
def test_an_engine_setting_out_of_its_range_is_refused_when_read(tmp_path: Path, body: str, problem: str) -> None:
    from platelab.synth.config import load_synth_config

    (tmp_path / "engine.yaml").write_text(body)
    with pytest.raises(ConfigError, match=re.escape(problem)):
        load_synth_config(tmp_path / "engine.yaml")
