"""Decoding slots and CTC frames: greedy reading, confidences, and the plate-format prior."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from platelab.predict.charset import PAD, Charset
from platelab.predict.decode import (
    LOOK_ALIKES,
    AutoPrior,
    FormatPrior,
    decode,
    decode_ctc,
    decode_greedy,
    decode_with_prior,
    most_likely,
    readable_formats,
    rescaled,
)

CHARSET = Charset()
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"


def _index(c: str) -> int:
    """The class of character c ("_" = the blank or empty slot)."""
    return CHARSET.pad_index if c == "_" else CHARSET.chars.index(c)


def _probs(text: str, sure: float = 0.9, rest: float | None = None) -> np.ndarray:
    """Slot probabilities that spell text with confidence `sure`, the rest spread evenly (or each at `rest`)."""
    rest = (1 - sure) / (CHARSET.classes - 1) if rest is None else rest
    probs = np.full((CHARSET.slots, CHARSET.classes), rest, np.float32)
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
    # decode() applies a prior to a slots head too, not only to CTC frames
    assert decode(probs[None], CHARSET, "slots", prior)[0].text == "OBC1234"


def test_prior_keeps_a_confident_vanity_reading() -> None:
    probs = _probs("GOFAST", sure=0.99)
    prior = FormatPrior([([LETTERS] * 3 + [DIGITS] * 4, 10.0), ([LETTERS + DIGITS] * 6, 0.1)], CHARSET)
    assert decode_with_prior(probs[None], CHARSET, prior)[0].text == "GOFAST"


def _frames(path: str, sure: float = 0.9, rest: float | None = None) -> np.ndarray:
    """CTC frame probabilities whose best path is `path` ("_" = blank), the rest spread evenly (or each at `rest`)."""
    rest = (1 - sure) / (CHARSET.classes - 1) if rest is None else rest
    probs = np.full((len(path), CHARSET.classes), rest, np.float32)
    for t, c in enumerate(path):
        probs[t, _index(c)] = sure
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
    # a slots reading is written as the country writes too, where its format allows
    assert decode(_probs("CHICAGO")[None], CHARSET, "slots", prior)[0].text == "CHICAG0"


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


def test_a_reading_names_the_country_whose_formats_it_was_decoded_under() -> None:
    letters_first = FormatPrior([([LETTERS] * 3 + [DIGITS] * 3, 1.0)], CHARSET, country="aa")
    digits_first = FormatPrior([([DIGITS] * 3 + [LETTERS] * 3, 1.0)], CHARSET, country="bb")
    auto = AutoPrior([letters_first, digits_first])

    def ctc(path: str, prior: FormatPrior | AutoPrior | None) -> str | None:
        return decode_ctc(_frames(path)[None], CHARSET, prior)[0].country

    assert [ctc("_A_B_5_1_2_3_", auto), ctc("_1_2_3_A_B_5_", auto)] == ["aa", "bb"]
    assert ctc("_1_2_3_A_B_5_", letters_first) == "aa"  # a named country's format is the one decoded under
    assert ctc("_G_O_0_", auto) is None and ctc("_G_O_0_", letters_first) is None  # no format of three characters
    assert ctc("_A_B_5_1_2_3_", None) is None and ctc("__", letters_first) is None  # no prior; nothing read
    assert decode_with_prior(_probs("123AB5")[None], CHARSET, auto)[0].country == "bb"  # a slots head too
    assert decode_with_prior(_probs("123AB5")[None], CHARSET, letters_first)[0].country == "aa"
    assert decode_greedy(_probs("123AB5")[None], CHARSET)[0].country is None


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


def test_a_class_scale_leaves_a_frame_read_as_blank_exactly_as_it_was() -> None:
    # Blank 0.4 against H and M at 0.3 each: M x 4 rescaled among the characters would be 0.48, over the blank, and
    # make a character out of a gap. A scale must only touch frames read as a character.
    blank, h, m = CHARSET.pad_index, _index("H"), _index("M")
    frames = np.zeros((2, CHARSET.classes), np.float32)
    frames[0, [blank, h, m]] = 0.1, 0.5, 0.4  # read H: rescaled
    frames[1, [blank, h, m]] = 0.4, 0.3, 0.3  # read blank: untouched
    scale = np.ones(CHARSET.classes, np.float32)
    scale[m] = 4.0
    out = rescaled(frames, scale, blank)
    assert list(out.argmax(1)) == [m, blank]
    assert np.array_equal(out[1], frames[1])


def test_most_likely_is_exact_when_a_position_has_more_classes_than_the_n_asked_for() -> None:
    # The beam keeps n classes per position: with n - 1 the n-th best sequence, which may take a position's n-th
    # class, goes missing (test_candidates' exact check has fewer classes than n, so never prunes).
    rng = np.random.default_rng(11)
    for _ in range(30):
        probs = rng.dirichlet(np.ones(7) * 0.7, size=3)
        brute = sorted((float(np.prod(probs[[0, 1, 2], list(c)])) for c in itertools.product(range(7), repeat=3)),
                       reverse=True)
        found = most_likely(probs, 4)
        assert np.allclose([score for _, score in found], brute[:4])
    one_place = np.array([[0.3, 0.25, 0.2, 0.15, 0.1]])
    assert [int(path[0]) for path, _ in most_likely(one_place, 5)] == [0, 1, 2, 3, 4]


def test_a_character_is_dropped_in_a_candidate_by_its_runs_most_blank_frame_wherever_it_lies() -> None:
    # The S (a logo) spans two frames, one all but never blank (0.001, under MIN_CANDIDATE_CHAR), the other 0.35
    # blank: the S may be dropped, weighed by 0.35, whichever of its frames comes first.
    doubts = ({"S": 0.99, "_": 0.001}, {"S": 0.6, "_": 0.35})
    readings = []
    for first, second in (doubts, doubts[::-1]):
        frames = _frames("_SS_A_B_C_1_2_3_")
        for t, classes in ((1, first), (2, second)):
            frames[t] = 0.001
            for c, p in classes.items():
                frames[t, _index(c)] = p
        [decoded] = decode_ctc(frames[None], CHARSET, candidates=3)
        readings.append(decoded)
    assert readings[0].candidates == readings[1].candidates
    assert [text for text, _ in readings[0].candidates][:2] == ["SABC123", "ABC123"]
    assert readings[0].candidates[1][1] == pytest.approx(readings[0].confidence / 0.99 * 0.35)


def test_under_a_prior_a_characters_confidence_is_its_share_of_what_its_place_allows() -> None:
    # chars A, B, 1 (no look-alike pair among them); the format allows a letter. The network gave A 0.5, B 0.2 and
    # the digit 1 0.25: given the format the character is A or B, so A is 0.5 / 0.7 sure, not 0.5.
    charset = Charset(chars="AB1", slots=3)
    blank = charset.pad_index
    frames = np.zeros((3, charset.classes))
    frames[[0, 2], blank] = 1.0
    frames[1, [0, 1, 2, blank]] = 0.5, 0.2, 0.25, 0.05
    prior = FormatPrior([(["AB"], 1.0)], charset)
    [plain] = decode_ctc(frames[None], charset)
    [formatted] = decode_ctc(frames[None], charset, prior)
    assert plain.char_confidences == pytest.approx((0.5,))
    assert formatted.text == "A"
    assert formatted.char_confidences == pytest.approx((0.5 / 0.7,))
    assert formatted.confidence == pytest.approx(0.5 / 0.7)


@pytest.mark.parametrize("pair", LOOK_ALIKES)
def test_look_alikes_count_both_ways(pair: str) -> None:
    # A digit read where the format has a letter is its look-alike letter, and a letter read where the format has a
    # digit is its look-alike digit, even where another class of the place (3 or X at 0.2) beats the look-alike's
    # own 0.05: the look-alike table is symmetric.
    digit, letter = pair
    prior = FormatPrior([([LETTERS] * 3 + [DIGITS] * 3, 1.0)], CHARSET)
    letter_in_digit_place = _frames("_A_B_C_1_2_" + letter + "_")
    letter_in_digit_place[11] = 0.001
    letter_in_digit_place[11, [_index(letter), _index("3"), _index(digit)]] = 0.7, 0.2, 0.05
    digit_in_letter_place = _frames("_" + digit + "_B_C_1_2_3_")
    digit_in_letter_place[1] = 0.001
    digit_in_letter_place[1, [_index(digit), _index("X"), _index(letter)]] = 0.7, 0.2, 0.05
    assert decode_ctc(letter_in_digit_place[None], CHARSET, prior)[0].text == "ABC12" + digit
    assert decode_ctc(digit_in_letter_place[None], CHARSET, prior)[0].text == letter + "BC123"


def test_a_format_needing_a_class_the_network_all_but_ruled_out_loses_even_to_a_rare_format() -> None:
    # The sixth character is K at 0.99, every digit at 1e-5: LLLNNN (weight 0.9999) scores log 1e-5 there, the
    # vanity format (weight 1e-4) log 1e-4 for its weight, so the vanity reading ABC12K stands. The score follows
    # the network's probabilities down to 1e-9; a floor at 1e-3 or 1e-2 would force a digit.
    prior = FormatPrior([([LETTERS] * 3 + [DIGITS] * 3, 0.9999), ([LETTERS + DIGITS] * 6, 0.0001)], CHARSET)
    frames, slots = _frames("_A_B_C_1_2_K_", 0.99, rest=1e-5), _probs("ABC12K", 0.99, rest=1e-5)
    assert decode(frames[None], CHARSET, "ctc", prior)[0].text == "ABC12K"
    assert decode(slots[None], CHARSET, "slots", prior)[0].text == "ABC12K"


def test_an_auto_prior_follows_the_network_down_to_small_probabilities_too() -> None:
    # As test_a_format_needing_a_class_the_network_all_but_ruled_out_loses_even_to_a_rare_format, through a
    # country chosen automatically: its LLLNNN needs a digit the network gave 1e-5, its vanity format weighs 1e-4.
    prior = FormatPrior([([LETTERS] * 3 + [DIGITS] * 3, 0.9999), ([LETTERS + DIGITS] * 6, 0.0001)], CHARSET)
    auto = AutoPrior([prior, FormatPrior([([DIGITS] * 7, 1.0)], CHARSET)])
    frames = _frames("_A_B_C_1_2_K_", 0.99, rest=1e-5)
    assert decode(frames[None], CHARSET, "ctc", auto)[0].text == "ABC12K"


def test_an_auto_prior_weighs_each_format_within_its_own_country() -> None:
    # One country lists its one format at weight 100, the other at 1: each is its country's only format, so both
    # weigh 1 within their country, and the digits the network prefers (0.6 against 0.3) decide. Raw weights
    # would let the first country's 100 outvote the network.
    charset = Charset(chars="A1", slots=3)
    letters = FormatPrior([(["A", "A"], 100.0)], charset)
    digits = FormatPrior([(["1", "1"], 1.0)], charset)
    auto = AutoPrior([letters, digits])
    slots = np.array([[0.3, 0.6, 0.1], [0.3, 0.6, 0.1], [0.1, 0.1, 0.8]])
    frames = np.array([[0, 0, 1.0], [0.3, 0.6, 0.1], [0, 0, 1.0], [0.3, 0.6, 0.1], [0, 0, 1.0]])
    assert decode(slots[None], charset, "slots", auto)[0].text == "11"
    assert decode(frames[None], charset, "ctc", auto)[0].text == "11"


def test_a_format_as_long_as_the_models_slots_is_a_format() -> None:
    # A format of exactly `slots` characters fits the model (the limit is inclusive): it must not be dropped, and
    # with it the only format the prior would refuse to build.
    charset = Charset(chars="A1", slots=3)
    prior = FormatPrior([(["A", "A", "A"], 1.0)], charset)
    slots = np.array([[0.4, 0.55, 0.05], [0.9, 0.05, 0.05], [0.9, 0.05, 0.05]])
    assert decode(slots[None], charset, "slots")[0].text == "1AA"
    assert decode(slots[None], charset, "slots", prior)[0].text == "AAA"
    frames = np.array([[0, 0, 1.0], [0.4, 0.55, 0.05], [0, 0, 1.0], [0.9, 0.05, 0.05], [0, 0, 1.0],
                       [0.9, 0.05, 0.05], [0, 0, 1.0]])
    assert decode(frames[None], charset, "ctc", prior)[0].text == "AAA"


def test_a_format_may_list_characters_the_model_does_not_read() -> None:
    # A country's formats are written for the full alphabet; a model trained on fewer characters still takes them,
    # each place keeping the characters it can read.
    charset = Charset(chars="A1", slots=3)
    prior = FormatPrior([(["AB", "10"], 1.0)], charset)
    slots = np.array([[0.4, 0.5, 0.1], [0.4, 0.5, 0.1], [0.05, 0.05, 0.9]])
    assert decode(slots[None], charset, "slots", prior)[0].text == "A1"


def test_a_format_with_a_place_the_model_reads_no_character_of_is_no_format() -> None:
    # The format's first place lists only B, which this model does not read: it could only ever be read there as a
    # character the format does not allow (argmax over nothing allowed gives class 0), so it is left out.
    charset = Charset(chars="1A", slots=3)
    assert readable_formats([(["B", "1"], 1.0), (["A", "1"], 2.0)], charset) == [(["A", "1"], 2.0)]
    with pytest.raises(ValueError, match="fits the model's slots and characters"):
        FormatPrior([(["B", "1"], 1.0)], charset)
    prior = FormatPrior([(["B", "1"], 1.0), (["A", "1"], 1.0)], charset)
    slots = np.array([[0.8, 0.1, 0.1], [0.8, 0.1, 0.1], [0.05, 0.05, 0.9]])  # read "11": the 1 is no B
    assert decode(slots[None], charset, "slots", prior)[0].text == "A1"


@pytest.mark.parametrize("head", ["ctc", "slots"])
def test_a_place_whose_allowed_characters_all_got_exactly_zero_is_read_as_one_of_them(head: str) -> None:
    # 8-bit or underflowed outputs: a sure 3 where LLLNNN wants a letter, every letter exactly 0. The reading keeps
    # the format (a letter, at confidence 0) rather than the charset's first class, 0, which it does not allow.
    prior = FormatPrior([([LETTERS] * 3 + [DIGITS] * 3, 1.0)], CHARSET)
    probs = _frames("_3_B_C_1_2_3_", sure=1.0, rest=0.0) if head == "ctc" else _probs("3BC123", sure=1.0, rest=0.0)
    [decoded] = decode(probs[None], CHARSET, head, prior)
    assert decoded.text[0] in LETTERS and decoded.text[1:] == "BC123"
    assert decoded.char_confidences[0] == 0.0 and decoded.confidence == 0.0


def test_a_format_of_no_characters_is_no_format() -> None:
    # an empty format would let a prior read an empty plate
    with pytest.raises(ValueError, match="at least one format"):
        FormatPrior([([], 1.0)], CHARSET)


def test_a_charset_may_not_hold_the_empty_slots_character() -> None:
    # "_" stands for the empty slot in labels and paths: a model reading it as a character would make texts that end
    # early or never
    with pytest.raises(ValueError, match="distinct characters"):
        Charset(chars="AB" + PAD)
    with pytest.raises(ValueError, match="distinct characters"):
        Charset(chars="ABA")
