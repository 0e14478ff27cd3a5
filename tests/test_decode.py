"""Decoding slots and CTC frames: greedy reading, confidences, and the plate-format prior."""

from __future__ import annotations

import numpy as np

from platelab.predict.charset import Charset
from platelab.predict.decode import (
    AutoPrior,
    FormatPrior,
    decode,
    decode_ctc,
    decode_greedy,
    decode_with_prior,
    rescaled,
)

CHARSET = Charset()
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"


def _probs(text: str, sure: float = 0.9) -> np.ndarray:
    """Slot probabilities that spell text with confidence `sure`, the rest spread evenly."""
    probs = np.full((CHARSET.slots, CHARSET.classes), (1 - sure) / (CHARSET.classes - 1), np.float32)
    for i, code in enumerate(CHARSET.encode(text)):
        probs[i, code] = sure
    return probs


def test_greedy_reads_until_the_first_empty_slot() -> None:
    probs = _probs("AB12")
    probs[6] = _probs("Z")[0]  # a character after the end is ignored
    [decoded] = decode_greedy(probs[None], CHARSET)
    assert decoded.text == "AB12"
    assert len(decoded.char_confidences) == 4 and all(abs(c - 0.9) < 1e-6 for c in decoded.char_confidences)
    assert 0 < decoded.confidence < 0.9**4


def test_prior_settles_letter_digit_confusions() -> None:
    probs = _probs("0BC1234")
    o, zero = CHARSET.chars.index("O"), CHARSET.chars.index("0")
    probs[0, zero], probs[0, o] = 0.5, 0.4  # the network slightly prefers a zero where the format wants a letter
    prior = FormatPrior([([LETTERS] * 3 + [DIGITS] * 4, 10.0), ([LETTERS + DIGITS] * 7, 0.1)], CHARSET)
    assert decode_greedy(probs[None], CHARSET)[0].text == "0BC1234"
    assert decode_with_prior(probs[None], CHARSET, prior)[0].text == "OBC1234"


def test_prior_keeps_a_confident_vanity_reading() -> None:
    probs = _probs("GOFAST", sure=0.99)
    prior = FormatPrior([([LETTERS] * 3 + [DIGITS] * 4, 10.0), ([LETTERS + DIGITS] * 6, 0.1)], CHARSET)
    assert decode_with_prior(probs[None], CHARSET, prior)[0].text == "GOFAST"


def _frames(path: str, sure: float = 0.9) -> np.ndarray:
    """CTC frame probabilities whose best path is `path` ("_" = blank), the rest spread evenly."""
    probs = np.full((len(path), CHARSET.classes), (1 - sure) / (CHARSET.classes - 1), np.float32)
    for t, c in enumerate(path):
        probs[t, CHARSET.pad_index if c == "_" else CHARSET.chars.index(c)] = sure
    return probs


def test_ctc_merges_repeats_and_keeps_letters_a_blank_separates() -> None:
    [decoded] = decode_ctc(_frames("__AA_B_BB__11_2__")[None], CHARSET)
    assert decoded.text == "ABB12"
    assert len(decoded.char_confidences) == 5 and all(abs(c - 0.9) < 1e-6 for c in decoded.char_confidences)


def test_ctc_confidence_drops_when_a_blank_frame_half_sees_a_character() -> None:
    clear = _frames("_A_B_C_")
    doubtful = clear.copy()
    doubtful[4, CHARSET.chars.index("Q")], doubtful[4, CHARSET.pad_index] = 0.45, 0.5
    sure, unsure = decode_ctc(np.stack([clear, doubtful]), CHARSET)
    assert sure.text == unsure.text == "ABC"
    assert unsure.confidence < 0.6 * sure.confidence


def test_ctc_reads_nothing_from_all_blank_frames() -> None:
    [decoded] = decode_ctc(_frames("______")[None], CHARSET)
    assert decoded.text == "" and decoded.confidence == 0.0


def test_ctc_prior_settles_letter_digit_confusions_at_the_reading_length() -> None:
    probs = _frames("_0_B_C_1_2_3_4_")
    o, zero = CHARSET.chars.index("O"), CHARSET.chars.index("0")
    probs[1, zero], probs[1, o] = 0.5, 0.4
    prior = FormatPrior([([LETTERS] * 3 + [DIGITS] * 4, 10.0), ([LETTERS + DIGITS] * 7, 0.1)], CHARSET)
    assert decode_ctc(probs[None], CHARSET)[0].text == "0BC1234"
    assert decode_ctc(probs[None], CHARSET, prior)[0].text == "OBC1234"
    assert decode(probs[None], CHARSET, "ctc", prior)[0].text == "OBC1234"
    short = _frames("_0_B_")  # no format of length 2: the greedy reading stays
    assert decode_ctc(short[None], CHARSET, prior)[0].text == "0B"


def test_prior_gives_a_sure_digit_where_only_letters_can_be_to_its_look_alike_letter() -> None:
    # Brazil's grey plates print O and 0 alike: a network sure of 0 in a letter position has seen an O, even
    # where the next most likely letter (D) beats O's own probability.
    o, zero, d = (CHARSET.chars.index(c) for c in "O0D")
    frames, slots = _frames("_0_B_C_1_2_3_4_"), _probs("0BC1234")
    for probs, first in ((frames, 1), (slots, 0)):
        probs[first] = 0.001
        probs[first, zero], probs[first, d], probs[first, o] = 0.7, 0.2, 0.05
    prior = FormatPrior([([LETTERS] * 3 + [DIGITS] * 4, 1.0)], CHARSET)
    [ctc] = decode_ctc(frames[None], CHARSET, prior)
    assert ctc.text == "OBC1234"
    assert ctc.char_confidences[0] > 0.7  # O's share of what the position allows, its look-alike 0 counted
    assert decode_with_prior(slots[None], CHARSET, prior)[0].text == "OBC1234"


def test_look_alikes_do_not_make_formats_that_differ_in_letter_or_digit_tie() -> None:
    # Brazil's old LLLNNNN and Mercosur LLLNLNN: a sure 2 in the fifth place must keep the old format even
    # where Mercosur weighs more (counting the 2 for a Z would score both formats alike).
    old, mercosur = [LETTERS] * 3 + [DIGITS] * 4, [LETTERS] * 3 + [DIGITS, LETTERS, DIGITS, DIGITS]
    prior = FormatPrior([(old, 1.0), (mercosur, 2.0)], CHARSET)
    assert decode_ctc(_frames("_A_B_C_1_2_3_4_")[None], CHARSET, prior)[0].text == "ABC1234"
    assert decode_with_prior(_probs("ABC1234")[None], CHARSET, prior)[0].text == "ABC1234"
    assert decode_ctc(_frames("_A_B_C_1_Z_3_4_")[None], CHARSET, prior)[0].text == "ABC1Z34"


def test_a_countrys_way_of_writing_applies_only_where_the_chosen_format_allows_it() -> None:
    # The US writes the round O/0 shape as 0, but a letter place of LLLNNN can only hold the letter O.
    prior = FormatPrior(
        [([LETTERS] * 3 + [DIGITS] * 3, 10.0), ([LETTERS + DIGITS] * 7, 0.1)], CHARSET, written_as={"O": "0"}
    )
    letter_place = decode_ctc(_frames("_N_O_X_2_2__6_")[None], CHARSET, prior)[0]
    assert letter_place.text == "NOX226"
    vanity = decode_ctc(_frames("_C_H_I_C_A_G_O_")[None], CHARSET, prior)[0]
    assert vanity.text == "CHICAG0"
    assert vanity.char_confidences[-1] > 0.85  # the confidence of what was read, O, not of a 0 it never saw
    no_format = decode_ctc(_frames("_G_O_")[None], CHARSET, prior)[0]  # no format of length 2: written anyway
    assert no_format.text == "G0"
    slots = decode_with_prior(_probs("NOX226")[None], CHARSET, prior)[0]
    assert slots.text == "NOX226"


def test_auto_prior_reads_each_plate_under_the_country_whose_formats_fit_it() -> None:
    letters_first = FormatPrior([([LETTERS] * 3 + [DIGITS] * 3, 1.0)], CHARSET, written_as={"O": "0"})
    digits_first = FormatPrior([([DIGITS] * 3 + [LETTERS] * 3, 1.0)], CHARSET)
    seven = FormatPrior([([LETTERS] * 3 + [DIGITS] * 4, 1.0)], CHARSET)
    auto = AutoPrior([letters_first, digits_first, seven])
    paths = ("_A_B_5_1_2_3_", "_1_2_3_A_B_5_", "_A_B_C_1_2_3_O_", "_G_O_0_")
    readings = [decode_ctc(_frames(path)[None], CHARSET, auto)[0] for path in paths]
    # a 5 where the fitting country has a letter is its look-alike S; the same shape where it has a digit stays 5
    assert [r.text for r in readings[:2]] == ["ABS123", "123ABS"]
    assert readings[2].text == "ABC1230"  # only the seven-character country has a format of that length
    assert readings[3].text == "GO0"  # no country has three characters: read as it is, written by no country
    assert decode_with_prior(_probs("0BC123")[None], CHARSET, auto)[0].text == "OBC123"


def test_a_class_scale_changes_which_character_is_read_and_never_makes_one() -> None:
    blank, h, m = CHARSET.pad_index, CHARSET.chars.index("H"), CHARSET.chars.index("M")
    frames = np.zeros((3, CHARSET.classes), np.float32)
    frames[0, [blank, h, m]] = 0.1, 0.5, 0.4  # read H; M times 4 outweighs it
    frames[1, [blank, h, m]] = 0.5, 0.3, 0.2  # read blank: stays blank though 0.2 x 4 > 0.5
    frames[2, [blank, h, m]] = 0.05, 0.9, 0.05  # a sure H stays H
    scale = np.ones(CHARSET.classes, np.float32)
    scale[m] = 4.0
    out = rescaled(frames, scale, blank)
    assert list(out.argmax(1)) == [m, blank, h]
    assert np.allclose(out.sum(1), 1.0) and np.allclose(out[:, blank], frames[:, blank])
    assert np.allclose(out[0, [h, m]], np.array([0.5, 1.6]) * 0.9 / 2.1)


def test_a_character_spread_thin_by_a_class_scale_gives_way_to_the_blank() -> None:
    blank, h, m = CHARSET.pad_index, CHARSET.chars.index("H"), CHARSET.chars.index("M")
    frames = np.zeros((1, CHARSET.classes), np.float32)
    frames[0, [blank, h, m]] = 0.4, 0.5, 0.1  # read H; M times 4 takes a share, leaving H under the blank's 0.4
    scale = np.ones(CHARSET.classes, np.float32)
    scale[m] = 4.0
    out = rescaled(frames, scale, blank)
    assert out.argmax(1)[0] == blank and np.isclose(out.sum(), 1.0) and np.isclose(out[0, blank], 0.4)
