import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from platelab.synth.camera import CameraConfig, LightConfig, apply_camera, apply_light

LIGHT_PROBABILITIES = [name for name in LightConfig.model_fields if name.endswith("_p")]
CAMERA_PROBABILITIES = [name for name in CameraConfig.model_fields if name.endswith("_p")]


def plate_scene(height: int = 80, width: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """A light plate with dark 'characters' on a mid-grey car, and the plate's mask."""
    rng = np.random.default_rng(7)
    image = np.full((height, width, 3), (90, 100, 110), np.uint8)
    mask = np.zeros((height, width), np.uint8)
    y0, y1, x0, x1 = height // 4, 3 * height // 4, width // 8, 7 * width // 8
    mask[y0:y1, x0:x1] = 255
    image[y0:y1, x0:x1] = (235, 230, 225)
    for x in range(x0 + 6, x1 - 10, 14):
        cv2.rectangle(image, (x, y0 + 6), (x + 8, y1 - 6), (60, 30, 20), -1)
    return cv2.add(image, rng.integers(0, 8, image.shape, dtype=np.uint8)), mask


Config = LightConfig | CameraConfig


def only(model: type[Config], *names: str, **extra: object) -> Config:
    """A config with every effect off except names (probability 1)."""
    probabilities = {name: 0.0 for name in model.model_fields if name.endswith("_p")}
    probabilities.update({name: 1.0 for name in names})
    return model(**probabilities, **extra)


def both(
    image: np.ndarray, seed: int, light: LightConfig, camera: CameraConfig, mask: np.ndarray | None = None
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return apply_camera(apply_light(image, rng, light, mask), rng, camera)


@pytest.mark.parametrize("seed", range(12))
def test_same_seed_gives_identical_bytes(seed):
    image, mask = plate_scene()
    first = both(image, seed, LightConfig(), CameraConfig(), mask)
    second = both(image, seed, LightConfig(), CameraConfig(), mask)
    assert first.tobytes() == second.tobytes()


def test_every_effect_is_deterministic():
    image, mask = plate_scene()
    light = only(LightConfig, *LIGHT_PROBABILITIES)
    camera = only(CameraConfig, *[p for p in CAMERA_PROBABILITIES if p != "video_p"])
    for seed in range(4):
        first, second = (both(image, seed, light, camera, mask) for _ in range(2))
        assert first.tobytes() == second.tobytes()


def test_different_seeds_differ():
    image, mask = plate_scene()
    outputs = {both(image, seed, LightConfig(), CameraConfig(), mask).tobytes() for seed in range(10)}
    assert len(outputs) == 10


def test_input_is_left_untouched_and_output_is_a_new_array():
    image, mask = plate_scene()
    before = image.copy()
    light = only(LightConfig, *LIGHT_PROBABILITIES)
    lit = apply_light(image, np.random.default_rng(0), light, mask)
    shot = apply_camera(image, np.random.default_rng(0), only(CameraConfig, "interlace_p"))
    assert np.array_equal(image, before)
    assert not np.shares_memory(lit, image) and not np.shares_memory(shot, image)


def test_all_off_returns_an_equal_copy():
    image, mask = plate_scene()
    lit = apply_light(image, np.random.default_rng(0), only(LightConfig), mask)
    shot = apply_camera(image, np.random.default_rng(0), only(CameraConfig))
    assert np.array_equal(lit, image) and np.array_equal(shot, image)
    assert lit is not image and shot is not image


@pytest.mark.parametrize("shape", [(9, 20), (1, 1), (2, 3), (63, 127), (65, 129), (31, 200), (160, 320)])
@pytest.mark.parametrize("seed", range(3))
def test_shape_and_dtype_are_kept(shape, seed):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    mask = np.zeros(shape, np.uint8)
    mask[shape[0] // 4 : max(1, 3 * shape[0] // 4), shape[1] // 4 : max(1, 3 * shape[1] // 4)] = 255
    for plate_mask in (None, mask):
        lit = apply_light(image, rng, only(LightConfig, *LIGHT_PROBABILITIES), plate_mask)
        assert lit.shape == image.shape and lit.dtype == np.uint8
    for name in CAMERA_PROBABILITIES:  # one at a time, so every effect meets the odd size
        shot = apply_camera(image, rng, only(CameraConfig, name))
        assert shot.shape == image.shape and shot.dtype == np.uint8
    shot = apply_camera(image, rng, only(CameraConfig, *CAMERA_PROBABILITIES))
    assert shot.shape == image.shape and shot.dtype == np.uint8


@pytest.mark.parametrize("effect", ["sheen_p", "dirt_p", "rust_p", "fade_p"])
def test_plate_effects_stay_on_the_plate(effect):
    image, mask = plate_scene()
    changed = np.zeros(mask.shape, bool)
    for seed in range(5):
        out = apply_light(image, np.random.default_rng(seed), only(LightConfig, effect), mask)
        assert np.array_equal(out[mask == 0], image[mask == 0]), effect
        changed |= (out != image).any(axis=2)
    assert changed[mask > 0].mean() > 0.05, f"{effect} did nothing visible"


@pytest.mark.parametrize("effect", ["sheen_p", "dirt_p", "fade_p"])
def test_plate_effects_without_a_mask_cover_the_image(effect):
    image, mask = plate_scene()
    out = apply_light(image, np.random.default_rng(3), only(LightConfig, effect))
    assert (out != image).any(axis=2)[mask == 0].mean() > 0.05


def test_infrared_is_grey_with_a_bright_plate_and_dark_characters():
    image, mask = plate_scene()
    out = apply_light(image, np.random.default_rng(0), only(LightConfig, "infrared_p"), mask)
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])
    grey = out[..., 0].astype(int)
    plate_background, characters = grey[mask > 0].max(), grey[mask > 0].min()
    assert plate_background > 180 and characters < 120
    assert np.median(grey[mask == 0]) < plate_background - 60


def test_night_is_darker_but_the_lamp_lit_plate_stays_readable():
    image, mask = plate_scene()
    out = apply_light(image, np.random.default_rng(1), only(LightConfig, "night_p"), mask).astype(int)
    assert out[mask == 0].mean() < image[mask == 0].mean() * 0.6
    assert out[mask > 0].mean() > out[mask == 0].mean()


def test_shadow_darkens_part_of_the_plate():
    image, mask = plate_scene()
    darker = 0
    for seed in range(6):
        out = apply_light(image, np.random.default_rng(seed), only(LightConfig, "shadow_p"), mask).astype(int)
        darker += (out.sum(2) < image.astype(int).sum(2) - 30)[mask > 0].mean() > 0.05
    assert darker >= 5


def test_glare_only_brightens():
    image, mask = plate_scene()
    out = apply_light(image, np.random.default_rng(2), only(LightConfig, "glare_p"), mask)
    assert (out >= image).all() and (out > image).any()


def test_sodium_cast_warms_the_image():
    image, mask = plate_scene()
    light = only(LightConfig, "cast_p", cast_strength=(1.0, 1.0), white_balance=(1.0, 1.0))
    warm = 0
    for seed in range(20):
        out = apply_light(image, np.random.default_rng(seed), light, mask).astype(int)
        warm += out[..., 2].mean() - out[..., 0].mean() > 60
    assert warm >= 3  # about a third of casts are sodium lamps


def test_blur_and_lowres_lose_detail():
    image, _ = plate_scene()

    def detail(picture: np.ndarray) -> float:
        return float(np.abs(cv2.Laplacian(cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY), cv2.CV_32F)).mean())

    for name in ("defocus_p", "motion_p", "lowres_p"):
        out = apply_camera(image, np.random.default_rng(0), only(CameraConfig, name))
        assert detail(out) < detail(image) * 0.9, name


def test_noise_is_zero_mean_and_scales_with_sigma():
    image = np.full((64, 128, 3), 128, np.uint8)

    def noisy(sigma: float) -> np.ndarray:
        camera = only(CameraConfig, "noise_p", noise_sigma=(sigma, sigma))
        return apply_camera(image, np.random.default_rng(0), camera).astype(float)

    weak, strong = noisy(2.0), noisy(8.0)
    assert abs(weak.mean() - 128) < 0.5 and abs(strong.mean() - 128) < 1
    assert 1.5 < weak.std() < 2.5 and 7 < strong.std() < 9


def test_shot_noise_grows_with_brightness():
    camera = only(CameraConfig, "noise_p", "noise_shot_p", noise_sigma=(1.0, 1.0), noise_shot=(0.05, 0.05))
    dark = apply_camera(np.full((64, 128, 3), 20, np.uint8), np.random.default_rng(0), camera).std()
    bright = apply_camera(np.full((64, 128, 3), 200, np.uint8), np.random.default_rng(0), camera).std()
    assert bright > 2 * dark


def test_interlacing_shifts_only_odd_rows():
    image, _ = plate_scene()
    out = apply_camera(image, np.random.default_rng(0), only(CameraConfig, "interlace_p"))
    assert np.array_equal(out[0::2], image[0::2]) and not np.array_equal(out[1::2], image[1::2])


def test_video_compression_smears_colour():
    image, _ = plate_scene()
    image[:, ::2] = (0, 0, 255)  # fine colour detail is the first thing chroma subsampling loses
    out = apply_camera(image, np.random.default_rng(0), only(CameraConfig, "video_p"))
    chroma = cv2.cvtColor(out, cv2.COLOR_BGR2YCrCb)[..., 1].astype(int)
    assert np.abs(np.diff(chroma, axis=1)).mean() < 10


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (LightConfig, "shadow_p", 1.5),
        (LightConfig, "shadow_p", -0.1),
        (LightConfig, "gradient_strength", (0.2, 1.5)),
        (LightConfig, "brightness", (40.0, -40.0)),
        (LightConfig, "dirt_spots", (3, 1000)),
        (CameraConfig, "jpeg_quality", (0, 90)),
        (CameraConfig, "lowres_scale", (0.9, 0.2)),
        (CameraConfig, "noise_sigma", (-1.0, 2.0)),
        (CameraConfig, "blur", 0.5),
    ],
)
def test_config_rejects_bad_values_naming_the_field(model, field, value):
    with pytest.raises(ValidationError) as error:
        model(**{field: value})
    assert field in str(error.value)


def test_reversed_range_error_says_why():
    with pytest.raises(ValidationError, match="low <= high"):
        CameraConfig(jpeg_quality=(90, 20))


def test_every_field_is_documented():
    for model in (LightConfig, CameraConfig):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
