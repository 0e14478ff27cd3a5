"""Shared fixtures.

`bad_images` writes one small file per awkward input a reader meets in the wild. Every file in SHOULD_DECODE
decodes to a DECODED_SIZE (width, height) image; every file in SHOULD_FAIL must raise ImageDecodeError whose
message contains the given reason. Other test modules reuse both tables for the recognizer and the reader.
"""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

DECODED_SIZE = (64, 48)
# The real benchmark photos live beside the checkout, never in it; tests that need them skip without them.
REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"

SHOULD_DECODE: dict[str, str] = {
    "normal_jpeg": "left half red, right half blue",
    "grey16_png": "16-bit grey, pixel (x, y) = 257 * (4 * x) + 100, so it reads back as 4 * x in 8 bits",
    "cmyk_jpeg": "CMYK (0, 255, 255, 0): red all over",
    "rgba_png": "columns: x < 21 opaque red, 21 <= x < 42 transparent black, x >= 42 blue at alpha 128",
    "grey_png": "8-bit grey, pixel (x, y) = 4 * x",
    "palette_png": "palette image, quarters red, green, blue and a transparent index",
}
SHOULD_FAIL: dict[str, str] = {
    "corrupt_jpeg": "corrupt or truncated",
    "truncated_jpeg": "corrupt or truncated",
    "empty_jpeg": "empty file",
    "text_jpeg": "not an image",
    "tiny_png": "too small",
    "bomb_png": "too large",
}


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png_bytes(width: int = 20000, height: int = 20000) -> bytes:
    """A ~70-byte RGB PNG whose header claims width x height; its pixel data is a few zero bytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def _normal_jpeg_bytes(path: Path) -> bytes:
    width, height = DECODED_SIZE
    image = Image.new("RGB", DECODED_SIZE, (255, 0, 0))
    image.paste((0, 0, 255), (width // 2, 0, width, height))
    image.save(path, quality=95)
    return path.read_bytes()


def _rgba_png(path: Path) -> None:
    width, height = DECODED_SIZE
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[:, :21] = (255, 0, 0, 255)
    rgba[:, 42:] = (0, 0, 255, 128)
    Image.fromarray(rgba, "RGBA").save(path)


def _palette_png(path: Path) -> None:
    width, height = DECODED_SIZE
    indices = np.repeat(np.arange(4, dtype=np.uint8), width // 4)[None, :].repeat(height, axis=0)
    image = Image.fromarray(indices, "P")
    image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0])
    image.save(path, transparency=3)


def _file_name(name: str) -> str:
    """Table key to file name, e.g. corrupt_jpeg -> corrupt.jpg: every key ends in its format."""
    stem, _, kind = name.rpartition("_")
    return f"{stem}.{'jpg' if kind == 'jpeg' else kind}"


def write_bad_images(folder: Path) -> dict[str, Path]:
    """Write every SHOULD_DECODE and SHOULD_FAIL file into folder and return name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / _file_name(name) for name in (*SHOULD_DECODE, *SHOULD_FAIL)}

    jpeg = _normal_jpeg_bytes(paths["normal_jpeg"])
    start_of_scan = jpeg.index(b"\xff\xda")
    garbage = np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    paths["corrupt_jpeg"].write_bytes(jpeg[: start_of_scan + 14] + garbage)
    paths["truncated_jpeg"].write_bytes(jpeg[: len(jpeg) * 6 // 10])
    paths["empty_jpeg"].write_bytes(b"")
    paths["text_jpeg"].write_text("this is a text file with a .jpg name\n", encoding="utf-8")
    Image.new("RGB", (1, 1), (10, 20, 30)).save(paths["tiny_png"])
    paths["bomb_png"].write_bytes(bomb_png_bytes())

    width, height = DECODED_SIZE
    ramp = np.repeat(4 * np.arange(width, dtype=np.uint16)[None, :], height, axis=0)
    cv2.imwrite(str(paths["grey16_png"]), ramp * 257 + 100)
    Image.new("CMYK", DECODED_SIZE, (0, 255, 255, 0)).save(paths["cmyk_jpeg"], quality=95)
    _rgba_png(paths["rgba_png"])
    Image.fromarray(ramp.astype(np.uint8), "L").save(paths["grey_png"])
    _palette_png(paths["palette_png"])
    return paths


@pytest.fixture
def bad_images(tmp_path: Path) -> dict[str, Path]:
    return write_bad_images(tmp_path / "bad_images")


class Killed(Exception):
    """Stands in for a kill -9 right after a checkpoint was written."""


def assert_resume_is_exact(train, make_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module) -> Path:
    """Train 4 steps unbroken, and 2 steps + kill + resume; the weights must be equal, and the metrics logged too
    (each step once, its running figures as in the unbroken run). Returns the resumed run."""
    unbroken = train(make_config(tmp_path / "a")).state_dict()
    real_save = module.save_training_state

    def save_then_die(path: Path, model, optimizer, scheduler, step: int, elapsed: float, extra=None) -> None:
        real_save(path, model, optimizer, scheduler, step, elapsed, extra)
        if step == 2:
            raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(module, "save_training_state", save_then_die)
        with pytest.raises(Killed):
            train(make_config(tmp_path / "b"))
    resumed = train(make_config(tmp_path / "b"), resume=True).state_dict()
    for name, value in unbroken.items():
        assert (value == resumed[name]).all(), name
    logged = [[{k: v for k, v in json.loads(line).items() if k != "seconds"}
               for line in (run / "metrics.jsonl").read_text().splitlines()]
              for run in (tmp_path / "a", tmp_path / "b")]
    assert logged[0] == logged[1]
    return tmp_path / "b"


@pytest.fixture(scope="module")
def demo_scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled demo scene (two plates), its truth in labels.tsv beside it."""
    from platelab.synth.demo import write_demo

    return write_demo(tmp_path_factory.mktemp("demo"))


def demo_photos(root: Path, scene: Path) -> Path:
    """root/photos: the demo scene in a nested folder and a blank image in which nothing can be found."""
    (root / "photos" / "cam 1").mkdir(parents=True)
    shutil.copy(scene, root / "photos" / "cam 1" / "scene.jpg")
    cv2.imwrite(str(root / "photos" / "blank.png"), np.full((240, 320, 3), 128, np.uint8))
    return root / "photos"
