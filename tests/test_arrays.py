"""Arrays given to the API are read as their dtype and shape mean, or refused in one line."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from platelab.api import Reader, Recognizer
from platelab.eval.synthetic import UNSEEN_SEED
from platelab.io.arrays import as_image, from_pillow
from platelab.io.decode import MAX_PIXELS, MIN_SIDE, ImageDecodeError, read_image
from platelab.synth.crops import CropGenerator
from platelab.synth.style import select_styles
from tests.conftest import SHOULD_DECODE

GREY = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (16, 1))  # 16x64, columns 0, 4, ..., 252


@pytest.mark.parametrize(
    "array",
    [
        GREY,
        GREY[:, :, None],
        GREY.astype(np.uint16) * 257,
        GREY.astype(np.float32) / 255,
        GREY.astype(np.float64),
        GREY.astype(np.int64),
        (GREY.astype(np.uint16) * 257).astype(">u2"),
    ],
    ids=["uint8", "HxWx1", "uint16", "float 0..1", "float 0..255", "int64 0..255", "big-endian uint16"],
)
def test_grey_in_any_supported_dtype_reads_as_the_same_levels(array: np.ndarray) -> None:
    assert np.array_equal(as_image(array), GREY)


def test_colour_arrays_keep_bgr_and_bgra_lies_on_white_as_a_file_does() -> None:
    bgr = np.dstack([GREY, GREY // 2, 255 - GREY])
    assert np.array_equal(as_image(bgr), bgr)
    assert np.array_equal(as_image(np.dstack([bgr, np.full_like(GREY, 255)])), bgr)
    half_seen = as_image(np.dstack([np.zeros_like(bgr), np.full_like(GREY, 128)]))  # black at half alpha, on white
    assert np.array_equal(half_seen, np.full_like(bgr, 127))
    assert np.array_equal(as_image(GREY > 127), np.where(GREY > 127, 255, 0))
    grey_alpha = as_image(np.dstack([np.zeros_like(GREY), np.full_like(GREY, 128)]))  # a file of mode LA reads so
    assert np.array_equal(grey_alpha, np.full((*GREY.shape, 3), 127))


@pytest.mark.parametrize(
    ("array", "reason"),
    [
        (np.zeros((0, 0, 3), np.uint8), "too small"),
        (np.zeros((1, 40, 3), np.uint8), "too small"),
        (np.zeros((8, 8, 5), np.uint8), "expected HxW grey"),
        (np.zeros((2, 8, 8, 3), np.uint8), "expected HxW grey"),
        (np.full((8, 8), 300, np.int64), "values 300 to 300"),
        (np.full((8, 8), -1.5, np.float32), "expected 0..255"),
        (np.linspace(-2, 1.5, 64).reshape(8, 8), "values -2 to 1.5: expected 0..255"),
        (np.full((8, 8), np.nan, np.float32), "NaN"),
        (np.full((8, 8), np.inf, np.float64), "infinite"),
        (np.zeros((8, 8), np.complex64), "dtype complex64"),
    ],
)
def test_arrays_that_are_no_image_get_a_one_line_value_error(array: np.ndarray, reason: str) -> None:
    for read in (Recognizer().read, Reader().read):
        with pytest.raises(ValueError, match=reason) as error:
            read(array)
        assert "\n" not in str(error.value)


def test_a_float_image_a_little_over_white_or_under_black_is_fractions_clipped() -> None:
    # as a brightness gain or cubic resampling leaves it: read as 0..255 levels it would be black
    overshot = GREY.astype(np.float32) / 255 * 1.05 - 0.02
    expected = np.round(np.clip(GREY.astype(np.float32) / 255 * 1.05 - 0.02, 0, 1) * 255).astype(np.uint8)
    assert np.array_equal(as_image(overshot), expected)
    assert as_image(overshot).max() == 255 and as_image(overshot).min() == 0


def test_floats_anywhere_within_minus_1_to_2_are_fractions_of_white() -> None:
    # FRACTION_OVERSHOOT: a float image from -1 to 2 is fractions of white, clipped; one reaching 2.5 is grey levels
    assert as_image(np.tile(np.float32([-1, 0, 0.5, 1, 2]), (2, 1)))[0].tolist() == [0, 0, 128, 255, 255]
    assert as_image(np.tile(np.float32([0, 0.5, 1, 2.5]), (2, 1)))[0].tolist() == [0, 0, 1, 2]


def test_integer_and_float_grey_levels_round_to_the_nearest_level_up_to_white() -> None:
    # integers are levels whatever their range (a 0/1 mask is near black, not black and white); floats past 0..2
    # are levels too, rounded, 255 included
    assert as_image(np.tile(np.int64([0, 1, 1, 0]), (2, 1)))[0].tolist() == [0, 1, 1, 0]
    assert as_image(np.tile(np.float64([3, 127.4, 127.6, 255]), (2, 1)))[0].tolist() == [3, 127, 128, 255]


def test_arrays_at_the_size_limits_files_have_are_taken() -> None:
    # MIN_SIDE and MAX_PIXELS bound arrays as they bound files: a 2 x 2 array and one of exactly MAX_PIXELS are read
    assert as_image(np.zeros((MIN_SIDE, MIN_SIDE), np.uint8)).shape == (MIN_SIDE, MIN_SIDE)
    assert as_image(np.zeros((MAX_PIXELS // 10_000, 10_000), np.uint8)).shape == (MAX_PIXELS // 10_000, 10_000)


@pytest.mark.parametrize("name", SHOULD_DECODE)
def test_a_pillow_image_reads_as_its_file_does(bad_images: dict[str, Path], name: str) -> None:
    # 16-bit grey (mode I;16) keeps its low bytes, a palette's transparent colour lies on white, CMYK is converted
    with Image.open(bad_images[name]) as opened:
        image = as_image(from_pillow(opened))
    bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image
    assert np.array_equal(bgr, read_image(bad_images[name]))


def test_a_float_crop_in_0_to_1_reads_as_its_uint8_self() -> None:
    crop = CropGenerator(select_styles(["us-*"]), seed=UNSEEN_SEED).sample(3)
    recognizer = Recognizer()
    as_uint8, as_float = recognizer.read([crop.image, crop.image.astype(np.float32) / 255])
    assert as_float.text == as_uint8.text == crop.text


def _unseen_crops(count: int) -> list[np.ndarray]:
    generator = CropGenerator(select_styles(["us-*"]), seed=UNSEEN_SEED)
    return [generator.sample(i).image for i in range(count)]


def test_a_bad_item_in_a_batch_is_named_by_its_place() -> None:
    crops = _unseen_crops(3)
    with pytest.raises(ValueError, match=r"^item 2: image array of shape \(1, 1\): too small$"):
        Recognizer().read([crops[0], crops[1], np.zeros((1, 1), np.uint8), crops[2]])
    with pytest.raises(TypeError, match=r"^item 1: expected an image array \(BGR or grey\), a Pillow image, a file "
                                        r"path or encoded bytes, got builtins\.NoneType$"):
        Recognizer().read([crops[0], None])  # type: ignore[list-item]


def test_other_objects_are_refused_saying_what_is_taken(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"a Pillow image, a file path or encoded bytes, got builtins\.dict$"):
        Reader().read({"image": "car.jpg"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^an empty file path$"):
        Reader().read("")
    (tmp_path / "clip.mp4").write_bytes(b"x")
    with pytest.raises(ImageDecodeError, match=r"clip\.mp4: a video: read it with Reader\(\)\.read_video$"):
        Reader().read(tmp_path / "clip.mp4")


def test_encoded_bytes_are_one_image_for_the_recognizer_as_for_the_reader() -> None:
    crop = _unseen_crops(1)[0]
    ok, encoded = cv2.imencode(".png", crop)
    assert ok
    recognizer = Recognizer()
    assert recognizer.read(encoded.tobytes()) == recognizer.read([crop])


def test_arrays_over_the_files_pixel_limit_are_refused_before_conversion() -> None:
    huge = np.zeros((8000, 8000), np.float64)  # 64 MP: allocated lazily, never converted
    with pytest.raises(ValueError, match=r"too large \(64000000 pixels, limit 50000000\)"):
        as_image(huge)


def test_a_long_stream_of_crops_is_decoded_a_bounded_batch_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from platelab import api

    crops = _unseen_crops(7)
    recognizer = Recognizer()
    expected = recognizer.read(crops)
    seen: list[int] = []
    read = recognizer.predictor.read
    monkeypatch.setattr(api, "CROPS_AT_ONCE", 3)
    monkeypatch.setattr(recognizer.predictor, "read", lambda arrays: seen.append(len(arrays)) or read(arrays))
    assert recognizer.read(crop for crop in crops) == expected
    assert seen == [3, 3, 1]


@pytest.mark.parametrize("pixels", [
    np.tile(np.linspace(0, 1, 8, dtype=np.float32), (8, 1)),  # mode F: fractions of white
    np.tile(np.arange(0, 65536, 9362, dtype=np.int32), (8, 1)),  # mode I: 16-bit levels
])
def test_a_32_bit_grey_pillow_image_reads_as_its_file_does(tmp_path: Path, pixels: np.ndarray) -> None:
    # Pillow's own RGB conversion clips these modes to 0..255: the float ramp read black, the levels white
    pillow = Image.fromarray(pixels)
    assert pillow.mode in ("F", "I")
    pillow.save(tmp_path / "ramp.tif")
    from_file = read_image(tmp_path / "ramp.tif")[..., 0]
    assert from_file[0, -1] == 255 and from_file[0, 1] not in (0, 255)
    np.testing.assert_array_equal(as_image(from_pillow(pillow)), from_file)
