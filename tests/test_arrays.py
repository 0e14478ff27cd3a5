"""Arrays given to the API are read as their dtype and shape mean, or refused in one line."""

from __future__ import annotations

import numpy as np
import pytest

from platelab.api import Reader, Recognizer
from platelab.eval.synthetic import UNSEEN_SEED
from platelab.io.arrays import as_image
from platelab.synth.crops import CropGenerator
from platelab.synth.style import select_styles

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
    ],
    ids=["uint8", "HxWx1", "uint16", "float 0..1", "float 0..255", "int64 0..255"],
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


@pytest.mark.parametrize(
    ("array", "reason"),
    [
        (np.zeros((0, 0, 3), np.uint8), "too small"),
        (np.zeros((1, 40, 3), np.uint8), "too small"),
        (np.zeros((8, 8, 2), np.uint8), "expected HxW grey"),
        (np.zeros((2, 8, 8, 3), np.uint8), "expected HxW grey"),
        (np.full((8, 8), 300, np.int64), "values 300 to 300"),
        (np.full((8, 8), -1.5, np.float32), "expected 0..255"),
        (np.full((8, 8), np.nan, np.float32), "NaN"),
        (np.zeros((8, 8), np.complex64), "dtype complex64"),
    ],
)
def test_arrays_that_are_no_image_get_a_one_line_value_error(array: np.ndarray, reason: str) -> None:
    for read in (Recognizer().read, Reader().read):
        with pytest.raises(ValueError, match=reason) as error:
            read(array)
        assert "\n" not in str(error.value)


def test_a_float_crop_in_0_to_1_reads_as_its_uint8_self() -> None:
    crop = CropGenerator(select_styles(["us-*"]), seed=UNSEEN_SEED).sample(3)
    recognizer = Recognizer()
    as_uint8, as_float = recognizer.read([crop.image, crop.image.astype(np.float32) / 255])
    assert as_float.text == as_uint8.text == crop.text
