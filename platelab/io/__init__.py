"""Getting images in and results out: safe decoding, result records, JSON lines, atomic writes, drawing."""

from platelab.io.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from platelab.io.decode import IMAGE_SUFFIXES, MAX_PIXELS, ImageDecodeError, list_images, read_image
from platelab.io.draw import draw_plates, montage
from platelab.io.results import CharResult, ImageResult, PlateResult, to_json_line

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "CharResult",
    "ImageDecodeError",
    "ImageResult",
    "PlateResult",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "draw_plates",
    "list_images",
    "montage",
    "read_image",
    "to_json_line",
]
