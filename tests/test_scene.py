"""Plate surroundings and detection scenes: determinism and that every label lands on its plate."""

from __future__ import annotations

import numpy as np
import pytest

from platelab.synth.camera import CameraConfig, LightConfig
from platelab.synth.render import render_plate
from platelab.synth.scene import SceneConfig, render_scene
from platelab.synth.style import Background, PlateStyle, builtin_styles
from platelab.synth.surroundings import SurroundConfig, surround

MAGENTA = np.array([255, 0, 255])  # BGR; no car paint, procedural background or lamp has it
PLAIN_SURROUND = SurroundConfig(frame_p=0, screw_p=0, occlusion_p=0)


def _without_effects(model: type[LightConfig] | type[CameraConfig]):
    return model(**{name: 0.0 for name in model.model_fields if name.endswith("_p")})


NO_LIGHT, NO_CAMERA = _without_effects(LightConfig), _without_effects(CameraConfig)


@pytest.fixture(scope="module")
def magenta_style() -> PlateStyle:
    """A plate that is magenta all the way to its edges, so its corners can be found by colour."""
    base = builtin_styles()["eu-de"]
    return base.model_copy(
        update={
            "background": Background(colour="#ff00ff"),
            "border": None,
            "printed": [],
            "overlays": [],
            "bolt_holes": [],
            "gap_graphics": [],
            "emboss": 0.0,
        }
    )


def _scene_config(**changes) -> SceneConfig:
    base = {
        "size": (480, 320),
        "plate_width": (60.0, 300.0),
        "photo_p": 0.0,
        "distractor_p": 0.0,
        "night_p": 0.0,
        "empty_p": 0.0,
        "surround": PLAIN_SURROUND,
    }
    return SceneConfig(**{**base, **changes})


def _colour_distance(image: np.ndarray, point: np.ndarray) -> float:
    x, y = np.floor(point).astype(int)
    return float(np.abs(image[y, x].astype(int) - MAGENTA).max())


def _plate_view(around) -> tuple[int, int, int, int]:
    x0, y0 = around.quad[0].astype(int)
    x1, y1 = around.quad[2].astype(int)
    return x0, y0, x1, y1


def test_same_seed_gives_identical_scene() -> None:
    styles = list(builtin_styles().values())
    cfg = SceneConfig(size=(480, 320))
    a = render_scene(styles, np.random.default_rng(7), cfg, LightConfig(), CameraConfig())
    b = render_scene(styles, np.random.default_rng(7), cfg, LightConfig(), CameraConfig())
    assert a.image.tobytes() == b.image.tobytes()
    assert [(p.text, p.box, p.quad.tobytes()) for p in a.plates] == [
        (p.text, p.box, p.quad.tobytes()) for p in b.plates
    ]


@pytest.mark.parametrize("seed", range(12))
def test_quad_corners_land_on_the_plate(magenta_style: PlateStyle, seed: int) -> None:
    scene = render_scene([magenta_style], np.random.default_rng(seed), _scene_config(), NO_LIGHT, NO_CAMERA)
    assert scene.plates
    for plate in scene.plates:
        centre = plate.quad.mean(0)
        for corner in plate.quad:
            inside = corner + 0.15 * (centre - corner)
            outside = corner + 0.3 * (corner - centre)
            assert _colour_distance(scene.image, inside) < 40
            if 0 <= outside[0] < scene.image.shape[1] and 0 <= outside[1] < scene.image.shape[0]:
                assert _colour_distance(scene.image, outside) > 60


def test_box_contains_quad() -> None:
    styles = list(builtin_styles().values())
    for seed in range(5):
        scene = render_scene(
            styles, np.random.default_rng(seed), _scene_config(), LightConfig(), CameraConfig()
        )
        for plate in scene.plates:
            x, y, w, h = plate.box
            assert (plate.quad >= (x, y)).all() and (plate.quad <= (x + w, y + h)).all()


def test_several_plates_do_not_overlap() -> None:
    styles = list(builtin_styles().values())
    cfg = _scene_config(size=(1280, 720), plates=(3, 4), plate_width=(40.0, 200.0))
    most = 0
    for seed in range(4):
        plates = render_scene(styles, np.random.default_rng(seed), cfg, NO_LIGHT, NO_CAMERA).plates
        most = max(most, len(plates))
        for i, a in enumerate(plates):
            for b in plates[i + 1 :]:
                ax, ay, aw, ah = a.box
                bx, by, bw, bh = b.box
                assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay
    assert most >= 2


def test_empty_scenes_have_no_plates() -> None:
    styles = list(builtin_styles().values())
    for seed in range(3):
        cfg = _scene_config(empty_p=1.0)
        scene = render_scene(styles, np.random.default_rng(seed), cfg, NO_LIGHT, NO_CAMERA)
        assert scene.plates == ()
        assert scene.image.shape == (320, 480, 3)


def test_surround_quad_is_where_the_plate_is_drawn(magenta_style: PlateStyle) -> None:
    rng = np.random.default_rng(3)
    plate = render_plate(magenta_style, rng, height=80)
    around = surround(plate, rng, PLAIN_SURROUND)
    x0, y0, x1, y1 = _plate_view(around)
    assert np.array_equal(around.image[y0:y1, x0:x1], plate.image)
    assert (around.plate_mask[y0:y1, x0:x1] == 255).all()
    assert around.plate_mask.sum() == 255 * plate.image.shape[0] * plate.image.shape[1]
    assert np.allclose(around.char_boxes, plate.char_boxes + np.array([x0, y0, x0, y0]))


def test_frames_never_cover_characters() -> None:
    rng = np.random.default_rng(0)
    cfg = SurroundConfig(frame_p=1.0, occlusion_p=0.0, frame_cover=0.4)
    for style in builtin_styles().values():
        for _ in range(5):
            around = surround(render_plate(style, rng, height=80), rng, cfg)
            for bx0, by0, bx1, by1 in np.round(around.char_boxes).astype(int):
                assert (around.plate_mask[by0 + 1 : by1 - 1, bx0 + 1 : bx1 - 1] == 255).all()


def test_occluders_hide_little_and_no_whole_character() -> None:
    rng = np.random.default_rng(1)
    cfg = SurroundConfig(frame_p=0.0, occlusion_p=1.0)
    for style in builtin_styles().values():
        for _ in range(10):
            around = surround(render_plate(style, rng, height=80), rng, cfg)
            x0, y0, x1, y1 = _plate_view(around)
            assert around.plate_mask[y0:y1, x0:x1].mean() > 0.85 * 255
            for bx0, by0, bx1, by1 in np.round(around.char_boxes).astype(int):
                assert around.plate_mask[by0:by1, bx0:bx1].mean() > 0.3 * 255


def test_quad_corners_go_clockwise_from_the_top_left_and_name_the_region(magenta_style: PlateStyle) -> None:
    style = magenta_style.model_copy(update={"name": "magenta"})  # the region is eu-de's
    for seed in range(4):
        scene = render_scene([style], np.random.default_rng(seed), _scene_config(), NO_LIGHT, NO_CAMERA)
        for plate in scene.plates:
            quad = plate.quad
            assert quad[1, 0] > quad[0, 0] and quad[2, 0] > quad[3, 0]  # the top and bottom edges run right
            assert quad[3, 1] > quad[0, 1] and quad[2, 1] > quad[1, 1]  # the sides run down
            assert plate.region == "eu-de"


def test_a_scene_holds_the_plates_its_config_asks_for() -> None:
    styles = [builtin_styles()["eu-de"]]
    for plates, extra, most in (((2, 2), 0.0, 2), ((1, 2), 1.0, 2)):
        cfg = _scene_config(size=(960, 540), plates=plates, extra_plate_p=extra, plate_width=(40.0, 120.0),
                            car_p=0.0)
        counts = [len(render_scene(styles, np.random.default_rng(seed), cfg, NO_LIGHT, NO_CAMERA).plates)
                  for seed in range(6)]
        assert max(counts) == most  # placement may drop one; none is added
