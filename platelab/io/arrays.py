"""Arrays given to the Python API instead of files: checked and brought to what the predictors read (uint8 BGR or
grey), so that a wrong array gets a one-line ValueError rather than an OpenCV assertion or a silent misreading."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from platelab.io.decode import MAX_PIXELS, MIN_SIDE, composite_on_white, sixteen_to_eight_bits, wide_to_eight_bits


def as_image(array: np.ndarray) -> np.ndarray:
    """A HxW grey, HxWx1, HxWx2 grey and alpha, or HxWx{3,4} BGR(A) array as uint8 grey or BGR (alpha laid over
    white, as for files). uint16 is scaled down, bool is black and white, floats are fractions of white when within
    -1..2 (clipped to 0..1: see FRACTION_OVERSHOOT) and grey levels when within 0..255; anything else is refused."""
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 2, 3, 4)):
        raise ValueError(f"image array of shape {array.shape}: expected HxW grey or HxWx1, HxWx2 (grey and alpha), "
                         "HxWx3 (BGR), HxWx4 (BGRA)")
    if min(array.shape[:2]) < MIN_SIDE:
        raise ValueError(f"image array of shape {array.shape}: too small")
    if array.shape[0] * array.shape[1] > MAX_PIXELS:  # the limit files have: converting one costs memory in kind
        raise ValueError(f"image array of shape {array.shape}: too large ({array.shape[0] * array.shape[1]} pixels, "
                         f"limit {MAX_PIXELS})")
    pixels = _as_uint8(array)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        return pixels[:, :, 0]
    if pixels.ndim == 3 and pixels.shape[2] == 2:  # grey and alpha, as a file of mode LA
        grey, alpha = pixels[:, :, 0], pixels[:, :, 1]
        return composite_on_white(np.dstack([grey, grey, grey, alpha]))
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        return composite_on_white(pixels)  # as a file with alpha is read
    return pixels


# A float image a little outside 0..1 is fractions of white all the same: resampling (cubic, Lanczos) and gains
# overshoot by a few percent. One within 0..2 is read so, clipped; as grey levels, 0..2 of 255 would be black anyway.
FRACTION_OVERSHOOT = 1.0


def _as_uint8(array: np.ndarray) -> np.ndarray:
    if not array.dtype.isnative:  # big-endian data (from a file or another machine), compared by kind below
        array = array.astype(array.dtype.newbyteorder("="))
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint16:
        return sixteen_to_eight_bits(array)
    if array.dtype.kind not in "iuf":
        raise ValueError(f"image array of dtype {array.dtype}: expected uint8, uint16, bool or float")
    if not np.isfinite(array).all():
        raise ValueError("image array holds NaN or infinite values")
    low, high = float(array.min()), float(array.max())
    if array.dtype.kind == "f" and low >= -FRACTION_OVERSHOOT and high <= 1 + FRACTION_OVERSHOOT:
        fractions: np.ndarray = np.clip(array, 0, 1)
        return np.round(fractions * 255).astype(np.uint8)
    if low >= 0 and high <= 255:
        return np.round(array).astype(np.uint8)
    raise ValueError(f"image array of dtype {array.dtype} with values {low:g} to {high:g}: expected 0..255 "
                     "(or fractions 0..1 for floats)")


class PillowImage(Protocol):
    """What the API uses of a Pillow image: Pillow is not imported to read."""

    @property
    def mode(self) -> str: ...

    @property
    def info(self) -> dict[str, Any]: ...

    def convert(self, mode: str) -> Any: ...


def from_pillow(image: PillowImage) -> np.ndarray:
    """A Pillow image as an array as_image reads: BGR, BGRA (alpha laid over white), grey, or 16-bit grey; 32-bit grey
    (I, F) as its file would read; other modes (palette, CMYK, YCbCr, 1-bit) through Pillow's own conversion. Its
    pixels as they are: EXIF orientation is not applied, as for an array."""
    mode = image.mode
    if mode in ("L", "I;16", "I;16L", "I;16B"):
        return np.asarray(image)
    if mode in ("I", "F"):  # Pillow's conversion clips these to 0..255: a 0-1 float ramp would read black
        return wide_to_eight_bits(np.asarray(image))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        return np.asarray(image.convert("RGBA"))[..., [2, 1, 0, 3]]
    return np.asarray(image if mode == "RGB" else image.convert("RGB"))[..., ::-1]
