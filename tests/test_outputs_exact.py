"""Exact values a reviewer's mutations showed no test pinned: detector peaks and scores, overlaps, limits, stride and
input sizes, box clipping, plate order, the JSON of video plates, 16-bit rounding, damaged-file wording, photo
scoring's defaults, upload limits to the byte, and watch-list spellings."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from platelab.eval.metrics import score_photos
from platelab.io.decode import ImageDecodeError, read_image
from platelab.io.labels import PhotoLabel
from platelab.io.results import CharResult, ImageResult, PlateResult, to_json_line
from platelab.predict.detector import (
    MAX_DETECTIONS,
    Detection,
    DetectionPredictor,
    decode_detections,
    encode_offsets,
    quad_iou,
    suppress_overlaps,
)
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


def test_a_peak_scoring_exactly_min_score_is_a_detection() -> None:
    # min_score is the lowest score kept, not one to beat
    heatmap, corners = _outputs({(10, 20): 0.5})
    assert [d.score for d in decode_detections(heatmap, corners, 0.5, STRIDE)] == [0.5]


def test_plates_stacked_two_cells_apart_are_two_detections() -> None:
    # two 2-cell-high plates touching one above the other: the weaker peak is the maximum of its own 3 x 3 cells
    heatmap, corners = _outputs({(10, 20): 0.9, (12, 20): 0.7})
    assert [d.score for d in decode_detections(heatmap, corners, 0.3, STRIDE)] == pytest.approx([0.9, 0.7])


def test_at_most_max_detections_are_kept_and_they_are_the_best() -> None:
    # 100 separate plates on a 10 x 10 grid: a heatmap full of peaks cannot flood the recognizer
    peaks = {(1 + 3 * (i // 10), 3 + 7 * (i % 10)): 0.3 + 0.005 * i for i in range(100)}
    heatmap, corners = _outputs(peaks, size=(32, 72))
    found = decode_detections(heatmap, corners, 0.3, STRIDE)
    assert [d.score for d in found] == pytest.approx(sorted(peaks.values(), reverse=True)[:MAX_DETECTIONS])


@pytest.mark.parametrize(("shift", "kept"), [(4.5, 1), (6.0, 2)])
def test_a_weaker_detection_overlapping_a_stronger_one_by_over_0_3_iou_is_the_same_plate(shift: float,
                                                                                         kept: int) -> None:
    # two 10 x 2 quads, the weaker shifted right: by 4.5 they share 0.38 of their union, by 6 only 0.25
    quad = np.float32([[0, 0], [10, 0], [10, 2], [0, 2]])
    found = suppress_overlaps([Detection(0.9, quad), Detection(0.8, quad + np.float32([shift, 0]))])
    assert [d.score for d in found] == [0.9, 0.8][:kept]


def test_a_self_crossing_quad_overlaps_as_its_hull_does() -> None:
    # a bad prediction with two corners swapped is a bow-tie of no area; taken as its hull it is the plate itself
    quad = np.float32([[0, 0], [10, 0], [10, 4], [0, 4]])
    assert quad_iou(quad[[0, 1, 3, 2]], quad) == pytest.approx(1.0)


class OutputsSession:
    """Stands in for a detector's onnxruntime session: its input has the given shape (names where sizes are open),
    every image it runs gets the same outputs, and it keeps the shape of each batch it was fed."""

    def __init__(self, outputs: tuple[np.ndarray, np.ndarray], shape: list[int | str]) -> None:
        self.heatmap, self.corners = outputs
        self.shape = shape
        self.fed: list[tuple[int, ...]] = []

    def get_inputs(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(shape=self.shape)]

    def run(self, names: None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        batch = feeds["image"]
        self.fed.append(batch.shape)
        return [np.repeat(self.heatmap[None, None], len(batch), 0), np.repeat(self.corners[None], len(batch), 0)]


def _predictor(monkeypatch: pytest.MonkeyPatch, session: OutputsSession) -> DetectionPredictor:
    """A DetectionPredictor over session, whose metadata says stride STRIDE and input 320 x 192."""
    metadata = {"platelab_task": "detector", "stride": str(STRIDE), "input_size": "[320, 192]"}
    monkeypatch.setattr("platelab.predict.detector.load_session", lambda path, task, threads: (session, metadata))
    return DetectionPredictor("detector.onnx")


def test_quads_are_placed_by_the_models_own_stride_in_the_photos_pixels(monkeypatch: pytest.MonkeyPatch) -> None:
    # a stride-8 model fed a photo twice its 320 x 192 input: the peak's corners in cells, times 8, times 2
    session = OutputsSession(_outputs({(10, 20): 0.9}), [1, 1, 192, 320])
    [found] = _predictor(monkeypatch, session).detect(np.zeros((384, 640, 3), np.uint8))
    assert session.fed == [(1, 1, 192, 320)]
    assert np.allclose(found.quad, (PLATE_CORNERS + np.float32([20.5, 10.5])) * STRIDE * 2, atol=1e-4)


@pytest.mark.parametrize(("shape", "fed"), [
    (["batch", 1, "height", "width"], (2, 1, 384, 640)),  # exported with open sizes: run at the size asked
    ([1, 1, 192, 320], (2, 1, 192, 320)),  # fixed: always at its own input size
])
def test_a_model_with_open_sizes_runs_at_the_size_asked_and_a_fixed_one_at_its_own(
    monkeypatch: pytest.MonkeyPatch, shape: list[int | str], fed: tuple[int, ...]
) -> None:
    session = OutputsSession(_outputs({(10, 20): 0.9}), shape)
    predictor = _predictor(monkeypatch, session)
    assert predictor.detect_batch([], (640, 384), 0.3) == [] and session.fed == []  # no images: no run
    found = predictor.detect_batch([np.zeros((384, 640), np.uint8)] * 2, (640, 384), 0.3)
    assert session.fed == [fed]
    expected = (PLATE_CORNERS + np.float32([20.5, 10.5])) * STRIDE * 640 / fed[3]  # back in the photo's pixels
    assert [len(f) for f in found] == [1, 1] and all(np.allclose(f[0].quad, expected, atol=1e-4) for f in found)


def test_a_box_is_clipped_to_the_image_where_the_quad_runs_past_it() -> None:
    quad = np.array([[-20.5, -3.0], [60.0, -3.0], [60.0, 30.2], [-20.5, 30.2]], np.float32)
    assert quad_box(quad, (25, 50, 3)) == (0, 0, 50, 25)


def test_a_box_holds_every_pixel_its_quad_reaches() -> None:
    # from the floor of the least corner to the ceiling of the greatest: 10.2 to 40.3 across covers pixels 10 to 40
    quad = np.float32([[10.2, 5.7], [40.3, 5.7], [40.3, 20.1], [10.2, 20.1]])
    assert quad_box(quad, (100, 100, 3)) == (10, 5, 31, 16)


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
    bgra[:, 2] = (0, 0, 65535, 0)  # transparent: white paper
    bgra[:, 3] = (129, 65407, 200, 65535)  # opaque, its levels rounded as without alpha (not cut to their high byte)
    cv2.imwrite(str(tmp_path / "rgba16.png"), bgra)
    decoded = read_image(tmp_path / "rgba16.png")
    assert decoded[0].tolist() == [[0, 0, 255]] * 2 + [[255, 255, 255], [1, 255, 1]]


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


@pytest.mark.parametrize("start", [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*", b"GIF87a",
                                   b"GIF89a", b"RIFF\x00\x00\x00\x00WEBP"],
                         ids=["png", "jpeg", "bmp", "tiff-le", "tiff-be", "gif87a", "gif89a", "webp"])
def test_a_file_that_starts_as_an_image_but_breaks_is_called_damaged_not_a_non_image(tmp_path: Path,
                                                                                      start: bytes) -> None:
    (tmp_path / "broken.img").write_bytes(start + b"\x00" * 10)  # starts as the format, no plugin takes it
    with pytest.raises(ImageDecodeError, match=r"broken\.img: corrupt or truncated"):
        read_image(tmp_path / "broken.img", name="broken.img")


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


def test_a_plates_line_holds_its_file_text_confidence_box_seconds_and_wanted_plate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import platelab.api
    from platelab.cli import app

    plate = PlateResult("AB1", 0.98765, (), (1, 2, 3, 4), ((1, 2), (4, 2), (4, 6), (1, 6)), seconds=(0.126, 2.5),
                        wanted="AB-1")
    monkeypatch.setattr(platelab.api, "read_paths", lambda *args, **kwargs: iter([_image(plate)]))
    result = CliRunner().invoke(app, ["read", "clip.mp4"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "clip.mp4\tAB1\t0.988\t1,2,3,4\t0.13-2.50s\twanted: AB-1\n"


def test_two_empty_boxes_and_boxes_that_only_touch_do_not_overlap() -> None:
    from platelab.utils.boxes import box_iou

    assert box_iou((5, 5, 0, 0), (5, 5, 0, 0)) == 0.0
    assert box_iou((0, 0, 10, 10), (10, 0, 10, 10)) == box_iou((0, 0, 10, 10), (0, 10, 10, 10)) == 0.0


def test_a_plates_label_holds_its_confidence_and_sits_on_it_where_there_is_no_room_above() -> None:
    from platelab.io.draw import OUTLINE, draw_plates

    white = np.full((200, 400, 3), 255, np.uint8)
    plate = PlateResult("AB1", 0.5, (), (100, 5, 100, 40), ((100, 5), (200, 5), (200, 45), (100, 45)))
    drawn = draw_plates(white, [plate])
    assert (drawn[:4] == 255).all()  # the label starts at the plate's top, 5 rows down, not at the photo's
    text_width = cv2.getTextSize("AB1 0.50", cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)[0][0]
    assert (drawn[6, 100 : 100 + text_width] == OUTLINE).all()  # the label's padding row, above its text
