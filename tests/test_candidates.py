"""A plate's most likely texts (--candidates): exact enumeration, the reading first, doubted characters and a
character too many, and the lists reaching JSON, the photo reader and the evaluation."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from platelab.api import Reader, Recognizer
from platelab.cli import app
from platelab.eval.metrics import score_crops, score_photos
from platelab.eval.synthetic import UNSEEN_SEED, unseen_crops
from platelab.io.labels import PhotoLabel, normalize_plate, read_labels
from platelab.io.results import Candidate, ImageResult, PlateResult, to_json_line
from platelab.predict.charset import Charset
from platelab.predict.decode import FormatPrior, decode_ctc, most_likely
from platelab.predict.thresholds import MIN_CANDIDATE_CHAR
from platelab.synth.style import builtin_styles
from tests.conftest import REAL_DATA

CHARSET = Charset()
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
QUAD = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))


def _frames(path: str, doubts: dict[int, dict[str, float]] | None = None) -> np.ndarray:
    """CTC frames whose best path is `path` ("_" = blank), each 0.9 sure; doubts[t] sets frame t's probabilities
    of some classes ("_" = blank) instead."""
    probs = np.full((len(path), CHARSET.classes), 0.1 / (CHARSET.classes - 1), np.float32)
    for t, c in enumerate(path):
        probs[t, CHARSET.pad_index if c == "_" else CHARSET.chars.index(c)] = 0.9
    for t, classes in (doubts or {}).items():
        probs[t] = 0.001
        for c, p in classes.items():
            probs[t, CHARSET.pad_index if c == "_" else CHARSET.chars.index(c)] = p
    return probs


def _sure(path: str, doubts: dict[int, dict[str, float]] | None = None) -> np.ndarray:
    """CTC frames whose best path is `path` ("_" = blank) at 1, every other class at 1e-4: under
    MIN_CANDIDATE_CHAR, as a float model's all but ruled-out classes; doubts[t] sets some of frame t's classes."""
    probs = np.full((len(path), CHARSET.classes), 1e-4, np.float32)
    for t, c in enumerate(path):
        probs[t, CHARSET.pad_index if c == "_" else CHARSET.chars.index(c)] = 1.0
    for t, classes in (doubts or {}).items():
        for c, p in classes.items():
            probs[t, CHARSET.pad_index if c == "_" else CHARSET.chars.index(c)] = p
    return probs


def _texts(decoded_candidates: tuple[tuple[str, float], ...]) -> list[str]:
    return [text for text, _ in decoded_candidates]


def test_most_likely_enumerates_the_best_sequences_exactly() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        probs = rng.dirichlet(np.ones(4), size=3)
        brute = sorted((float(np.prod(probs[[0, 1, 2], list(c)])) for c in itertools.product(range(4), repeat=3)),
                       reverse=True)
        found = most_likely(probs, 6)
        assert np.allclose([score for _, score in found], brute[:6])
        assert all(np.isclose(np.prod(probs[[0, 1, 2], classes]), score) for classes, score in found)


def test_the_reading_comes_first_then_the_character_the_network_doubted() -> None:
    # frame 3 holds the B, read at 0.6 with 8 at 0.35
    frames = _frames("_A_B_C_1_2_3_4_", {3: {"B": 0.6, "8": 0.35, "_": 0.04}})
    [plain] = decode_ctc(frames[None], CHARSET)
    [listed] = decode_ctc(frames[None], CHARSET, candidates=3)
    assert (listed.text, listed.confidence) == (plain.text, plain.confidence) == ("ABC1234", plain.confidence)
    assert listed.candidates[0] == ("ABC1234", plain.confidence)
    assert listed.candidates[1][0] == "A8C1234"
    assert listed.candidates[1][1] < plain.confidence and len(listed.candidates) == 3
    assert not plain.candidates  # none unless asked for


def test_a_character_too_many_is_dropped_in_a_candidate_read_under_the_prior() -> None:
    # A logo read as S before a six-character plate: the S's frames were 0.35 blank at most. The prior has no
    # seven-character format; the six left are read under LLLNNN, the doubted 0 in a letter place as O.
    prior = FormatPrior([([LETTERS] * 3 + [DIGITS] * 3, 1.0)], CHARSET)
    frames = _frames("_S_A_0_C_1_2_3_", {1: {"S": 0.6, "_": 0.35}, 5: {"0": 0.7, "O": 0.25}})
    [decoded] = decode_ctc(frames[None], CHARSET, prior, candidates=5)
    assert decoded.text == "SA0C123"
    assert "AOC123" in _texts(decoded.candidates)
    assert "A0C123" not in _texts(decoded.candidates)  # the format has a letter there


def test_texts_a_country_writes_alike_are_listed_once() -> None:
    # The US writes O as 0 in a vanity place: reading O or 0 there is one text, listed at the likelier reading.
    prior = FormatPrior([([LETTERS + DIGITS] * 5, 1.0)], CHARSET, written_as={"O": "0"})
    frames = _frames("_G_O_F_A_S_", {3: {"O": 0.55, "0": 0.4, "_": 0.04}})
    [decoded] = decode_ctc(frames[None], CHARSET, prior, candidates=4)
    texts = _texts(decoded.candidates)
    assert texts[0] == decoded.text == "G0FAS"
    assert len(texts) == len(set(texts)) == 4


def test_candidates_reach_the_json_line_and_follow_the_plates_confidence() -> None:
    plate = PlateResult("ABC123", 0.6, (), (0, 0, 1, 1), QUAD,
                        candidates=(Candidate("ABC123", 0.6), Candidate("A8C123", 0.3)))
    moved = plate.with_confidence(0.3)
    assert [(c.text, c.confidence) for c in moved.candidates] == [("ABC123", 0.3), ("A8C123", 0.15)]
    line = json.loads(to_json_line(ImageResult("a.jpg", (moved,))))
    assert line["plates"][0]["candidates"] == [{"text": "ABC123", "confidence": 0.3},
                                               {"text": "A8C123", "confidence": 0.15}]
    assert "candidates" not in json.loads(to_json_line(ImageResult("a.jpg", (PlateResult("A", 1.0, (), (0, 0, 1, 1),
                                                                                            QUAD),))))["plates"][0]


def test_the_truth_is_among_the_candidates_more_often_than_it_is_read() -> None:
    # Measured on these 510 unseen plates: 461 read exactly, 486 have their text among 5 candidates.
    crops = [c for style in builtin_styles().values() for c in unseen_crops(style, 10, UNSEEN_SEED)]
    readings = Recognizer(candidates=5).read([c.image for c in crops])
    assert all(r.candidates[0] == Candidate(r.text, r.confidence) and len(r.candidates) <= 5 for r in readings)
    exact = sum(r.text == c.text for r, c in zip(readings, crops))
    among = sum(c.text in [k.text for k in r.candidates] for r, c in zip(readings, crops))
    assert among >= exact + 15 and among / len(crops) >= 0.93, (exact, among)


def test_the_photo_reader_lists_candidates_at_the_plates_confidence(tmp_path: Path) -> None:
    from platelab.synth.demo import write_demo

    plates = Reader(candidates=3).read(write_demo(tmp_path))
    assert plates
    for plate in plates:
        assert plate.candidates[0] == Candidate(plate.text, plate.confidence)
        assert all(a.confidence >= b.confidence for a, b in zip(plate.candidates[1:], plate.candidates[2:]))


def test_cli_read_and_eval_give_candidates(tmp_path: Path) -> None:
    from platelab.synth.crops import CropGenerator

    crops = CropGenerator(list(builtin_styles().values()), seed=UNSEEN_SEED).sample
    lines = ["file\tstate\tplate"]
    for i in range(6):
        crop = crops(i)
        cv2.imwrite(str(tmp_path / f"{i}.png"), crop.image)
        lines.append(f"{i}.png\t-\t{crop.text}")
    (tmp_path / "labels.tsv").write_text("\n".join(lines) + "\n")
    runner = CliRunner()
    result = runner.invoke(app, ["read", "--crops", str(tmp_path), "--json", "--candidates", "4"])
    assert result.exit_code == 0, result.output
    for line in result.stdout.splitlines():
        [plate] = json.loads(line)["plates"]
        assert plate["candidates"][0]["text"] == plate["text"] and len(plate["candidates"]) <= 4
    report = runner.invoke(app, ["eval", str(tmp_path), "--candidates", "4"]).stdout
    assert "truth among a plate's candidates" in report and "of 6 (" in report
    assert runner.invoke(app, ["read", "--crops", str(tmp_path), "--candidates", "0"]).exit_code == 2


def test_scores_count_the_truth_among_candidates() -> None:
    crops = score_crops(["ABC123", "XYZ789"], ["A8C123", "XYZ789"], candidates=[["A8C123", "ABC123"], ["XYZ789"]])
    assert (crops.exact, crops.n_among) == (0.5, 2)
    assert score_crops(["ABC123"], ["ABC123"]).n_among is None
    labels = [PhotoLabel("a.jpg", "ABC123", (0, 0, 50, 20)), PhotoLabel("a.jpg", "XYZ789", (100, 0, 50, 20))]
    predictions = {"a.jpg": [((0, 0, 50, 20), "A8C123"), ((300, 0, 50, 20), "XYZ789")]}
    photos = score_photos(labels, predictions, candidates={"a.jpg": [["A8C123", "ABC123"], ["XYZ789"]]})
    assert (photos.n_read, photos.n_among) == (0, 1)  # the second prediction overlaps no plate
    with pytest.raises(ValueError, match=r"a\.jpg"):
        score_photos(labels, predictions, candidates={"a.jpg": [["A8C123"]]})


def test_a_plate_is_scored_by_its_matched_predictions_candidates_written_any_way() -> None:
    # the predictions in another order than the labels; labels and candidates with dashes, spaces, lower case
    labels = [PhotoLabel("a.jpg", "abc-123", (0, 0, 50, 20)), PhotoLabel("a.jpg", "xyz 789", (100, 0, 50, 20))]
    predictions = {"a.jpg": [((100, 0, 50, 20), "XYZ789"), ((0, 0, 50, 20), "A8C123")]}
    photos = score_photos(labels, predictions, candidates={"a.jpg": [["XYZ789"], ["a8c 123", "ABC 123"]]})
    assert (photos.hits, photos.n_among) == ([False, True], 2)
    assert score_crops(["ABC123"], ["A8C123"], candidates=[["a8c-123", "abc 123"]]).n_among == 1


@pytest.mark.skipif(not (REAL_DATA / "crops-us").is_dir(), reason="../shared/data/real is not here")
def test_real_us_crops_truth_among_five_candidates() -> None:
    # Measured with the shipped recognizer: 331 of 370 read exactly (89.5%), 356 among 5 candidates (96.2%).
    labels = read_labels(REAL_DATA / "crops-us")
    readings = Recognizer(candidates=5).read([REAL_DATA / "crops-us" / label.file for label in labels])
    among = np.mean([normalize_plate(label.plate) in [c.text for c in r.candidates]
                     for r, label in zip(readings, labels)])
    assert among >= 0.95, among


def test_texts_the_network_gave_no_probability_are_not_candidates() -> None:
    # An 8-bit model's outputs are mostly exact zeros: a sure reading has no alternatives worth listing, and
    # listing zero-probability neighbours would mark any plate a character away as wanted.
    frames = np.zeros((13, CHARSET.classes), np.float32)
    for t, c in enumerate("_F_G_J_2_3_5_"):
        frames[t, CHARSET.pad_index if c == "_" else CHARSET.chars.index(c)] = 1.0
    frames[5, CHARSET.chars.index("J")], frames[5, CHARSET.chars.index("I")] = 0.75, 0.25
    [decoded] = decode_ctc(frames[None], CHARSET, candidates=5)
    assert decoded.candidates == (("FGJ235", 0.75), ("FGI235", 0.25))


def test_a_character_the_network_all_but_ruled_out_makes_no_candidate() -> None:
    # Float outputs are never exactly 0: every other class gets 1e-4 here, under MIN_CANDIDATE_CHAR, so only the
    # J/I doubt and an E at 0.003 (over it) make candidates; listing the 1e-4 ones would put every plate a character
    # away from a sure reading among its candidates, and on a watch list.
    assert 1e-4 < MIN_CANDIDATE_CHAR < 0.003
    frames = _sure("_F_G_J_2_3_5_", {1: {"F": 0.997, "E": 0.003}, 5: {"J": 0.75, "I": 0.25}})
    [decoded] = decode_ctc(frames[None], CHARSET, candidates=5)
    assert _texts(decoded.candidates) == ["FGJ235", "FGI235", "EGJ235", "EGI235"]


def test_the_floor_is_half_a_step_of_8_bits() -> None:
    # 1/510: a 6 at 0.0021 is a candidate, a C at 0.0019 is not, as when 8-bit outputs rounded it to 0
    frames = _sure("_F_G_J_", {3: {"G": 0.99, "6": 0.0021, "C": 0.0019}})
    [decoded] = decode_ctc(frames[None], CHARSET, candidates=5)
    assert _texts(decoded.candidates) == ["FGJ", "F6J"]


def test_a_one_character_reading_lists_no_empty_text() -> None:
    [decoded] = decode_ctc(_sure("_A_", {1: {"_": 0.3}})[None], CHARSET, candidates=3)
    assert "" not in _texts(decoded.candidates)


def test_under_a_prior_the_floor_weighs_the_networks_own_probabilities() -> None:
    # A digit place read as K (0.97): the prior shares the rest among the digits, 4 at 0.02 of the network's
    # probability and 7 at 0.001, 90% and 5% of the digits' share; 7 stays no candidate, as without the prior.
    prior = FormatPrior([([LETTERS] * 3 + [DIGITS] * 3, 1.0)], CHARSET)
    frames = _sure("_A_B_C_1_2_K_", {11: {"K": 0.97, "4": 0.02, "7": 0.001}})
    [decoded] = decode_ctc(frames[None], CHARSET, prior, candidates=5)
    assert decoded.candidates == ((decoded.text, decoded.confidence),) and decoded.text == "ABC124"


def test_the_reading_stays_first_when_the_prior_forces_a_class_the_network_ruled_out() -> None:
    # the prior reads the K in a digit place as a digit the network gave 1e-4: under the floor, and still the text
    prior = FormatPrior([([LETTERS] * 3 + [DIGITS] * 3, 1.0)], CHARSET)
    [decoded] = decode_ctc(_sure("_A_B_C_1_2_K_")[None], CHARSET, prior, candidates=5)
    assert decoded.candidates[0] == (decoded.text, decoded.confidence)


def test_n_candidates_are_counted_after_texts_written_alike_merge() -> None:
    # O and 0 read in a vanity place are one text to the US: the 3 listed are 3 texts, not 3 readings
    prior = FormatPrior([([LETTERS + DIGITS] * 5, 1.0)], CHARSET, written_as={"O": "0"})
    frames = _sure("_G_O_F_A_S_", {3: {"O": 0.55, "0": 0.4}, 7: {"A": 0.7, "4": 0.3}, 9: {"S": 0.8, "5": 0.2}})
    [decoded] = decode_ctc(frames[None], CHARSET, prior, candidates=3)
    assert _texts(decoded.candidates) == ["G0FAS", "G0F4S", "G0FA5"]
    assert decoded.candidates[0] == (decoded.text, decoded.confidence)


def test_the_first_candidate_keeps_the_plates_confidence_exactly() -> None:
    plate = PlateResult("AB123", 0.8373, (), (0, 0, 1, 1), QUAD,
                        candidates=(Candidate("AB123", 0.8373), Candidate("A8123", 0.1)))
    for confidence in (0.23351585547289153, 0.1 * 0.7, 1 / 3):
        moved = plate.with_confidence(confidence)
        assert moved.candidates[0] == Candidate("AB123", moved.confidence)
