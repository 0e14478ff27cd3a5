"""Config files that extend another: only the differences are written, the result is the whole config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from platelab.train.config import load_detector_config, load_train_config
from platelab.utils.errors import ConfigError

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
        ("geometry: {focal: [0.5, 2]}\n", "field geometry.focal.0: Input should be greater than or equal to 1"),
        ("scene: {camera_distance: [0.1, 1]}\n",
         "field scene.camera_distance.0: Input should be greater than or equal to 0.5"),
        ("geometry: {yaw: [-89, 89]}\n", "field geometry.yaw.0: Input should be greater than or equal to -80"),
        ("geometry: {yaw: [25, -25]}\n", "field geometry.yaw: Value error, a range is (low, high)"),
        ("crop_size: [0, 64]\n", "field crop_size.0: Input should be greater than or equal to 8"),
        ("plate_height: [80, 44]\n", "field plate_height: Value error, a range is (low, high)"),
        ("scene: {size: [0, 0]}\n", "field scene.size.0"),
        ("scene: {plates: [3, 1]}\n", "field scene.plates: Value error, a range is (low, high)"),
        ("surround: {margin: [-0.5, -0.4]}\n", "field surround.margin.0: Input should be greater than or equal to 0"),
        ("surround: {body_colours: ['#ffffff', white]}\n",
         "field surround.body_colours.1: Value error, colour must look like '#1a2b3c', got 'white'"),
        ("scene: {surround: {body_colours: ['#fff']}}\n", "field scene.surround.body_colours.0: Value error"),
        ("light: {contrast_p: 1, contrast: [0, 0]}\n",
         "field light.contrast.0: Input should be greater than or equal to 0.1"),
        ("camera: {lowres_scale: [0.02, 0.5]}\n",
         "field camera.lowres_scale.0: Input should be greater than or equal to 0.1"),
        ("scene: {plate_width: [1300, 2000]}\n", "plate_width starts at 1300 px: no plate fits a scene 1280 px wide"),
        ("scene_crop: {size: [160, 96], plate_width: [200, 300]}\n",
         "plate_width starts at 200 px: no plate fits a scene 160 px wide"),
    ],
)
def test_an_engine_setting_out_of_its_range_is_refused_when_read(tmp_path: Path, body: str, problem: str) -> None:
    from platelab.synth.config import load_synth_config

    (tmp_path / "engine.yaml").write_text(body)
    with pytest.raises(ConfigError, match=re.escape(problem)):
        load_synth_config(tmp_path / "engine.yaml")


def test_settings_at_the_edges_the_validator_accepts_render(tmp_path: Path) -> None:
    """Taller renders than the engine's levels, the thinnest upright bars: accepted, so they must draw."""
    import numpy as np

    from platelab.synth.config import load_synth_config
    from platelab.synth.crops import CropGenerator
    from platelab.synth.scene import render_scene
    from platelab.synth.style import select_styles

    (tmp_path / "engine.yaml").write_text(
        "scene: {render_height: [300, 512], plate_width: [600, 900], plates: [1, 1], empty_p: 0}\n"
        "surround: {occlusion_p: 1, occlusion_width: 0.1}\n"
    )
    cfg = load_synth_config(tmp_path / "engine.yaml")
    styles = select_styles(["us-texas"])
    scene = render_scene(styles, np.random.default_rng(0), cfg.scene, cfg.light, cfg.camera)
    assert len(scene.plates) == 1 and scene.image.std() > 0
    crops = [CropGenerator(styles, cfg, seed=1).sample(i) for i in range(12)]
    assert all(crop.image.std() > 0 and crop.text for crop in crops)


@pytest.mark.parametrize(("body", "problem"), [
    # an unknown key, with the field it most likely meant
    ("warmup_step: 3\n", "field warmup_step: Extra inputs are not permitted; did you mean 'warmup_steps'?"),
    ("synth: {light: {glare_pp: 0}}\n",
     "field synth.light.glare_pp: Extra inputs are not permitted; did you mean 'glare_p'?"),
    ("bogus_thing: 1\n", "field bogus_thing: Extra inputs are not permitted"),
    # a setting out of its range
    ("lr: 0\n", "field lr: Input should be greater than 0"),
    ("label_smoothing: 1\n", "field label_smoothing: Input should be less than 1"),
    ("val_size: 0\n", "field val_size: Input should be greater than or equal to 1"),
    ("stop_after: 0\n", "field stop_after: Input should be greater than or equal to 1"),
    ("val_real: [a/crops, b/crops]\n",
     "field val_real: Value error, two real sets named crops; give folders of different names"),
])
def test_a_recipe_mistake_is_one_line_naming_the_field(tmp_path: Path, body: str, problem: str) -> None:
    (tmp_path / "recipe.yaml").write_text(body)
    with pytest.raises(ConfigError) as error:
        load_train_config(tmp_path / "recipe.yaml")
    assert str(error.value) == f"{tmp_path / 'recipe.yaml'}: {problem}"


@pytest.mark.parametrize(("body", "problem"), [
    ("window: [320, 176]\n",
     "field window: Value error, window [320, 176]: each side must be a positive multiple of 32"),
    ("window: [0, 192]\n", "field window: Value error, window [0, 192]: each side must be a positive multiple of 32"),
    ("window: [672, 384]\n",
     "window [672, 384] is larger than the scenes it is cut from (synth.scene.size [640, 384])"),
    ("synth: {scene: {size: [640, 400]}}\n",
     "synth.scene.size (the detector's input) [640, 400]: each side must be a positive multiple of 32"),
])
def test_a_detector_window_or_input_it_cannot_take_is_one_line_naming_it(
    tmp_path: Path, body: str, problem: str
) -> None:
    (tmp_path / "recipe.yaml").write_text(body)
    with pytest.raises(ConfigError) as error:
        load_detector_config(tmp_path / "recipe.yaml")
    assert problem in str(error.value) and len(str(error.value).splitlines()) == 1


def test_a_window_as_large_as_the_scenes_is_the_whole_scene(tmp_path: Path) -> None:
    (tmp_path / "recipe.yaml").write_text("window: [640, 384]\n")
    assert load_detector_config(tmp_path / "recipe.yaml").window == (640, 384)


def test_a_file_nested_deeper_than_the_parser_goes_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "recipe.yaml").write_text("styles: " + "[" * 3000 + "]" * 3000 + "\n")
    with pytest.raises(ConfigError, match=r"recipe\.yaml: cannot read") as error:
        load_train_config(tmp_path / "recipe.yaml")
    assert len(str(error.value).splitlines()) == 1


def test_extends_naming_no_file_a_link_loop_or_a_chain_too_long_is_a_clear_error(tmp_path: Path) -> None:
    for extends in ("null", "[a.yaml, b.yaml]", '"a\\0b.yaml"', "loop.yaml"):
        (tmp_path / "recipe.yaml").write_text(f"extends: {extends}\n")
        (tmp_path / "loop.yaml").unlink(missing_ok=True)
        (tmp_path / "loop.yaml").symlink_to("loop.yaml")
        with pytest.raises(ConfigError, match=r"recipe\.yaml: field extends|loop\.yaml"):
            load_train_config(tmp_path / "recipe.yaml")
    for i in range(400):  # deeper than Python's recursion reaches
        (tmp_path / f"s{i}.yaml").write_text(f"extends: s{i + 1}.yaml\n")
    with pytest.raises(ConfigError, match="files deep"):
        load_train_config(tmp_path / "s0.yaml")


def test_a_fifo_or_device_is_refused_unread(tmp_path: Path) -> None:
    import os
    import threading

    fifo = tmp_path / "base.yaml"
    os.mkfifo(fifo)
    (tmp_path / "recipe.yaml").write_text("extends: base.yaml\n")
    writer = threading.Thread(target=lambda: fifo.write_text("seed: 1\n"), daemon=True)
    writer.start()  # a reader that opened it would get a recipe, then wait on the next writer for ever
    try:
        for path in (tmp_path / "recipe.yaml", fifo):
            with pytest.raises(ConfigError, match=r"base\.yaml: cannot read: not a regular file"):
                load_train_config(path)
    finally:
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # lets the writer finish
        writer.join(5)
    (tmp_path / "recipe.yaml").write_text("extends: /dev/zero\n")
    with pytest.raises(ConfigError, match="not a regular file"):
        load_train_config(tmp_path / "recipe.yaml")


def test_aliases_in_both_files_of_an_extends_are_merged_once_each(tmp_path: Path) -> None:
    # each level names the one below nine times: merged afresh at every use, nine levels took 9**9 merges (hours);
    # three levels show it at once
    bomb = "x0: &x0 {a: 1}\n" + "".join(
        f"x{i}: &x{i} {{" + ", ".join(f"k{j}: *x{i - 1}" for j in range(9)) + "}\n" for i in range(1, 4))
    (tmp_path / "base.yaml").write_text(bomb)
    (tmp_path / "recipe.yaml").write_text("extends: base.yaml\n" + bomb)
    from platelab.utils.config_file import file_fields

    fields = file_fields(tmp_path / "recipe.yaml")
    assert fields["x3"]["k0"] is fields["x3"]["k8"]  # one merge, as one alias


def test_a_quoted_key_with_a_line_break_is_named_on_one_line(tmp_path: Path) -> None:
    (tmp_path / "recipe.yaml").write_text('synth:\n  "noise\\np": 1\n')
    with pytest.raises(ConfigError) as error:
        load_train_config(tmp_path / "recipe.yaml")
    assert str(error.value) == f"{tmp_path / 'recipe.yaml'}: field synth.noise\\np: Extra inputs are not permitted"


def test_minus_zero_is_read_as_zero(tmp_path: Path) -> None:
    """-0.0 passes a minimum of 0, then numpy refuses to draw from (0.0, -0.0) part-way through a run."""
    import math

    from platelab.synth.config import load_synth_config

    (tmp_path / "synth.yaml").write_text("geometry: {aspect_jitter: -0.0}\n")
    assert math.copysign(1.0, load_synth_config(tmp_path / "synth.yaml").geometry.aspect_jitter) == 1.0


@pytest.mark.parametrize("body", ["seed: -1", "seed: 4294967296", "batch_size: 1000000000000000000000000000000"])
def test_a_seed_or_batch_a_run_cannot_take_is_refused_when_read(tmp_path: Path, body: str) -> None:
    for load in (load_train_config, load_detector_config):
        (tmp_path / "recipe.yaml").write_text(f"{body}\n")
        with pytest.raises(ConfigError, match=f"field {body.split(':')[0]}: Input should be"):
            load(tmp_path / "recipe.yaml")


LONG = "x" * 10_000
CUT = f"'{'x' * 58}…{'x' * 19}'"  # its quoted start and end


@pytest.mark.parametrize(("body", "problem"), [
    # a value a validator quotes, a key nobody knows, a file to extend: each cut, with its length
    (f"charset: {LONG}\n", f"field charset: Value error, charset must hold distinct characters and not '_': "
                           f"{CUT} (10000 characters)"),
    (f"synth: {{surround: {{body_colours: ['{LONG}']}}}}\n",
     f"field synth.surround.body_colours.0: Value error, colour must look like '#1a2b3c', got {CUT} "
     "(10000 characters)"),
    (f"synth:\n  '{'k' * 500}': 1\n",
     f"field synth.'{'k' * 58}…{'k' * 19}' (500 characters): Extra inputs are not permitted"),
    (f"extends: {LONG}\n", f"extends {CUT} (10000 characters), which cannot be read: File name too long"),
])
def test_a_long_value_is_cut_in_the_one_line_error(tmp_path: Path, body: str, problem: str) -> None:
    """A 10,000-character string where a number or a colour was expected is echoed in a line a user can read."""
    (tmp_path / "recipe.yaml").write_text(body)
    with pytest.raises(ConfigError) as error:
        load_train_config(tmp_path / "recipe.yaml")
    assert str(error.value) == f"{tmp_path / 'recipe.yaml'}: {problem}"


def test_an_extended_file_not_there_is_said_of_the_file_naming_it(tmp_path: Path) -> None:
    (tmp_path / "recipe.yaml").write_text("extends: gone.yaml\n")
    with pytest.raises(ConfigError) as error:
        load_train_config(tmp_path / "recipe.yaml")
    problem = "extends gone.yaml, which cannot be read: No such file or directory"
    assert str(error.value) == f"{tmp_path / 'recipe.yaml'}: {problem}"
