"""Odd data a user brings to eval and finetune (found by fuzzing labelled folders): plates, rows and corners that were
read as something else without a word."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from platelab.eval.metrics import score_crops
from platelab.io.labels import LabelError, normalize_plate, read_labels

PHOTO_HEADER = "file\tx\ty\tw\th\tplate\tx1\ty1\tx2\ty2\tx3\ty3\tx4\ty4\n"


def _labels(folder: Path, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "labels.tsv").write_text(text, encoding="utf-8")
    return folder


def test_a_full_width_label_is_the_plate_it_shows_and_no_letter_is_dropped() -> None:
    # full-width plates were normalised to nothing: every crop a miss, at a CER of 34
    assert normalize_plate("ＳＡＭ １４９") == "SAM149"
    assert score_crops(["ＳＡＭ１４９"], ["SAM149"]).exact == 1.0
    # a model fine-tuned to read Ж that leaves it out is wrong, not right
    assert score_crops(["ЖAB123"], ["AB123"]).exact == 0.0
    assert normalize_plate(" ab-12.3 c\u200b🚗 ") == "AB123C"


def test_a_row_after_a_line_separator_in_a_cell_is_named_by_its_own_line(tmp_path: Path) -> None:
    folder = _labels(tmp_path, "file\tstate\tplate\na.png\tca\tABC123\u2028\nb.png\tc\x85a\tABC123\textra\n")
    with pytest.raises(LabelError, match=r"labels\.tsv:3: expected 3 tab-separated columns, got 4"):
        read_labels(folder)


@pytest.mark.parametrize(("corners", "why"), [
    ("10\t60\t110\t60\t110\t10\t10\t10", "clockwise"),  # bottom-left first: the plate cut upside down
    ("10\t10\t10\t60\t110\t60\t110\t10", "clockwise"),  # counter-clockwise: mirrored
    ("50\t50\t50\t50\t50\t50\t50\t50", "clockwise"),  # no plate at all
    ("500\t10\t600\t10\t600\t60\t500\t60", "not round the plate's box"),
])
def test_corners_in_another_order_or_away_from_the_box_are_refused(tmp_path: Path, corners: str, why: str) -> None:
    folder = _labels(tmp_path, PHOTO_HEADER + f"a.jpg\t10\t10\t100\t50\tABC123\t{corners}\n")
    with pytest.raises(LabelError, match=rf"labels\.tsv:2: corners x1..y4 .*{why}"):
        read_labels(folder)
    _labels(tmp_path, PHOTO_HEADER + "a.jpg\t10\t10\t100\t50\tABC123\t12\t12\t108\t10\t109\t58\t11\t60\n")
    assert read_labels(folder)[0].quad == ((12, 12), (108, 10), (109, 58), (11, 60))


def test_finetuning_data_with_no_plate_to_learn_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from platelab.predict.charset import Charset
    from platelab.train.finetune import load_labelled_crops

    cv2.imwrite(str(tmp_path / "empty.png"), np.full((120, 160, 3), 90, np.uint8))
    _labels(tmp_path, "file\tx\ty\tw\th\tplate\nempty.png\t\t\t\t\t\n")
    with pytest.raises(ValueError, match="no labelled plate to learn from"):
        load_labelled_crops(tmp_path, Charset())


def test_finetuning_refuses_a_crop_labelled_two_ways_and_names_look_alikes(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from platelab.predict.charset import Charset
    from platelab.train.finetune import load_labelled_crops, plate_text

    for name in ("a.png", "b.png", "c.png"):
        cv2.imwrite(str(tmp_path / name), np.full((40, 120, 3), 200, np.uint8))
    _labels(tmp_path, "file\tstate\tplate\na.png\tca\tABC123\na.png\tca\tXYZ999\nb.png\tca\tАBC123\n"
                      "c.png\tca\tＡＢＣ１２３\n")
    with pytest.raises(ValueError, match="2 problem") as error:
        load_labelled_crops(tmp_path, Charset())
    assert "a.png: labelled 'ABC123' and 'XYZ999'" in str(error.value)
    assert "'А' (U+0410 CYRILLIC CAPITAL LETTER A)" in str(error.value)  # not just an A that looks like the charset's
    assert plate_text("ＡＢＣ-１２３", Charset()) == "ABC123"
