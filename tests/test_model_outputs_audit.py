"""A user's own recognizer or detector whose outputs are pathological (NaN, infinite, logits instead of probabilities,
corners that overflow, readings of nothing): refused in one line naming the model, or no plate, never a traceback
or a NaN in a result; and degenerate arrays read by the shipped models."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from platelab.api import Reader, Recognizer  # noqa: E402
from platelab.cli import app  # noqa: E402
from platelab.io.results import PlateResult  # noqa: E402
from platelab.predict.detector import INPUT_SIZE, STRIDE, decode_detections, encode_offsets  # noqa: E402
from platelab.predict.session import ModelLoadError, ModelOutputError  # noqa: E402
from platelab.weights import default_model  # noqa: E402

WIDTH, HEIGHT = INPUT_SIZE
MAP = (HEIGHT // STRIDE, WIDTH // STRIDE)
FRAMES, CLASSES = 32, 37  # the shipped recognizer's: 36 characters and the CTC blank, last
BLANK = CLASSES - 1
PLATE = np.float32([[-12, -4], [12, -4], [12, 4], [-12, 4]])  # corners in cells from the plate's centre


def _with_metadata(graph: onnx.GraphProto, task: str, path: Path) -> Path:
    """graph saved at path with the shipped model's platelab metadata, so that platelab loads it as a task model."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.metadata_props.extend(onnx.load(str(default_model(task))).metadata_props)
    onnx.save(model, str(path))
    return path


def _recognizer(probs: np.ndarray, path: Path) -> Path:
    """A recognizer giving probs (frames, classes) for every crop: the input, zeroed, only sets the batch size."""
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 1, 64, 128])
    out = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", *probs.shape])
    nodes = [helper.make_node("Mul", ["image", "zero"], ["zeroed"]),
             helper.make_node("ReduceSum", ["zeroed", "axes"], ["per_image"], keepdims=0),
             helper.make_node("Unsqueeze", ["per_image", "last"], ["per_image_1_1"]),
             helper.make_node("Add", ["per_image_1_1", "table"], ["probs"])]
    tables = [numpy_helper.from_array(np.array(0, np.float32), "zero"),
              numpy_helper.from_array(np.array([2, 3], np.int64), "axes"),
              numpy_helper.from_array(np.array([2], np.int64), "last"),
              numpy_helper.from_array(probs.astype(np.float32), "table")]
    return _with_metadata(helper.make_graph(nodes, "recognizer", [image], [out], tables), "recognizer", path)


def _detector(heatmap: np.ndarray, corners: np.ndarray, path: Path) -> Path:
    """A detector of fixed input size INPUT_SIZE giving heatmap (H, W) and corners (8, H, W) for every image."""
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 1, HEIGHT, WIDTH])
    outputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", channels, *MAP])
               for name, channels in (("heatmap", 1), ("corners", 8))]
    nodes = [helper.make_node("Mul", ["image", "zero"], ["zeroed"]),
             helper.make_node("AveragePool", ["zeroed"], ["cells"], kernel_shape=[STRIDE] * 2, strides=[STRIDE] * 2),
             helper.make_node("Add", ["cells", "heat_table"], ["heatmap"]),
             helper.make_node("Add", ["cells", "corner_table"], ["corners"])]
    tables = [numpy_helper.from_array(np.array(0, np.float32), "zero"),
              numpy_helper.from_array(heatmap.astype(np.float32)[None, None], "heat_table"),
              numpy_helper.from_array(corners.astype(np.float32)[None], "corner_table")]
    return _with_metadata(helper.make_graph(nodes, "detector", [image], outputs, tables), "detector", path)


def _plate_probs() -> np.ndarray:
    """A sure reading of ABC1234: each character one frame between blanks."""
    classes = [BLANK] * 4 + [c for char in (10, 11, 12, 1, 2, 3, 4) for c in (char, BLANK)] + [BLANK] * 14
    probs = np.full((FRAMES, CLASSES), 0.1 / CLASSES, np.float32)
    probs[np.arange(FRAMES), classes] += 0.9
    return probs


def _peaks(*peaks: tuple[int, int, float]) -> np.ndarray:
    heatmap = np.zeros(MAP, np.float32)
    for row, col, score in peaks:
        heatmap[row, col] = score
    return heatmap


def _corners(encoded: np.ndarray) -> np.ndarray:
    return np.broadcast_to(np.asarray(encoded, np.float32).reshape(8, 1, 1), (8, *MAP)).copy()


GOOD_CORNERS = _corners(encode_offsets(PLATE))
CROP = np.full((40, 120, 3), 128, np.uint8)
PHOTO = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)


def _one_line_naming(error: BaseException, path: Path, reason: str) -> None:
    assert isinstance(error, ModelLoadError)  # what the CLI and a caller of the API already catch
    message = str(error)
    assert message.startswith(f"{path}: ") and reason in message, message
    assert len(message.splitlines()) == 1


def _assert_sound(plates: list[PlateResult], shape: tuple[int, ...]) -> None:
    """Every number of every plate finite, confidences within 0..1, boxes inside the image, some text."""
    for plate in plates:
        numbers = [plate.confidence, *(c.confidence for c in plate.chars), *(c.confidence for c in plate.candidates),
                   *plate.box, *(v for corner in plate.quad for v in corner)]
        assert all(math.isfinite(v) for v in numbers), plate
        assert 0 <= plate.confidence <= 1 and all(0 <= c.confidence <= 1 for c in plate.chars), plate
        x, y, w, h = plate.box
        assert 0 <= x <= x + w <= shape[1] and 0 <= y <= y + h <= shape[0], plate
        assert plate.text, plate


NAN_FRAME = np.where(np.arange(FRAMES)[:, None] == 5, np.nan, _plate_probs())


@pytest.mark.parametrize(("probs", "reason"), [
    (np.full((FRAMES, CLASSES), np.nan), "gave NaN or infinite probabilities"),
    (NAN_FRAME, "gave NaN or infinite probabilities"),  # read before as A0BC1234 at a NaN confidence
    (np.where(np.isnan(NAN_FRAME), np.inf, NAN_FRAME), "gave NaN or infinite probabilities"),
    (_plate_probs() * 20 - 5, "gave probabilities from -4.9"),  # logits: no softmax; read as MMMMMMM at inf
    (_plate_probs() * 3, "outside 0 to 1"),  # read as ABC1234 at 2.7 million
    (np.ones((FRAMES, CLASSES)), "totals at each place run from 37 to 37"),  # read as M at 3.4
    (np.zeros((FRAMES, CLASSES)), "totals at each place run from 0 to 0"),  # read as 0 at 0
], ids=["nan", "one nan frame", "one inf", "logits", "above 1", "all ones", "all zeros"])
def test_a_recognizer_whose_outputs_are_no_probabilities_is_refused_naming_it(
    tmp_path: Path, probs: np.ndarray, reason: str
) -> None:
    path = _recognizer(probs, tmp_path / "mine.onnx")
    recognizer = Recognizer(path, prior="auto", candidates=3)
    with pytest.raises(ModelOutputError) as caught:
        recognizer.read([CROP])
    _one_line_naming(caught.value, path, reason)
    detector = _detector(_peaks((30, 40, 0.9)), GOOD_CORNERS, tmp_path / "finds.onnx")
    with pytest.raises(ModelOutputError):  # in photos too, where a NaN confidence passed no threshold: no plate
        Reader(detector, path, refine=False).read(PHOTO.copy())


def test_an_8_bit_recognizer_whose_outputs_are_rounded_is_read_as_before(tmp_path: Path) -> None:
    # steps of 1/255 leave the small probabilities 0 and the totals off 1: still a softmax's, within the slack
    rounded = np.round(_plate_probs() * 255) / 255
    assert np.abs(rounded.sum(1) - 1).max() > 1e-3
    [plate] = Recognizer(_recognizer(rounded, tmp_path / "mine.onnx")).read([CROP])
    assert plate.text == "ABC1234" and 0 < plate.confidence <= 1


@pytest.mark.parametrize(("heatmap", "corners", "reason"), [
    (np.full(MAP, np.nan), GOOD_CORNERS, "gave NaN or infinite heatmap scores"),  # before: no plate
    (_peaks((30, 40, np.inf)), GOOD_CORNERS, "gave NaN or infinite heatmap scores"),  # before: a plate at inf
    (_peaks((30, 40, 5.0)), GOOD_CORNERS, "gave heatmap scores from 0 to 5, outside 0 to 1"),  # a plate at 4.3
    (np.full(MAP, -3.0), GOOD_CORNERS, "gave heatmap scores from -3 to -3"),  # logits: before, no plate
    (_peaks((30, 40, 0.9)), _corners(np.full(8, np.nan)), "gave NaN or infinite corners"),  # before: a traceback
], ids=["nan heatmap", "inf peak", "logit peak", "negative heatmap", "nan corners"])
def test_a_detector_whose_outputs_are_no_scores_or_corners_is_refused_naming_it(
    tmp_path: Path, heatmap: np.ndarray, corners: np.ndarray, reason: str
) -> None:
    path = _detector(heatmap, corners, tmp_path / "mine.onnx")
    with pytest.raises(ModelOutputError) as caught:
        Reader(detector=path, recognizer=_recognizer(_plate_probs(), tmp_path / "reads.onnx")).read(PHOTO.copy())
    _one_line_naming(caught.value, path, reason)


def test_the_command_names_a_detector_giving_nan_in_one_line(tmp_path: Path) -> None:
    path = _detector(np.full(MAP, np.nan), GOOD_CORNERS, tmp_path / "mine.onnx")
    cv2.imwrite(str(tmp_path / "car.png"), PHOTO)
    result = CliRunner().invoke(app, ["read", "--json", "--detector", str(path), str(tmp_path / "car.png")])
    assert result.exit_code == 2, result.output  # before: 0, every photo "without plates"
    assert result.output.strip().splitlines() == [f"platelab: {path}: gave NaN or infinite heatmap scores: the model "
                                                  "does not work (did its training diverge, or its export overflow?)"]


@pytest.mark.parametrize("encoded", [1e3, 60.0, 20.0], ids=["inf", "beyond float32 squares", "beyond the view"])
def test_a_peak_whose_corners_reach_past_the_view_is_no_plate(tmp_path: Path, encoded: float) -> None:
    # before, the crop's size came out NaN: "ValueError: cannot convert float NaN to integer", a traceback
    corners = GOOD_CORNERS.copy()
    corners[:, 30, 40] = np.float32([-1, -1, 1, -1, 1, 1, -1, 1]) * encoded
    heatmap = _peaks((30, 40, 0.9), (60, 120, 0.8))
    assert [d.score for d in decode_detections(heatmap, corners, 0.2)] == pytest.approx([0.8])
    models = (_detector(heatmap, corners, tmp_path / "mine.onnx"), _recognizer(_plate_probs(), tmp_path / "reads.onnx"))
    for refine in (True, False):  # the box below is the unrefined reading's
        plates = Reader(*models, min_confidence=0, min_chars=0, refine=refine).read(PHOTO.copy())
        _assert_sound(plates, PHOTO.shape)
        assert [p.text for p in plates] == ["ABC1234"]
    # the good peak's cell centre, in a photo of the detector's own input size
    left, top = (PLATE.min(0) + np.float32([120.5, 60.5])) * STRIDE
    assert plates[0].box == (round(left), round(top), 24 * STRIDE, 8 * STRIDE)


def test_a_reading_of_nothing_is_no_plate_even_with_min_chars_0(tmp_path: Path, demo_scene: Path) -> None:
    blank = np.zeros((FRAMES, CLASSES), np.float32)
    blank[:, BLANK] = 1.0
    photo = cv2.imread(str(demo_scene))
    reader = Reader(recognizer=_recognizer(blank, tmp_path / "blank.onnx"), min_confidence=0, min_chars=0,
                    refine=False)
    assert reader.read(photo) == []  # before: both plates, each with an empty text
    assert [p.text for p in Recognizer(tmp_path / "blank.onnx").read([CROP])] == [""]  # a crop: one result each


def test_a_detector_scoring_every_cell_1_gives_at_most_a_bounded_number_of_sound_plates(tmp_path: Path) -> None:
    heatmap = np.ones(MAP, np.float32)
    reader = Reader(detector=_detector(heatmap, GOOD_CORNERS, tmp_path / "mine.onnx"),
                    recognizer=_recognizer(_plate_probs(), tmp_path / "reads.onnx"), min_confidence=0, min_chars=0)
    plates = reader.read(PHOTO.copy())
    assert 1 <= len(plates) <= 64
    _assert_sound(plates, PHOTO.shape)


def test_views_read_only_and_fortran_arrays_read_as_the_photo_itself(demo_scene: Path) -> None:
    photo = cv2.imread(str(demo_scene))
    reader = Reader()
    expected = [(p.text, p.box) for p in reader.read(photo)]
    assert len(expected) == 2
    frozen = photo.copy()
    frozen.setflags(write=False)
    strided = np.repeat(photo, 2, axis=1)[:, ::2]  # a view with a step: not contiguous
    for image in (frozen, strided, np.asfortranarray(photo), photo.astype(np.uint16) * 257):
        assert [(p.text, p.box) for p in reader.read(image)] == expected


def test_flat_and_extreme_arrays_give_no_plate_and_one_sound_crop_reading() -> None:
    reader, recognizer = Reader(), Recognizer()
    for shape in ((2, 2, 3), (10000, 8, 3), (8, 10000), (720, 1280, 3)):
        for level in (0, 255):
            image = np.full(shape, level, np.uint8)
            assert reader.read(image) == [], (shape, level)
            [reading] = recognizer.read([image])
            assert math.isfinite(reading.confidence) and 0 <= reading.confidence <= 1, (shape, level)
