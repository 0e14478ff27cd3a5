from pathlib import Path

import numpy as np
import pytest

from platelab.eval import (
    box_iou,
    char_error_rate,
    edit_operations,
    failure_montage,
    format_crop_report,
    format_photo_report,
    score_crops,
    score_photos,
)
from platelab.eval.metrics import IOU_MIN, overlaps
from platelab.eval.stats import wilson_interval
from platelab.io.labels import (
    CropLabel,
    LabelError,
    PhotoLabel,
    labels_kind,
    normalize_plate,
    read_labels,
    read_photo_set,
    write_crop_labels,
    write_photo_labels,
)
from tests.conftest import REAL_DATA as REAL


@pytest.mark.parametrize(
    ("truth", "pred", "expected"),
    [
        ("ABC123", "ABC123", 0.0),
        ("KITTEN", "SITTING", 3 / 6),
        ("ABC", "", 1.0),
        ("ABC", "ACB", 2 / 3),  # no transpositions in Levenshtein
        ("8ABC123", "BABC123", 1 / 7),
        ("ABC", "ABCDE", 2 / 3),
        ("", "", 0.0),
        ("", "AB", 2.0),  # empty truth: each predicted character is an error
    ],
)
def test_char_error_rate(truth: str, pred: str, expected: float) -> None:
    assert char_error_rate(truth, pred) == pytest.approx(expected)


def test_edit_operations_mark_substitutions_deletions_insertions() -> None:
    assert edit_operations("ABC", "A8C") == [("B", "8")]
    assert edit_operations("ABCD", "ABD") == [("C", "∅")]
    assert edit_operations("XY", "XYZ") == [("∅", "Z")]
    assert edit_operations("SAME", "SAME") == []


def test_edit_operations_come_in_reading_order_and_break_ties_as_documented() -> None:
    assert edit_operations("ABC123", "X8C12Y") == [("A", "X"), ("B", "8"), ("3", "Y")]
    # where alignments of equal cost differ, the docstring's rule (walking back from the end: substitution, then
    # deletion, then insertion) picks one, so the confusions of a set do not depend on chance
    assert edit_operations("7ABC12", "ABC127") == [("7", "∅"), ("∅", "7")]
    assert edit_operations("ABA", "BAB") == [("∅", "B"), ("A", "∅")]


def test_normalize_plate() -> None:
    assert normalize_plate(" ab-12.3 c ") == "AB123C"
    assert normalize_plate("ÄB 1") == "ÄB1"  # a letter outside A-Z is kept: a plate is never scored as a shorter one


def test_confusions_counted_and_ranked() -> None:
    scores = score_crops(["ABC", "O01", "OO", "ABCD", "XY"], ["A8C", "001", "00", "ABD", "XYZ"], ["x"] * 5)
    assert scores.confusions == [("O", "0", 3), ("B", "8", 1), ("C", "∅", 1), ("∅", "Z", 1)]
    assert scores.exact == 0.0
    assert scores.cer == pytest.approx(6 / 14)  # edits / truth characters
    # equally frequent confusions by their characters, not by which crop came first
    assert score_crops(["Z1", "A2"], ["Y1", "B2"]).confusions == [("A", "B", 1), ("Z", "Y", 1)]


def test_scores_grouped_by_length_and_region() -> None:
    truths = ["ABC123", "abc-124", "XY12", "XY13", "LONGER7"]
    preds = ["ABC123", "ABC124", "XY12", "XY18", "LONGER1"]
    scores = score_crops(truths, preds, ["ca", "ca", "ny", "ny", "ca"])
    assert scores.n == 5
    assert scores.exact == pytest.approx(3 / 5)
    assert scores.by_length == {4: (2, 0.5), 6: (2, 1.0), 7: (1, 0.0)}
    assert scores.by_region == {"ca": (3, pytest.approx(2 / 3)), "ny": (2, 0.5)}
    assert list(scores.by_length) == [4, 6, 7]  # the report's rows, shortest first whatever the crops' order
    with pytest.raises(ValueError, match="2 predictions"):
        score_crops(["A", "B", "C"], ["A", "B"], ["", "", ""])


def test_the_crops_read_exactly_are_counted_whole_for_their_interval() -> None:
    # 187 / 370 * 370 is 186.99999999999997 in floats: cut to an int it would give 186's interval
    scores = score_crops(["A"] * 370, ["A"] * 187 + ["B"] * 183)
    assert scores.n_exact == 187 and scores.to_dict()["n_exact"] == 187
    assert scores.exact_interval == wilson_interval(187, 370)


def test_scores_by_confidence_count_what_a_threshold_keeps() -> None:
    truths = ["ABC123", "ABC124", "XY12", "XY13"]
    preds = ["ABC123", "ABC124", "XY12", "XY18"]
    scores = score_crops(truths, preds, confidences=[0.95, 0.6, 0.35, 0.8])
    assert scores.by_confidence == {0.3: (4, 0.75), 0.5: (3, pytest.approx(2 / 3)), 0.7: (2, 0.5), 0.9: (1, 1.0)}
    assert score_crops(truths, preds).by_confidence == {}
    # a reading exactly at a threshold is kept, as `--min-confidence` keeps it; kept is the share of all crops
    at_step = score_crops(["AB1", "AB2"], ["AB1", "AB2"], confidences=[0.5, 0.2])
    assert at_step.by_confidence[0.5] == (1, 1.0) and at_step.kept == {0.3: 0.5, 0.5: 0.5, 0.7: 0.0, 0.9: 0.0}
    with pytest.raises(ValueError, match="3 confidences for 4 crops"):
        score_crops(truths, preds, confidences=[0.1, 0.2, 0.3])


def test_predicted_texts_are_compared_as_normalized_as_the_labels() -> None:
    scores = score_crops(["ABC123", "XY12"], ["abc-123", "xy 12"])
    assert (scores.exact, scores.cer, scores.confusions) == (1.0, 0.0, [])


def test_box_iou() -> None:
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (10, 0, 10, 10)) == 0.0


def test_score_photos_hit_wrong_text_miss_and_false_plate() -> None:
    labels = [
        PhotoLabel("hit.jpg", "ABC123", (100, 100, 100, 50), None),
        PhotoLabel("wrong.jpg", "XYZ789", (10, 10, 80, 40), None),
        PhotoLabel("miss.jpg", "MISS1", (300, 300, 60, 30), None),
        PhotoLabel("loose.jpg", "LOOSE1", (120, 60, 160, 90), None),  # IoU 0.28, but the centre lies inside
        PhotoLabel("unpredicted.jpg", "NONE1", (0, 0, 50, 20), None),
    ]
    predictions = {
        "hit.jpg": [((105, 102, 95, 48), "abc-123"), ((110, 105, 80, 40), "ABC12")],  # a duplicate: not false
        "wrong.jpg": [((12, 10, 78, 40), "XYZ788")],
        "miss.jpg": [((0, 0, 60, 30), "MISS1")],  # the right text somewhere else: a false plate
        "loose.jpg": [((150, 80, 100, 40), "LOOSE1")],
        "unlabelled.jpg": [((0, 0, 10, 10), "IGNORED")],
    }
    scores = score_photos(labels, predictions)
    assert (scores.n_plates, scores.n_photos) == (5, 5)
    assert (scores.n_detected, scores.n_read, scores.n_false) == (3, 2, 1)
    assert scores.detected == pytest.approx(3 / 5)
    assert scores.read == pytest.approx(2 / 5)
    assert scores.false_per_photo == pytest.approx(1 / 5)
    assert scores.found == [True, True, False, True, False]
    assert scores.hits == [True, False, False, True, False]
    assert scores.failures == [
        ("wrong.jpg", "XYZ789", "XYZ788"),
        ("miss.jpg", "MISS1", ""),
        ("unpredicted.jpg", "NONE1", ""),
    ]
    assert scores.false_plates == [("miss.jpg", (0, 0, 60, 30), "MISS1")]
    assert scores.missed == [1, 2, 4]  # each failure's index among all labels: the montage draws labels[i].box
    report = format_photo_report(scores, "set")
    assert "### False plates (all 1;" in report and "| miss.jpg | MISS1 | 0,0,60,30 |" in report


def test_score_photos_matches_each_plate_once() -> None:
    labels = [
        PhotoLabel("two.jpg", "LEFT1", (0, 0, 100, 50), None),
        PhotoLabel("two.jpg", "RIGHT2", (200, 0, 100, 50), None),
    ]
    predictions = {"two.jpg": [((205, 0, 100, 50), "RIGHT2"), ((0, 2, 100, 50), "LEFT1")]}
    scores = score_photos(labels, predictions)
    assert (scores.n_photos, scores.n_read, scores.n_false) == (1, 2, 0)


def test_score_photos_finds_as_many_plates_as_the_boxes_allow() -> None:
    # the wide box overlaps both plates as much as the narrow one overlaps the left plate alone, so the wide box
    # must go to the right plate for both plates to count
    labels = [PhotoLabel("p.jpg", "LEFT1", (0, 0, 100, 50), None), PhotoLabel("p.jpg", "RIGHT2", (100, 0, 100, 50),
                                                                               None)]
    predictions = {"p.jpg": [((0, 0, 200, 50), "RIGHT2"), ((0, 0, 40, 50), "LEFT1")]}
    scores = score_photos(labels, predictions)
    assert scores.found == [True, True] and scores.hits == [True, True]


def test_a_box_round_half_the_photo_does_not_find_the_plate_at_its_centre() -> None:
    labels = [PhotoLabel("car.jpg", "ABC123", (930, 530, 60, 20), None)]
    assert score_photos(labels, {"car.jpg": [((0, 0, 1920, 1080), "ABC123")]}).found == [False]
    assert score_photos(labels, {"car.jpg": [((920, 525, 80, 30), "ABC123")]}).hits == [True]


def test_a_box_finds_a_plate_by_its_iou_or_by_its_centre_within_four_times_its_size() -> None:
    plate = (0, 0, 100, 40)
    assert overlaps((40, 0, 160, 40), plate, IOU_MIN)  # IoU exactly 0.3, its centre outside
    assert overlaps((50, 10, 60, 20), plate, IOU_MIN)  # IoU 0.24, its centre (80, 20) inside
    assert overlaps((70, 0, 60, 40), plate, IOU_MIN)  # IoU 0.23, its centre on the plate's right edge
    assert not overlaps((20, 40, 60, 20), plate, IOU_MIN)  # its centre (50, 50) below the plate
    assert overlaps((25, 10, 50, 20), plate, IOU_MIN)  # a quarter of the plate's area, IoU 0.25
    assert not overlaps((30, 12, 40, 20), plate, IOU_MIN)  # a fifth: too small to be the plate


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "labels.tsv").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("", 1, "empty labels file"),
        ("name\tplate\n", 1, "unknown header"),
        ("file\tstate\tplate\na.png\tca\tABC1\nb.png\tABC2\n", 3, "expected 3 tab-separated columns, got 2"),
        ("file\tstate\tplate\na.png\tca\t\n", 2, "empty plate"),
        ("file\tstate\tplate\na.png\tca\t---\n", 2, "no letters or digits"),
        ("file\tx\ty\tw\th\tplate\na.jpg\t1\t2\t3\t4\tAB1\na.jpg\t5\t2\t3\t4\tAB2\na.jpg\t1\t2\t3\t4\tAB1\n", 4,
         "the same plate box in a.jpg as line 2"),
        (
            "file\tx\ty\tw\th\tplate\na.jpg\t1\t2\t3\t4\tAB1\n\nb.jpg\t1\ttwo\t3\t4\tAB2\n",
            4,
            "must be integers",
        ),
        ("file\tx\ty\tw\th\tplate\na.jpg\t1\t2\t0\t4\tAB1\n", 2, "must be positive"),
        ("file\tx\ty\tw\th\tplate\na.jpg\t1\t2\t3\t0\tAB1\n", 2, "must be positive"),
        ("file\tx\ty\tw\th\tplate\na.jpg\t5\t\t\t\t\n", 2, "empty plate"),  # not a photo without plates
        (
            "file\tx\ty\tw\th\tplate\tx1\ty1\tx2\ty2\tx3\ty3\tx4\ty4\na.jpg\t1\t2\t3\t4\tAB1\t1\t2\t3\tq\t5\t6\t7\t8\n",
            2,
            "eight numbers",
        ),
        (  # some corners but not all: not a row without corners
            "file\tx\ty\tw\th\tplate\tx1\ty1\tx2\ty2\tx3\ty3\tx4\ty4\na.jpg\t1\t2\t3\t4\tAB1\t1\t2\t3\t\t5\t6\t7\t8\n",
            2,
            "eight numbers",
        ),
    ],
)
def test_malformed_labels_name_file_and_line(tmp_path: Path, text: str, line: int, reason: str) -> None:
    folder = _write(tmp_path, text)
    with pytest.raises(LabelError, match=reason) as error:
        read_labels(folder)
    assert str(error.value).startswith(f"{folder / 'labels.tsv'}:{line}: ")
    assert error.value.line == line


def test_missing_labels_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"labels\.tsv"):
        read_labels(tmp_path)


def test_crop_labels_round_trip(tmp_path: Path) -> None:
    rows = [CropLabel("a.png", "ABC123", "ca"), CropLabel("b.png", "B12XY", ""), CropLabel("c.png", "ЖК 123", "ru")]
    write_crop_labels(tmp_path / "labels.tsv", rows)
    assert labels_kind(tmp_path) == "crops"
    assert read_labels(tmp_path) == rows
    assert [p.name for p in tmp_path.iterdir()] == ["labels.tsv"]  # no temporary file left behind


def test_photo_labels_round_trip_with_and_without_corners(tmp_path: Path) -> None:
    quad = ((10.25, 20.0), (110.5, 21.0), (109.0, 70.125), (9.0, 69.0))
    rows = [
        PhotoLabel("s1.jpg", "AB123", (9, 20, 102, 51), quad),
        PhotoLabel("s1.jpg", "CD45", (1, 2, 3, 4), None),
    ]
    write_photo_labels(tmp_path / "labels.tsv", rows)
    assert labels_kind(tmp_path) == "photos"
    assert read_labels(tmp_path) == rows
    plain = [PhotoLabel("p.jpg", "XY9", (5, 6, 7, 8), None)]
    write_photo_labels(tmp_path / "labels.tsv", plain)
    assert (tmp_path / "labels.tsv").read_text().splitlines()[0] == "file\tx\ty\tw\th\tplate"
    assert read_labels(tmp_path / "labels.tsv") == plain


def test_a_photo_without_plates_is_a_row_of_its_file_alone_and_its_false_plates_count(tmp_path: Path) -> None:
    plate = PhotoLabel("car.jpg", "AB123", (9, 20, 102, 51), ((9.0, 20.0), (111.0, 20.0), (111.0, 71.0), (9.0, 71.0)))
    write_photo_labels(tmp_path / "labels.tsv", [plate], ["road.jpg", "car.jpg", "empty.jpg"])
    lines = (tmp_path / "labels.tsv").read_text().splitlines()
    assert lines[1] == "road.jpg" + "\t" * 13 and lines[3] == "empty.jpg" + "\t" * 13
    assert read_labels(tmp_path, "photos") == [plate]
    labels, files = read_photo_set(tmp_path)
    assert labels == [plate] and files == ["road.jpg", "car.jpg", "empty.jpg"]
    predictions = {"car.jpg": [((10, 20, 100, 50), "AB123")], "road.jpg": [((0, 0, 40, 20), "SIGN1")]}
    scores = score_photos(labels, predictions, photos=files)
    assert (scores.n_photos, scores.n_plates, scores.n_read, scores.n_false) == (3, 1, 1, 1)
    assert scores.false_plates == [("road.jpg", (0, 0, 40, 20), "SIGN1")]
    assert score_photos(labels, predictions).n_false == 0  # without them, the road's false plate went unseen
    # a photo said to hold no plate and labelled with one is a contradiction, named by its line
    (tmp_path / "labels.tsv").write_text(f"{lines[0]}\n{lines[2]}\ncar.jpg" + "\t" * 13 + "\n")
    with pytest.raises(LabelError, match=r"labels\.tsv:3: car\.jpg is said to hold no plate, and a row labels "
                                         r"a plate in it \(AB123\)"):
        read_labels(tmp_path)


def test_labels_of_the_wrong_kind_are_refused_by_name(tmp_path: Path) -> None:
    rows = [CropLabel("a.png", "ABC123", "ca")]
    write_crop_labels(tmp_path / "labels.tsv", rows)
    assert read_labels(tmp_path, "crops") == rows
    with pytest.raises(LabelError, match="labels of crops where labels of photos are needed") as error:
        read_labels(tmp_path, "photos")
    assert str(error.value).startswith(f"{tmp_path / 'labels.tsv'}:1: ")


@pytest.mark.parametrize("separator", ["\t", "\r", "\n"])
def test_writing_rejects_tabs_and_line_breaks(tmp_path: Path, separator: str) -> None:
    # reading splits rows at any line break, \r included, and cells at tabs: such a cell would shift or split its row
    with pytest.raises(ValueError, match="plate"):
        write_crop_labels(tmp_path / "labels.tsv", [CropLabel("a.png", f"AB{separator}1", "ca")])


def test_writing_rejects_a_quad_without_four_corners(tmp_path: Path) -> None:
    # its row would have fewer cells than the header and the whole file would not read back
    three = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0))
    with pytest.raises(ValueError, match="a plate quad needs 4 corners, got 3"):
        write_photo_labels(tmp_path / "labels.tsv", [PhotoLabel("a.jpg", "AB1", (1, 2, 3, 4), three)])


def test_a_header_typed_with_capitals_and_spaces_is_read(tmp_path: Path) -> None:
    # as a spreadsheet may save it; "region" is taken for "state"
    folder = _write(tmp_path, "File \t Region\tPLATE\na.png\t ca \tABC1\n")
    assert read_labels(folder) == [CropLabel("a.png", "ABC1", "ca")]


@pytest.mark.parametrize(
    ("folder", "kind", "rows"), [("crops-us", "crops", 370), ("endtoend-us", "photos", 118)]
)
def test_real_labels(folder: str, kind: str, rows: int) -> None:
    if not (REAL / folder).is_dir():
        pytest.skip(f"{REAL / folder} not present")
    labels = read_labels(REAL / folder)
    assert labels_kind(REAL / folder) == kind
    assert len(labels) == rows
    assert all((REAL / folder / label.file).is_file() for label in labels)


def test_reports_are_markdown_tables() -> None:
    crops = format_crop_report(score_crops(["ABC1", "XY2"], ["A8C1", "XY2"], ["ca", "ny"]), "Crops")
    assert crops.startswith("## Crops")
    assert "| 2 | 50.0% | 9.5-90.5% | 14.3% |" in crops  # two crops say little: a wide 95% interval
    assert "| B | 8 | 1 |" in crops
    photos = format_photo_report(score_photos([PhotoLabel("a.jpg", "AB1", (0, 0, 9, 9), None)], {}), "Photos")
    assert "| 1 | 1 | 0.0% | 0.0% | 0.0-79.3% | 0.00 |" in photos
    assert "| a.jpg | AB1 | (missed) |" in photos


def test_failure_montage_tiles_only_failures() -> None:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (40 + i, 90, 3), np.uint8) for i in range(9)]
    images[0] = images[0][:, :, 0]  # grey crops are accepted too
    truths = [f"AB{i}" for i in range(9)]
    preds = [t if i % 4 == 0 else "X" for i, t in enumerate(truths)]  # 6 failures
    grid = failure_montage(images, truths, preds, cols=4)
    one = failure_montage(images[:1], truths[:1], truths[:1])
    assert grid.dtype == np.uint8 and grid.ndim == 3 and grid.shape[2] == 3
    assert 2 * one.shape[0] <= grid.shape[0] < 3 * one.shape[0]  # 2 rows and 4 columns of tiles, plus gaps
    assert 4 * one.shape[1] <= grid.shape[1] < 5 * one.shape[1]


def test_synthetic_styles_draw_their_own_plates_whatever_else_is_scored() -> None:
    from platelab.api import Recognizer
    from platelab.eval.synthetic import score_styles, style_seed
    from platelab.synth.crops import CropGenerator
    from platelab.synth.style import select_styles

    california, texas = select_styles(["us-california"])[0], select_styles(["us-texas"])[0]
    predictor = Recognizer().predictor
    alone = score_styles(predictor, [california], 4, seed=5)
    together = score_styles(predictor, [texas, california], 4, seed=5)
    assert alone[0] == together[1] and together[1].style == "us-california"
    # Arizona and Washington share a format: from one seed their plate 0 is the same number under the same camera.
    twins = select_styles(["us-arizona", "us-washington"])
    assert len({CropGenerator([s], seed=5).sample(0).text for s in twins}) == 1
    assert len({CropGenerator([s], seed=style_seed(5, s)).sample(0).text for s in twins}) == 2


@pytest.mark.parametrize(
    ("truth", "read", "kind"),
    [
        ("CPI4B11", "CPI4B1", "a character dropped or added"),
        ("9TO3494", "9T03494", "only O and 0 swapped"),
        ("OIO4L50", "0I04L50", "only O and 0 swapped"),
        ("1IR531", "11R531", "only look-alikes swapped (O/0, I/1, Q/0, D/0, B/8)"),
        ("DO81MJB", "D081MJ8", "only look-alikes swapped (O/0, I/1, Q/0, D/0, B/8)"),
        ("283WMT", "283MMT", "other substitutions"),
        ("O39M", "039H", "other substitutions"),
    ],
)
def test_misreadings_sorted_by_kind(truth: str, read: str, kind: str) -> None:
    from platelab.eval.synthetic import misread_kind

    assert misread_kind(truth, read) == kind


def test_clean_synthetic_plates_keep_their_numbers_and_lose_the_effects() -> None:
    from platelab.eval.synthetic import EFFECTS, style_seed
    from platelab.synth.crops import CropGenerator
    from platelab.synth.style import select_styles

    style = select_styles(["us-texas"])[0]
    crops = {name: CropGenerator([style], cfg, seed=style_seed(5, style)).sample(0) for name, cfg in EFFECTS.items()}
    assert len({c.text for c in crops.values()}) == 1
    assert all(p == 0 for cfg in (EFFECTS["none"].camera, EFFECTS["none"].light)
               for name, p in cfg.model_dump().items() if name.endswith("_p"))


def test_the_environment_line_names_the_runtime_and_the_cores() -> None:
    from importlib.metadata import version

    from platelab.eval.environment import describe_environment

    line = describe_environment()
    assert f"onnxruntime {version('onnxruntime')}" in line and "usable cores" in line and "\n" not in line


def test_the_environment_line_says_whether_opencv_runs_its_simd_paths() -> None:
    import cv2

    from platelab.eval.environment import opencv_simd, widest_simd

    assert widest_simd("SSE SSE2 SSE3 *SSE4.1 *SSE4.2 *FP16 *AVX *AVX2 *AVX512-SKX?") == "AVX2"
    assert widest_simd("SSE SSE2 *AVX2 *AVX512-SKX") == "AVX512-SKX" and widest_simd("") == "none"
    assert opencv_simd() == f"OpenCV SIMD up to {widest_simd(cv2.getCPUFeaturesLine())}"
    cv2.setUseOptimized(False)
    try:
        assert opencv_simd() == "OpenCV SIMD off"
    finally:
        cv2.setUseOptimized(True)
