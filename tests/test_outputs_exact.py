"""Exact values a reviewer's mutations showed no test pinned: detector peaks and scores, box clipping, plate order,
the JSON of video plates, 16-bit rounding, damaged-file wording, photo scoring's defaults, upload limits to the
byte, and watch-list spellings."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from platelab.eval.metrics import score_photos
from platelab.io.decode import ImageDecodeError, read_image
from platelab.io.labels import PhotoLabel
from platelab.io.results import CharResult, ImageResult, PlateResult, to_json_line
from platelab.predict.detector import decode_detections, encode_offsets
from platelab.predict.reader import quad_box
from platelab.predict.watch import WatchList

STRIDE = 8
PLATE_CORNERS = np.array([[-3, -1], [3, -1], [3, 1], [-3, 1]], np.float32)  # cells around the peak: 6 x 2


def _outputs(peaks: dict[tuple[int, int], float], size: tuple[int, int] = (24, 40)) -> tuple[np.ndarray, np.ndarray]:
    """A heatmap with a 3x3 blob at each peak (its neighbours half of it) and every cell's corners 6 x 2 cells."""
    heatmap = np.zeros(size, np.float32)
    for (row, col), score in peaks.items():
        heatmap[row - 1 : row + 2, col - 1 : col + 2] = np.maximum(heatmap[row - 1 : row + 2, col - 1 : col + 2],
                                                                    0.5 * score)
        heatmap[row, col] = score
    corners = np.broadcast_to(encode_offsets(PLATE_CORNERS).reshape(8, 1, 1), (8, *size)).copy()
    return heatmap, corners


def test_a_blob_is_one_detection_scored_at_its_peak_and_placed_at_its_corners() -> None:
    heatmap, corners = _outputs({(10, 20): 0.9})
    [found] = decode_detections(heatmap, corners, 0.3, STRIDE)
    assert found.score == pytest.approx(0.9)
    assert np.allclose(found.quad, (PLATE_CORNERS + np.float32([20.5, 10.5])) * STRIDE, atol=1e-4)


def test_two_peaks_on_one_plate_are_one_detection_and_two_plates_are_two() -> None:
    heatmap, corners = _outputs({(10, 20): 0.9, (10, 22): 0.7})  # two peaks two cells apart: one 6-cell-wide plate
    assert [d.score for d in decode_detections(heatmap, corners, 0.3, STRIDE)] == pytest.approx([0.9])
    heatmap, corners = _outputs({(5, 8): 0.6, (18, 30): 0.9})
    assert [d.score for d in decode_detections(heatmap, corners, 0.3, STRIDE)] == pytest.approx([0.9, 0.6])


def test_a_box_is_clipped_to_the_image_where_the_quad_runs_past_it() -> None:
    quad = np.array([[-20.5, -3.0], [60.0, -3.0], [60.0, 30.2], [-20.5, 30.2]], np.float32)
    assert quad_box(quad, (25, 50, 3)) == (0, 0, 50, 25)


def test_a_photos_plates_come_best_first() -> None:
    from platelab.api import Reader
    from platelab.synth.config import SynthConfig
    from platelab.synth.scene import render_scene
    from platelab.synth.style import select_styles

    rng = np.random.default_rng(5)
    styles, cfg = select_styles(["us-*"]), SynthConfig()
    scene_cfg = cfg.scene.model_copy(update={"plates": (3, 4), "empty_p": 0.0})
    reader, orders = Reader(min_confidence=0.0), []
    for _ in range(4):
        plates = reader.read(render_scene(styles, rng, scene_cfg, cfg.light, cfg.camera).image)
        orders.append([p.confidence for p in plates])
    assert any(len(order) > 1 for order in orders)
    assert all(order == sorted(order, reverse=True) for order in orders)


def test_a_video_plates_json_has_its_frames_seconds_and_each_characters_confidence() -> None:
    plate = PlateResult("AB1", 0.5, tuple(CharResult(c, 0.25) for c in "AB1"), (1, 2, 3, 4),
                        ((1, 2), (4, 2), (4, 6), (1, 6)), frames=(3, 9), seconds=(0.1, 0.3))
    [out] = json.loads(to_json_line(_image(plate)))["plates"]
    assert out["frames"] == [3, 9] and out["seconds"] == [0.1, 0.3]
    assert out["chars"] == [{"char": c, "confidence": 0.25} for c in "AB1"]


def _image(plate: PlateResult) -> ImageResult:
    return ImageResult("clip.mp4", plates=(plate,))


def test_16_bit_levels_round_to_the_nearest_8_bit_one(tmp_path: Path) -> None:
    from PIL import Image

    levels = np.array([[0, 128, 129, 200, 65535, 65407]], np.uint16).repeat(4, 0)
    Image.fromarray(levels).save(tmp_path / "grey16.png")
    assert read_image(tmp_path / "grey16.png")[0, :, 0].tolist() == [0, 0, 1, 1, 255, 255]


@pytest.mark.parametrize("suffix", [".png", ".tiff"])
def test_16_bit_colour_levels_round_as_grey_ones_do(tmp_path: Path, suffix: str) -> None:
    levels = np.array([0, 128, 129, 200, 65535, 65407], np.uint16)
    bgr = np.stack([levels, levels[::-1], np.roll(levels, 2)], axis=-1)[None].repeat(4, 0)
    cv2.imwrite(str(tmp_path / f"colour16{suffix}"), bgr)
    decoded = read_image(tmp_path / f"colour16{suffix}")
    rounded = [0, 0, 1, 1, 255, 255]
    assert decoded[0, :, 0].tolist() == rounded
    assert decoded[0, :, 1].tolist() == rounded[::-1]
    assert decoded[0, :, 2].tolist() == np.roll(rounded, 2).tolist()


def test_16_bit_colour_with_alpha_lies_on_white(tmp_path: Path) -> None:
    bgra = np.zeros((4, 4, 4), np.uint16)
    bgra[:, :2] = (0, 0, 65535, 65535)  # opaque red
    bgra[:, 2:] = (0, 0, 65535, 0)  # transparent: white paper
    cv2.imwrite(str(tmp_path / "rgba16.png"), bgra)
    decoded = read_image(tmp_path / "rgba16.png")
    assert decoded[0].tolist() == [[0, 0, 255]] * 2 + [[255, 255, 255]] * 2


def test_16_bit_colour_png_is_turned_upright_by_its_exif_chunk(tmp_path: Path) -> None:
    stored = np.zeros((2, 3, 3), np.uint16)
    stored[0, 0] = 65535  # white top-left as stored
    ok, encoded = cv2.imencode(".png", stored)
    assert ok
    png = encoded.tobytes()
    # orientation 6 (stored turned left: shown turned 90 degrees clockwise) in an eXIf chunk after IHDR
    exif = b"MM\x00*\x00\x00\x00\x08\x00\x01" + struct.pack(">HHIHH", 0x0112, 3, 1, 6, 0) + b"\x00" * 4
    chunk = struct.pack(">I", len(exif)) + b"eXIf" + exif + struct.pack(">I", zlib.crc32(b"eXIf" + exif))
    (tmp_path / "turned.png").write_bytes(png[:33] + chunk + png[33:])
    upright = read_image(tmp_path / "turned.png")
    assert upright.shape == (3, 2, 3)
    assert upright[0, 1].tolist() == [255, 255, 255]
    assert int(upright.sum()) == 3 * 255


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_16_bit_colour_tiff_is_turned_upright_once(tmp_path: Path, orientation: int) -> None:
    tifffile = pytest.importorskip("tifffile")
    from PIL import Image

    stored = np.zeros((2, 3, 3), np.uint16)
    stored[0, 0] = 65535  # one white pixel, top-left as stored
    tifffile.imwrite(tmp_path / "t.tif", stored, photometric="rgb", extratags=[(274, 3, 1, orientation, True)])
    # the same picture in 8 bits with the same tag, which Pillow turns upright (exif_transpose: the tag's meaning)
    eight = Image.fromarray((stored // 257).astype(np.uint8))
    exif = eight.getexif()
    exif[0x0112] = orientation
    eight.save(tmp_path / "t.png", exif=exif)
    assert np.array_equal(read_image(tmp_path / "t.tif"), read_image(tmp_path / "t.png"))


def test_a_truncated_16_bit_colour_png_is_called_damaged(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "whole.png"), np.full((64, 64, 3), 40000, np.uint16))
    (tmp_path / "cut.png").write_bytes((tmp_path / "whole.png").read_bytes()[:120])
    with pytest.raises(ImageDecodeError, match=r"cut\.png: corrupt or truncated"):
        read_image(tmp_path / "cut.png", name="cut.png")


def test_a_file_that_starts_as_a_png_but_breaks_is_called_damaged_not_a_non_image(tmp_path: Path) -> None:
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)  # starts as PNG, no plugin takes it
    with pytest.raises(ImageDecodeError, match=r"broken\.png: corrupt or truncated"):
        read_image(tmp_path / "broken.png", name="broken.png")


def test_photo_scoring_counts_per_photo_matches_at_iou_0_3_and_finds_one_plate_per_box() -> None:
    labels = [PhotoLabel("two.jpg", "LEFT1", (0, 0, 100, 50), None),
              PhotoLabel("two.jpg", "RIGHT2", (300, 0, 100, 50), None)]
    # IoU 0.35 with the left plate, its centre outside it; one false plate; two plates in one photo
    scores = score_photos(labels, {"two.jpg": [((40, 0, 130, 50), "LEFT1"), ((600, 0, 50, 20), "JUNK")]})
    assert scores.hits == [True, False] and scores.false_per_photo == 1.0
    # IoU 0.24 with its centre outside the plate: not found
    assert score_photos(labels, {"two.jpg": [((60, 0, 110, 50), "LEFT1")]}).found == [False, False]
    # one box over two plates finds one of them, not two
    close = [PhotoLabel("two.jpg", "LEFT1", (0, 0, 100, 50), None), PhotoLabel("two.jpg", "RIGHT2", (110, 0, 100, 50),
                                                                                None)]
    assert score_photos(close, {"two.jpg": [((0, 0, 210, 50), "LEFT1")]}).n_detected == 1


def _read_as(text: str) -> PlateResult:
    return PlateResult(text, 0.9, (), (0, 0, 1, 1), ((0, 0), (1, 0), (1, 1), (0, 1)))


def test_a_watch_list_keeps_its_first_spelling_and_matches_a_reading_written_with_separators() -> None:
    wanted = WatchList(["ABC1O3", "ABC103", "XYZ 789"])  # O and 0 look alike: the first spelling is the wanted one
    assert wanted.match(_read_as("ABC103")) == "ABC1O3"
    assert wanted.match(_read_as("XYZ-789")) == "XYZ789"
