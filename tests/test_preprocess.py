"""A crop becomes the recognizer's input: grey from OpenCV's BGR, shrunk by averaging, and standardised without
blowing up a blank or flat crop. (Test-time jitter of the input: test_tta.) A photo becomes the detector's input
(letterbox) alike, fitted at the top-left of a zero-padded frame."""

from __future__ import annotations

import numpy as np

from platelab.predict.detector import letterbox
from platelab.predict.preprocess import preprocess_crops


def test_a_flat_crop_standardises_to_zeros() -> None:
    # no spread to divide by: the input is all 0, not NaN from 0 / 0
    out = preprocess_crops([np.full((40, 160), 128, np.uint8)])
    assert np.isfinite(out).all() and not out.any()


def test_a_crop_with_almost_no_contrast_is_not_stretched_into_noise() -> None:
    # sensor noise of spread 2 on a blank crop stays a quarter of unit spread (divided by the floor of 8), rather
    # than being blown up into a full-contrast pattern the network would read characters in
    rng = np.random.default_rng(0)
    faint = (128 + rng.normal(0, 2, (64, 128))).clip(0, 255).astype(np.uint8)
    assert 0.2 < float(preprocess_crops([faint]).std()) < 0.3


def test_colour_crops_are_taken_as_bgr_like_opencvs_images() -> None:
    # pure red (BGR 0, 0, 255) is a brighter grey than pure blue (255, 0, 0): 0.299 against 0.114 of full white
    crop = np.zeros((64, 128, 3), np.uint8)
    crop[:, :64] = (0, 0, 255)
    crop[:, 64:] = (255, 0, 0)
    out = preprocess_crops([crop])[0, 0]
    assert out[:, :64].mean() > 0.9 and out[:, 64:].mean() < -0.9


def test_a_large_crop_is_averaged_down_not_sampled() -> None:
    # 5 times the input size, with 1-pixel stripes (+-30) over a dark/light edge: averaged down, the stripes all
    # but vanish and the input is close to the clean crop's; sampling every fifth row would keep them whole
    clean = np.full((320, 640), 60, np.float32)
    clean[:, 320:] = 190
    striped = clean + np.where(np.arange(320)[:, None] % 2 == 0, 30.0, -30.0)
    plain, noisy = preprocess_crops([clean.astype(np.uint8), striped.astype(np.uint8)])
    assert float(np.abs(plain - noisy).max()) < 0.2


def test_a_photo_fills_the_detectors_input_from_the_top_left_and_only_the_padding_is_zero() -> None:
    # 1000 x 601 shrunk by 384 / 601 to fill the height: its 638.9 columns round to 639, the last column is padding
    photo = np.random.default_rng(0).integers(0, 256, (601, 1000, 3), dtype=np.uint8)
    boxed = letterbox(photo)
    assert boxed.image.shape == (384, 640) and boxed.scale == 384 / 601
    assert not boxed.image[:, 639:].any() and boxed.image[:, 638].std() > 0.5
    assert abs(float(boxed.image[:, :639].mean())) < 0.01 and abs(float(boxed.image[:, :639].std()) - 1) < 1e-3


def test_a_photo_five_times_the_detectors_input_is_averaged_down_not_sampled() -> None:
    # as for crops: 1-pixel stripes (+-30) over a dark/light edge all but vanish when averaged down; sampling every
    # fifth row would keep them whole
    clean = np.full((1920, 3200), 60, np.int16)
    clean[:, 1600:] = 190
    striped = clean + np.where(np.arange(1920)[:, None] % 2 == 0, 30, -30)
    plain, noisy = (letterbox(photo.astype(np.uint8)).image for photo in (clean, striped))
    assert float(np.abs(plain - noisy).max()) < 0.2


def test_a_photo_with_almost_no_contrast_is_not_stretched_into_noise() -> None:
    # sensor noise of spread 2 over a blank wall stays a quarter of unit spread (divided by the floor of 8)
    faint = (128 + np.random.default_rng(0).normal(0, 2, (384, 640))).clip(0, 255).astype(np.uint8)
    assert 0.2 < float(letterbox(faint).image.std()) < 0.3
