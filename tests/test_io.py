from __future__ import annotations

import json
import os
import pickle
import stat
import struct
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from platelab.io import (
    CharResult,
    ImageDecodeError,
    ImageResult,
    PlateResult,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    draw_plates,
    list_images,
    montage,
    read_image,
    to_json_line,
)
from platelab.io.decode import composite_on_white, first_line, sixteen_to_eight_bits
from platelab.io.results import Candidate
from tests.conftest import DECODED_SIZE, SHOULD_DECODE, SHOULD_FAIL, bomb_png_bytes

WIDTH, HEIGHT = DECODED_SIZE
RED, BLUE, WHITE = (0, 0, 255), (255, 0, 0), (255, 255, 255)


def _close(pixel: np.ndarray, expected: tuple[int, ...], tolerance: int) -> bool:
    return bool(np.abs(pixel.astype(int) - np.array(expected)).max() <= tolerance)


# --- decoding -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SHOULD_DECODE))
def test_decodable_inputs_become_bgr_uint8(bad_images: dict[str, Path], name: str) -> None:
    image = read_image(bad_images[name])
    assert image.shape == (HEIGHT, WIDTH, 3)
    assert image.dtype == np.uint8
    assert image.flags.c_contiguous


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("name", sorted(SHOULD_FAIL))
def test_bad_inputs_raise_one_line_error_naming_the_file(bad_images: dict[str, Path], name: str) -> None:
    path = bad_images[name]
    with pytest.raises(ImageDecodeError) as caught:
        read_image(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert SHOULD_FAIL[name] in message
    assert "\n" not in message
    assert caught.value.reason in message


def test_normal_jpeg_colours(bad_images: dict[str, Path]) -> None:
    image = read_image(bad_images["normal_jpeg"])
    assert _close(image[HEIGHT // 2, 5], RED, 8)
    assert _close(image[HEIGHT // 2, WIDTH - 5], BLUE, 8)


def test_16_bit_grey_scales_to_8_bit_by_257(bad_images: dict[str, Path]) -> None:
    image = read_image(bad_images["grey16_png"])
    expected = 4 * np.arange(WIDTH)
    assert np.array_equal(image[0, :, 0], expected)
    assert np.array_equal(image[..., 0], image[..., 2])


def test_big_endian_16_bit_grey_reads_as_its_levels(tmp_path: Path) -> None:
    # a TIFF written by a big-endian machine opens as mode I;16B: the same levels as a little-endian one
    Image.fromarray((257 * 4 * np.arange(WIDTH, dtype=np.uint16))[None].repeat(4, 0).astype(">u2")).save(
        tmp_path / "grey16be.tif")
    assert np.array_equal(read_image(tmp_path / "grey16be.tif")[0, :, 0], 4 * np.arange(WIDTH))


def test_16_bit_colour_png(tmp_path: Path) -> None:
    path = tmp_path / "colour16.png"
    cv2.imwrite(str(path), np.full((8, 8, 3), (65535, 32896, 0), np.uint16))  # BGR
    assert _close(read_image(path)[4, 4], (255, 128, 0), 1)


def test_rgba_composites_on_white(bad_images: dict[str, Path]) -> None:
    image = read_image(bad_images["rgba_png"])
    assert tuple(image[0, 5]) == RED
    assert tuple(image[0, 30]) == WHITE
    assert _close(image[0, 50], (255, 127, 127), 1)


def test_alpha_lies_on_white_rounded_to_the_nearest_level() -> None:
    # every level at every alpha: level * alpha / 255 + 255 * (1 - alpha / 255), to the nearest (never half-way)
    level, alpha = (a.astype(np.uint8) for a in np.mgrid[0:256, 0:256])
    seen = composite_on_white(np.dstack([level, level, level, alpha]))[..., 0]
    exact = level.astype(int) * alpha + 255 * (255 - alpha.astype(int))
    assert np.array_equal(seen, (2 * exact + 255) // 510)


def test_cmyk_colour_roughly_right(bad_images: dict[str, Path]) -> None:
    assert _close(read_image(bad_images["cmyk_jpeg"])[HEIGHT // 2, WIDTH // 2], RED, 30)


def test_grey_png_values(bad_images: dict[str, Path]) -> None:
    image = read_image(bad_images["grey_png"])
    assert np.array_equal(image[HEIGHT - 1, :, 1], 4 * np.arange(WIDTH))


def test_palette_transparency_becomes_white(bad_images: dict[str, Path]) -> None:
    image = read_image(bad_images["palette_png"])
    quarter = WIDTH // 4
    assert [tuple(image[0, quarter * i + 2]) for i in range(4)] == [RED, (0, 255, 0), BLUE, WHITE]


@pytest.mark.parametrize(("suffix", "options"), [(".webp", {"lossless": True}), (".bmp", {}), (".tif", {})])
def test_other_formats(tmp_path: Path, suffix: str, options: dict) -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    path = tmp_path / f"image{suffix}"
    Image.fromarray(rgb).save(path, **options)
    assert np.array_equal(read_image(path), rgb[..., ::-1])


def test_bytes_and_path_agree_and_name_is_used(bad_images: dict[str, Path]) -> None:
    path = bad_images["normal_jpeg"]
    assert np.array_equal(read_image(path.read_bytes()), read_image(path))
    with pytest.raises(ImageDecodeError, match=r"^upload\.jpg: empty file$"):
        read_image(b"", name="upload.jpg")
    with pytest.raises(ImageDecodeError, match=r"^<bytes>: not an image$"):
        read_image(b"hello")


def test_missing_file_is_a_decode_error(tmp_path: Path) -> None:
    with pytest.raises(ImageDecodeError, match="cannot read file"):
        read_image(tmp_path / "absent.jpg")


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("side", [20000, 10000])  # above Pillow's own error limit, and between its limits
def test_huge_header_refused_fast(side: int) -> None:
    started = time.perf_counter()
    with pytest.raises(ImageDecodeError, match="too large"):
        read_image(bomb_png_bytes(side, side), name="bomb.png")
    assert time.perf_counter() - started < 0.1


def test_max_pixels_argument_and_pillow_limit_untouched(bad_images: dict[str, Path]) -> None:
    pillow_limit = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageDecodeError, match="too large"):
        read_image(bad_images["normal_jpeg"], max_pixels=WIDTH * HEIGHT - 1)
    assert read_image(bad_images["normal_jpeg"], max_pixels=WIDTH * HEIGHT).shape == (HEIGHT, WIDTH, 3)
    assert pillow_limit == Image.MAX_IMAGE_PIXELS


@pytest.mark.parametrize("size", [(64, 1), (1, 64)])
def test_an_image_one_pixel_across_either_way_is_too_small(size: tuple[int, int]) -> None:
    with pytest.raises(ImageDecodeError, match=rf"^thin\.png: too small \({size[0]}x{size[1]}\)$"):
        read_image(cv2.imencode(".png", np.zeros(size[::-1], np.uint8))[1].tobytes(), name="thin.png")


def test_a_decoding_error_without_a_message_is_named_by_its_type() -> None:
    # "corrupt or truncated (struct.error)" rather than an empty "()"
    assert first_line(ValueError()) == "ValueError" and first_line(ValueError(" two\nlines ")) == "two"


def test_error_pickles_with_its_fields() -> None:
    error = pickle.loads(pickle.dumps(ImageDecodeError("a.jpg", "too small (1x1)")))
    assert (error.name, error.reason, str(error)) == ("a.jpg", "too small (1x1)", "a.jpg: too small (1x1)")


def test_error_message_stays_on_one_line() -> None:
    assert str(ImageDecodeError("odd\nname.jpg", "not an image")) == "odd name.jpg: not an image"


def _marked_image() -> np.ndarray:
    """A 40x24 RGB image whose top-left corner is red, so any rotation or flip shows."""
    rgb = np.full((24, 40, 3), (0, 0, 255), np.uint8)
    rgb[:8, :8] = (255, 0, 0)
    return rgb


def _save_with_orientation(path: Path, rgb: np.ndarray, orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(path, exif=exif, **({"quality": 95} if path.suffix == ".jpg" else {}))


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
@pytest.mark.parametrize(("orientation", "turns_anticlockwise"), [(3, 2), (6, -1)])
def test_exif_rotation(tmp_path: Path, suffix: str, orientation: int, turns_anticlockwise: int) -> None:
    rgb = _marked_image()
    path = tmp_path / f"rotated{suffix}"
    _save_with_orientation(path, rgb, orientation)
    expected = np.rot90(rgb[..., ::-1], turns_anticlockwise)
    image = read_image(path)
    assert image.shape == expected.shape
    assert np.abs(image.astype(int) - expected).mean() < 3


@pytest.mark.parametrize("suffix", [".png", ".tif"])  # Pillow turns a TIFF upright itself as it loads
@pytest.mark.parametrize("orientation", range(1, 9))
def test_all_exif_orientations_match_pillow(tmp_path: Path, orientation: int, suffix: str) -> None:
    path = tmp_path / f"oriented{suffix}"
    _save_with_orientation(path, _marked_image(), orientation)
    upright = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    assert np.array_equal(read_image(path), upright[..., ::-1])


@pytest.mark.parametrize("suffix", [".heic", ".avif"])
def test_phone_formats_are_read_upright(tmp_path: Path, suffix: str) -> None:
    from PIL import features

    if suffix == ".heic":
        pytest.importorskip("pillow_heif").register_heif_opener()  # to write one; reading registers it itself
    elif not features.check("avif"):
        pytest.skip("this Pillow was built without AVIF")
    rgb = _marked_image()
    path = tmp_path / f"phone{suffix}"
    exif = Image.Exif()
    exif[0x0112] = 6
    # given as bytes, pillow-heif writes the turn as the file's own rotation (irot), as phones do and as HEIF readers
    # follow (they ignore the EXIF tag: pillow-heif sets it to 1 on reading); AVIF keeps the tag
    Image.fromarray(rgb).save(path, exif=exif.tobytes(), quality=95)
    assert [name for _, name in list_images([tmp_path])] == [path.name]
    expected = np.rot90(rgb[..., ::-1], -1)
    image = read_image(path)
    assert image.shape == expected.shape
    assert np.abs(image.astype(int) - expected).mean() < 8  # lossy, as a phone's photo is


def test_a_heic_without_the_heif_extra_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pillow_heif").register_heif_opener()
    path = tmp_path / "IMG_0001.HEIC"
    Image.fromarray(_marked_image()).save(path, format="HEIF")
    from platelab.io import decode

    monkeypatch.setattr(decode, "_heif_registered", lambda: False)
    with pytest.raises(ImageDecodeError, match=r"IMG_0001\.HEIC: a HEIC image, read with the heif extra: pip install"):
        read_image(path)


def test_a_heic_with_a_long_list_of_brands_is_still_told_by_them(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from platelab.io import decode

    monkeypatch.setattr(decode, "_heif_registered", lambda: False)
    brands = b"mif1" + b"\0\0\0\0" + b"miafMA1BMiHBMiHAMiHEMiPrmiCmmiPrjpegmsf1isomiso8mp41" + b"heic"
    box = (8 + len(brands)).to_bytes(4, "big") + b"ftyp" + brands  # 72 bytes: its last brand past the first 64
    (tmp_path / "IMG_0002.HEIC").write_bytes(box + bytes(64))
    with pytest.raises(ImageDecodeError, match="a HEIC image, read with the heif extra"):
        read_image(tmp_path / "IMG_0002.HEIC")


def test_bad_exif_is_ignored(bad_images: dict[str, Path]) -> None:
    jpeg = bad_images["normal_jpeg"].read_bytes()
    broken_exif = b"\xff\xe1\x00\x10Exif\x00\x00II*\x00\xff\xff\xff\x7f"  # IFD offset far past the end
    assert read_image(jpeg[:2] + broken_exif + jpeg[2:]).shape == (HEIGHT, WIDTH, 3)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (np.tile(np.linspace(0, 1, 64, dtype=np.float32), (8, 1)), np.round(np.linspace(0, 255, 64))),  # fractions
        (np.tile(np.arange(64, dtype=np.int32) * 257, (8, 1)), np.arange(64)),  # 16-bit levels in 32 bits
        (np.tile(np.arange(64, dtype=np.int32) * 100_000, (8, 1)), np.round(np.arange(64) * 255 / 63)),  # stretched
        (np.tile(np.linspace(-0.5, 1, 64, dtype=np.float32), (8, 1)), np.round(np.linspace(0, 255, 64))),  # too
        (np.full((8, 64), 5.0, np.float32), np.zeros(64)),  # one level and no scale: black
        (np.tile(np.r_[np.nan, np.linspace(0, 1, 63)].astype(np.float32), (8, 1)),  # NaN as 0, the rest fractions
         np.r_[0, np.round(np.linspace(0, 255, 63))]),
    ],
)
def test_32_bit_grey_tiffs_keep_their_levels(tmp_path: Path, values: np.ndarray, expected: np.ndarray) -> None:
    path = tmp_path / "wide.tif"
    Image.fromarray(values).save(path)
    assert np.array_equal(read_image(path)[0, :, 0], expected.astype(np.uint8))


def test_a_floating_point_colour_tiff_is_refused_for_its_pixels_not_called_damaged(tmp_path: Path) -> None:
    colour = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (8, 1))
    cv2.imwrite(str(tmp_path / "hdr.tif"), cv2.merge([colour, colour, colour]))
    with pytest.raises(ImageDecodeError, match=r"hdr\.tif: floating-point colour pixels, which platelab does not "
                                               r"read; save it with 8 or 16 bits a channel$"):
        read_image(tmp_path / "hdr.tif")
    (tmp_path / "cut.tif").write_bytes((tmp_path / "hdr.tif").read_bytes()[:12])  # its tags gone: damaged
    with pytest.raises(ImageDecodeError, match=r"cut\.tif: corrupt or truncated$"):
        read_image(tmp_path / "cut.tif")


def test_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x")
    os.mkfifo(tmp_path / "b.jpg")
    assert [name for _, name in list_images([tmp_path])] == ["a.jpg"]
    with pytest.raises(FileNotFoundError, match="not a regular file or folder"):
        list_images([tmp_path / "b.jpg"])
    with pytest.raises(ImageDecodeError, match=r"b\.jpg: not a regular file"):
        read_image(tmp_path / "b.jpg")


# --- listing --------------------------------------------------------------------------------------------


@pytest.fixture
def photo_tree(tmp_path: Path) -> Path:
    names = ["b.jpg", "a.PNG", "notes.txt", "sub/c.webp", "sub/deeper/d.tiff", "sub/f.gif", ".hidden.jpg",
             ".cache/e.jpg"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    return tmp_path


def test_list_folder_recursively_sorted_with_relative_names(photo_tree: Path) -> None:
    listed = list_images([photo_tree])
    assert [name for _, name in listed] == ["a.PNG", "b.jpg", "sub/c.webp", "sub/deeper/d.tiff", "sub/f.gif"]
    assert all(path.is_file() for path, _ in listed)


def test_folders_beside_other_inputs_name_their_files_with_the_folder_as_given(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    for folder in ("cam1", "cam2"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "car.jpg").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    # two cameras' folders often hold files of the same names: the outputs must tell them apart
    assert [name for _, name in list_images(["cam1/", "cam2"])] == ["cam1/car.jpg", "cam2/car.jpg"]
    assert [name for _, name in list_images(["cam1/"])] == ["car.jpg"]  # one folder: named inside it, as ever
    assert [name for _, name in list_images([".", "cam2/car.jpg"])] == ["cam1/car.jpg", "cam2/car.jpg"]


def test_list_file_keeps_name_as_given_and_any_suffix(photo_tree: Path) -> None:
    given = str(photo_tree / "notes.txt")
    assert list_images([given]) == [(Path(given), given)]


def test_list_glob_and_no_repeats(photo_tree: Path) -> None:
    pattern = str(photo_tree / "*")
    listed = list_images([pattern, photo_tree / "b.jpg"])
    names = [name for _, name in listed]
    assert names[:2] == [str(photo_tree / "a.PNG"), str(photo_tree / "b.jpg")]
    sub = (photo_tree / "sub").as_posix()
    assert names[2:] == [f"{sub}/c.webp", f"{sub}/deeper/d.tiff", f"{sub}/f.gif"]


def test_a_linked_folder_is_read_as_a_glob_reads_it_and_a_loop_ends(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "o.jpg").write_bytes(b"x")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.jpg").write_bytes(b"x")
    (tree / "linked").symlink_to(outside, target_is_directory=True)
    (outside / "back").symlink_to(tree, target_is_directory=True)  # a loop through the link
    from_folder = [name for _, name in list_images([tree])]
    assert from_folder == ["a.jpg", "linked/deep/o.jpg"]
    from_glob = [name for _, name in list_images([f"{tree.as_posix()}/**"])]
    assert [name.removeprefix(f"{tree.as_posix()}/") for name in from_glob] == from_folder


@pytest.mark.parametrize("missing", ["nowhere/absent.jpg", "nowhere/*.jpg"])
def test_list_missing_path_names_it(tmp_path: Path, missing: str) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path / missing).replace("*", r"\*")):
        list_images([tmp_path / missing])


# --- results --------------------------------------------------------------------------------------------


def _plate(text: str = "AB123", confidence: float = 0.987654321) -> PlateResult:
    return PlateResult(
        text=text,
        confidence=confidence,
        chars=tuple(CharResult(c, 0.5) for c in text),
        box=(10, 20, 100, 30),
        quad=((10.0, 20.0), (110.0, 21.0), (109.5, 50.0), (10.0, 49.0)),
    )


def test_json_line_round_trips_and_rounds() -> None:
    result = ImageResult("cars/x.jpg", (_plate(confidence=np.float32(0.987654321)),))
    line = to_json_line(result)
    assert "\n" not in line and " " not in line
    decoded = json.loads(line)
    assert decoded["file"] == "cars/x.jpg"
    plate = decoded["plates"][0]
    assert plate["confidence"] == 0.9877
    assert plate["text"] == "AB123" and [c["char"] for c in plate["chars"]] == list("AB123")
    assert plate["box"] == [10, 20, 100, 30] and plate["quad"][2] == [109.5, 50.0]
    assert set(plate) == {"text", "confidence", "chars", "box", "quad"}  # the optional keys only when set


def test_json_line_error_form_and_odd_names() -> None:
    assert json.loads(to_json_line(ImageResult("bad.jpg", error="bad.jpg: not an image"))) == {
        "file": "bad.jpg",
        "error": "bad.jpg: not an image",
    }
    plate = PlateResult("Ö1", 1.0, (), (0, 0, 1, 1), ((0, 0), (1, 0), (1, 1), (0, 1)))
    line = to_json_line(ImageResult("\u2028odd.jpg", (plate,)))
    assert line.isascii()
    assert json.loads(line)["plates"][0]["text"] == "Ö1"


def test_a_plate_at_another_confidence_has_its_own_candidate_at_exactly_that() -> None:
    unsure = PlateResult("AB1", 0.0, (), (0, 0, 1, 1), ((0, 0), (1, 0), (1, 1), (0, 1)),
                         candidates=(Candidate("AB1", 0.0), Candidate("A81", 0.0)))
    assert unsure.with_confidence(0.5).candidates == (Candidate("AB1", 0.5), Candidate("A81", 0.0))
    sure = replace(unsure, confidence=0.8, candidates=(Candidate("AB1", 0.8), Candidate("A81", 0.4)))
    assert sure.with_confidence(0.4).candidates == (Candidate("AB1", 0.4), Candidate("A81", 0.2))


def test_plate_needs_four_corners() -> None:
    with pytest.raises(ValueError, match="4 corners"):
        PlateResult("A", 1.0, (), (0, 0, 1, 1), ((0, 0), (1, 0), (1, 1)))


# --- atomic writes --------------------------------------------------------------------------------------


def test_atomic_writes_leave_only_the_target(tmp_path: Path) -> None:
    atomic_write_bytes(tmp_path / "a.bin", b"\x00\x01")
    atomic_write_text(tmp_path / "b.txt", "héllo\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.txt"]
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == "héllo\n"


def test_atomic_path_keeps_old_file_when_block_raises(tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as temp:
        temp.write_bytes(b"half-written")
        raise RuntimeError("writer failed")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_atomic_path_names_the_target_for_a_full_disk_and_nothing_else(tmp_path: Path) -> None:
    import errno

    target = tmp_path / "model.onnx"
    with pytest.raises(OSError) as full, atomic_path(target):
        raise OSError(errno.ENOSPC, "No space left on device")  # a write to the temporary file names no file
    assert full.value.filename == str(target)
    with pytest.raises(OSError) as piped, atomic_path(target):
        raise OSError(errno.EPIPE, "Broken pipe")  # not the file being written: its own message stays
    assert piped.value.filename is None
    source = tmp_path / "source.onnx"
    with pytest.raises(OSError) as unread, atomic_path(target):
        raise OSError(errno.EIO, "Input/output error", str(source))
    assert unread.value.filename == str(source)
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_keeps_suffix_for_cv2(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    with atomic_path(target) as temp:
        assert temp.suffix == ".png" and temp.parent == tmp_path
        assert cv2.imwrite(str(temp), np.zeros((4, 4, 3), np.uint8))
    assert read_image(target).shape == (4, 4, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_atomic_file_mode_follows_umask(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644


# --- drawing --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(60, 40), (640, 480), (4000, 3000)])
def test_draw_plates_marks_a_copy(size: tuple[int, int]) -> None:
    width, height = size
    image = np.full((height, width, 3), 128, np.uint8)
    quad = tuple((width * fx, height * fy) for fx, fy in [(0.3, 0.4), (0.7, 0.4), (0.7, 0.6), (0.3, 0.6)])
    plate = PlateResult("AB123", 0.9, (), (0, 0, 1, 1), quad)
    drawn = draw_plates(image, [plate])
    assert drawn.shape == image.shape and np.all(image == 128)
    assert np.any(drawn != 128)
    assert np.any(drawn[round(height * 0.4)] != 128)


def test_draw_plates_accepts_grey_and_no_plates() -> None:
    grey = np.zeros((20, 30), np.uint8)
    assert draw_plates(grey, []).shape == (20, 30, 3)


def test_montage_layout() -> None:
    images = [np.full((30, 90, 3), i * 40, np.uint8) for i in range(5)] + [np.zeros((10, 10), np.uint8)]
    sheet = montage(images, [f"plate {i}" for i in range(6)], cols=4, cell=(40, 20))
    strip = 12
    assert sheet.shape == (2 * (20 + strip + 2) - 2, 4 * (40 + 2) - 2, 3)
    assert tuple(sheet[10, 20]) == (0, 0, 0)  # first image, letterboxed to 40x13 in the middle of its cell
    assert montage(images[:2], None, cols=4, cell=(40, 20)).shape == (20, 82, 3)


def test_montage_checks_arguments() -> None:
    with pytest.raises(ValueError, match="at least one"):
        montage([], None, 3, (10, 10))
    with pytest.raises(ValueError, match="captions"):
        montage([np.zeros((4, 4, 3), np.uint8)], ["a", "b"], 3, (10, 10))


def test_a_link_back_inside_the_folder_leaves_its_files_their_own_names(tmp_path: Path) -> None:
    (tmp_path / "zeta").mkdir()
    (tmp_path / "zeta" / "a.jpg").write_bytes(b"x")
    (tmp_path / "alpha").symlink_to(tmp_path / "zeta", target_is_directory=True)  # sorts before its target
    assert [name for _, name in list_images([tmp_path])] == ["zeta/a.jpg"]


def test_a_synthetic_sets_montage_is_no_input_but_a_preview_png_elsewhere_is(tmp_path: Path) -> None:
    from platelab.synth.style import select_styles
    from platelab.synth.writer import write_crops

    write_crops(tmp_path / "set", 2, select_styles(["us-texas"]), preview=True, progress=False)
    assert (tmp_path / "set" / "preview.png").is_file()
    assert [name for _, name in list_images([tmp_path / "set"])] == ["crop_000000.png", "crop_000001.png"]
    assert len(list_images([f"{(tmp_path / 'set').as_posix()}/*.png"])) == 2
    named = tmp_path / "set" / "preview.png"
    assert list_images([named]) == [(named, str(named))]  # named: read whatever it is
    (tmp_path / "album").mkdir()
    (tmp_path / "album" / "preview.png").write_bytes(b"x")  # someone's photo of that name
    assert [name for _, name in list_images([tmp_path / "album"])] == ["preview.png"]


@pytest.mark.parametrize("name", ["a\0b.jpg", "x" * 300 + ".jpg"])
def test_a_name_that_cannot_be_opened_gives_a_one_line_error(tmp_path: Path, name: str) -> None:
    path = f"{tmp_path}/{name}"  # a NUL byte, or longer than the file system's limit
    with pytest.raises(ImageDecodeError, match="cannot read file") as caught:
        read_image(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_a_file_far_bigger_than_its_pixels_need_is_refused_unread(tmp_path: Path) -> None:
    # a 16-bit colour PNG went to OpenCV whole: gigabytes of (sparse) trailing bytes were all read into memory
    path = tmp_path / "padded.png"
    cv2.imwrite(str(path), np.full((10, 10, 3), 40000, np.uint16))
    os.truncate(path, 40_000_000)
    with pytest.raises(ImageDecodeError) as caught:
        read_image(path, max_pixels=1000)
    assert str(caught.value) == (f"{path}: too large: 40.0 MB, where no image within the 0.001 MP limit needs over "
                                 "16.8 MB")
    os.truncate(path, 8 * 1000 + (16 << 20))  # the largest a file may be: read up to its image's end
    assert read_image(path, max_pixels=1000).shape == (10, 10, 3)
    assert read_image(path.read_bytes()[:10_000], max_pixels=1000).shape == (10, 10, 3)


def test_a_16_bit_565_bmp_is_decoded_by_pillow(tmp_path: Path) -> None:
    # its raw mode, BGR;16, once sent it to the 16-bit colour path, where OpenCV gives 8 bits
    pixels = np.full((2, 4), 0xF800, "<u2").tobytes()  # red, 4 pixels a row: rows need no padding
    info = struct.pack("<IiiHHIIiiII", 40, 4, 2, 1, 16, 3, len(pixels), 0, 0, 0, 0)
    masks = struct.pack("<III", 0xF800, 0x07E0, 0x001F)
    offset = 14 + len(info) + len(masks)
    path = tmp_path / "565.bmp"
    path.write_bytes(b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + masks + pixels)
    assert _close(read_image(path)[0, 0], RED, 0)


def test_sixteen_bit_levels_round_to_eight_with_no_wider_temporary() -> None:
    import tracemalloc

    levels = np.arange(65536, dtype=np.uint16)
    expected = np.round(levels / 257).astype(np.uint8)  # no level sits at a half: round(v / 257) is exact
    for given in (levels, levels.astype(">u2"), levels.astype(np.float64)):
        assert (sixteen_to_eight_bits(given) == expected).all(), given.dtype
    assert sixteen_to_eight_bits(np.array([70000.0, -3.0])).tolist() == [255, 0]
    # a 50 MP 16-bit RGBA photo once took about 3 GB here: 32-bit temporaries, each 4 times the output
    rgba = np.random.default_rng(0).integers(0, 65536, (500, 500, 4), dtype=np.uint16)
    tracemalloc.start()
    try:
        eight = sixteen_to_eight_bits(rgba)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * eight.nbytes


@pytest.mark.parametrize("damage", ["cut", "crc"])
def test_a_damaged_16_bit_colour_png_fails_in_one_line_and_nothing_else(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], damage: str
) -> None:
    """Pillow loads the file first: libpng, inside OpenCV, printed its own line to stderr, naming no file."""
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), np.random.default_rng(1).integers(0, 65536, (60, 120, 3), dtype=np.uint16))
    encoded = bytearray(path.read_bytes())
    if damage == "cut":
        del encoded[len(encoded) // 2 :]
    else:  # pixel data that no longer matches its chunk's checksum
        encoded[200:260] = bytes(60)
    path.write_bytes(encoded)
    capfd.readouterr()
    with pytest.raises(ImageDecodeError, match="corrupt or truncated"):
        read_image(path)
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("corner", ["nan", "inf", "-inf"])
def test_a_photo_label_with_a_corner_that_is_no_number_is_refused_naming_its_line(tmp_path: Path, corner: str) -> None:
    from platelab.io.labels import LabelError, read_labels

    corners = ["10", "20", "110", "20", "110", "50", "10", "50"]
    corners[3] = corner
    (tmp_path / "labels.tsv").write_text("file\tx\ty\tw\th\tplate\tx1\ty1\tx2\ty2\tx3\ty3\tx4\ty4\n"
                                         "a.jpg\t10\t20\t100\t30\tABC123\t" + "\t".join(corners) + "\n")
    with pytest.raises(LabelError, match=r"labels\.tsv:2: corners x1\.\.y4 must be finite numbers"):
        read_labels(tmp_path)
