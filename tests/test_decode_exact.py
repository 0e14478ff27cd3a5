"""Decoding confidences and prior choices checked against values worked out by hand on tiny probability tables.

A two-character alphabet keeps every product small enough to compute by hand: class 0 is the letter A, class 1
the digit 1, class 2 the blank (CTC) or empty slot (slots). No look-alike pair fits in it, so a prior's choice
rests on its formats' scores alone.
"""

from __future__ import annotations

import numpy as np
import pytest

from platelab.predict.charset import Charset
from platelab.predict.decode import AutoPrior, FormatPrior, decode

CHARSET = Charset(chars="A1", slots=3)


def test_ctc_character_confidence_is_its_best_frame() -> None:
    frames = np.array(
        [
            [0.0, 0.0, 1.0],
            [0.6, 0.1, 0.3],  # the A run's first frame is its weaker one
            [0.8, 0.0, 0.2],
            [0.0, 0.0, 1.0],
        ]
    )
    [decoded] = decode(frames[None], CHARSET, "ctc")
    assert decoded.text == "A"
    assert decoded.char_confidences == pytest.approx((0.8,))
    assert decoded.confidence == pytest.approx(0.8)


def test_ctc_confidence_takes_each_blank_run_at_its_least_sure_frame() -> None:
    frames = np.array(
        [
            [0.1, 0.0, 0.9],  # leading blank run: least sure frame 0.7
            [0.3, 0.0, 0.7],
            [0.8, 0.0, 0.2],  # A
            [0.0, 0.4, 0.6],  # blank run between the characters: least sure frame 0.55
            [0.0, 0.45, 0.55],
            [0.0, 0.9, 0.1],  # 1
            [0.0, 0.0, 1.0],  # trailing blank run: sure
        ]
    )
    [decoded] = decode(frames[None], CHARSET, "ctc")
    assert decoded.text == "A1"
    assert decoded.char_confidences == pytest.approx((0.8, 0.9))
    assert decoded.confidence == pytest.approx(0.8 * 0.9 * 0.7 * 0.55 * 1.0)


def test_slots_confidence_includes_the_empty_slots_that_end_the_text() -> None:
    slots = np.array(
        [
            [0.7, 0.2, 0.1],  # A
            [0.1, 0.2, 0.7],  # empty: the text ends here
            [0.1, 0.1, 0.8],  # empty
        ]
    )
    [decoded] = decode(slots[None], CHARSET, "slots")
    assert decoded.text == "A"
    assert decoded.char_confidences == pytest.approx((0.7,))
    assert decoded.confidence == pytest.approx(0.7 * 0.7 * 0.8)


def test_prior_charges_a_shorter_format_for_the_slots_it_leaves_empty() -> None:
    # Formats of one and two characters, equally likely. The second slot is A at 0.5 and empty at 0.4:
    #   one character:  log 1/2 + log 0.9 + log 0.4 (second slot empty) + log 0.9 (third slot empty)
    #   two characters: log 1/2 + log 0.9 + log 0.5 (second slot A)     + log 0.9
    # so the two-character format wins; without the empty slots' term the shorter format would always score
    # higher, having fewer probabilities below 1 to multiply.
    prior = FormatPrior([(["A1"], 1.0), (["A1", "A1"], 1.0)], CHARSET)
    slots = np.array(
        [
            [0.9, 0.05, 0.05],
            [0.5, 0.1, 0.4],
            [0.05, 0.05, 0.9],
        ]
    )
    [decoded] = decode(slots[None], CHARSET, "slots", prior=prior)
    assert decoded.text == "AA"
    assert decoded.char_confidences == pytest.approx((0.9, 0.5))
    assert decoded.confidence == pytest.approx(0.9 * 0.5 * 0.9)


def test_auto_prior_reads_slots_under_the_best_scoring_country_not_the_first() -> None:
    # Scores: letters-only country 2 log 0.3 + log 0.8, digits-only country 2 log 0.6 + log 0.8: digits win.
    letters_only = FormatPrior([(["A", "A"], 1.0)], CHARSET)
    digits_only = FormatPrior([(["1", "1"], 1.0)], CHARSET)
    slots = np.array(
        [
            [0.3, 0.6, 0.1],
            [0.3, 0.6, 0.1],
            [0.1, 0.1, 0.8],
        ]
    )
    [decoded] = decode(slots[None], CHARSET, "slots", prior=AutoPrior([letters_only, digits_only]))
    assert decoded.text == "11"
    assert decoded.confidence == pytest.approx(0.6 * 0.6 * 0.8)
