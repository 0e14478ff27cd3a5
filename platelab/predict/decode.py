"""Recognizer probabilities -> text, per-character confidences and an overall confidence.

Two output kinds: per-slot probabilities (a "slots" head) and per-frame CTC probabilities (a "ctc" head,
the last class being the blank).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple, TypeAlias

import numpy as np

from platelab.predict.charset import Charset
from platelab.predict.thresholds import MIN_CANDIDATE_CHAR


@dataclass(frozen=True)
class Decoded:
    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    candidates: tuple[tuple[str, float], ...] = ()  # (text, confidence): the reading's own first, then by confidence
    country: str | None = None  # the country whose format the text was decoded under (a prior's; None: no format)


class RunChoice(NamedTuple):
    """A prior's classes for a CTC reading's characters."""

    read: np.ndarray  # the classes read
    written: np.ndarray  # those classes as the country writes them
    allowed_probs: np.ndarray | None  # the chosen format's allowed probabilities; None when no format fits
    write: Callable[[np.ndarray], np.ndarray]  # any classes read there -> as the country writes them
    country: str | None  # the country whose format was chosen; None when no format fits


def _unchanged(classes: np.ndarray) -> np.ndarray:
    return classes


def most_likely(probs: np.ndarray, n: int) -> list[tuple[np.ndarray, float]]:
    """The n most likely class sequences, one class per row of probs (positions, classes), each with the
    product of its classes' probabilities, most likely first. A beam of n is exact here: the positions are
    independent, so a prefix outside the n best has n better prefixes that share its best ending."""
    paths, scores = np.zeros((1, 0), int), np.ones(1)
    for row in probs:
        top = np.argsort(-row, kind="stable")[:n]
        joint = (scores[:, None] * row[top][None, :]).ravel()
        best = np.argsort(-joint, kind="stable")[:n]
        paths = np.concatenate([paths[best // len(top)], top[best % len(top), None]], axis=1)
        scores = joint[best]
    return [(path, float(score)) for path, score in zip(paths, scores)]


def _decoded(probs: np.ndarray, classes: np.ndarray, country: str | None, charset: Charset) -> Decoded:
    length = (
        int(np.argmax(classes == charset.pad_index)) if (classes == charset.pad_index).any() else len(classes)
    )
    chosen = probs[np.arange(len(classes)), classes]
    text = "".join(charset.char(c) for c in classes[:length])
    # The whole reading's probability: its characters and the empty slots that end it.
    confidence = float(np.prod(chosen[:length]) * np.prod(probs[length:, charset.pad_index]))
    return Decoded(text, confidence, tuple(float(p) for p in chosen[:length]), country=country)


def rescaled(probs: np.ndarray, scale: np.ndarray, keep: int) -> np.ndarray:
    """probs (..., classes) with each class multiplied by scale (classes,) where the best class is a character: the
    characters' total stays, so does keep's (CTC's blank, or the empty slot). A frame read as blank stays as it
    was, however much M it holds: a scale never makes a character. It can unmake one: where the scaled characters
    share their total so evenly that none outweighs keep's share any more, the frame reads blank. That is kept on
    purpose: on the benchmark photos such frames are a gate's bars or a sign's letters (read `HHHHH`, `EX1T`, `TAX1`
    when they stay characters: 12 false plates on the US photos instead of 10), and no plate reads otherwise."""
    out = probs.copy()
    reads_character = probs.argmax(-1) != keep
    frames = probs[reads_character]  # (frames, classes): a fraction of them, so the work is done only there
    weighted = frames * scale
    weighted[:, keep] = 0.0
    characters = frames.sum(-1, keepdims=True) - frames[:, keep : keep + 1]
    weighted *= characters / np.maximum(weighted.sum(-1, keepdims=True), 1e-12)
    weighted[:, keep] = frames[:, keep]
    out[reads_character] = weighted
    return out


def decode_greedy(probs: np.ndarray, charset: Charset) -> list[Decoded]:
    """Most likely class in every slot; the text ends at the first empty slot."""
    return [_decoded(p, np.argmax(p, axis=1), None, charset) for p in probs]


def decode_with_prior(probs: np.ndarray, charset: Charset, prior: Prior) -> list[Decoded]:
    return [_decoded(p, *prior.best_classes(p), charset) for p in probs]


def _ctc_runs(probs: np.ndarray, blank: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal best classes along the frames: (class, first frame, is a character)."""
    best = probs.argmax(1)
    starts = np.flatnonzero(np.r_[True, best[1:] != best[:-1]])
    classes = best[starts]
    return classes, starts, classes != blank


def _choose(
    char_probs: np.ndarray, greedy: np.ndarray, prior: Prior | None, blank: int
) -> tuple[RunChoice, np.ndarray]:
    """A CTC reading's characters (probabilities (characters, classes), greedy classes) under the prior: its
    choice, and each character's distribution over the classes it may be (characters, classes)."""
    if prior is None:
        choice = RunChoice(greedy, greedy, None, _unchanged, None)
    else:
        choice = prior.best_run_classes(char_probs, greedy)
    if choice.allowed_probs is None:
        # a character is one of the characters (the run's blank probability is no other reading of it)
        return choice, np.where(np.arange(char_probs.shape[1]) == blank, 0.0, char_probs)
    # Given the format, a character is one of the classes its position allows: its confidence is its share of
    # their probability (a digit position read as O still gives a sure 0 where O and 0 look alike).
    return choice, choice.allowed_probs / np.maximum(choice.allowed_probs.sum(1, keepdims=True), 1e-12)


def _candidates(
    char_probs: np.ndarray, greedy: np.ndarray, run_blank: np.ndarray, prior: Prior | None, charset: Charset,
    n: int, scale: np.floating, reading: tuple[RunChoice, np.ndarray],
) -> tuple[tuple[str, float], ...]:
    """The reading's n most likely distinct texts, the reading (its _choose, made already) first: its characters
    read otherwise, and with one
    character fewer (a logo or a bolt read as a character is the commonest misreading), each shortened reading
    decoded again under the prior and weighed by how blank the dropped character's frames ever were (run_blank;
    a character whose frames were all but never blank, under MIN_CANDIDATE_CHAR, is not dropped).
    A text's confidence is computed as the reading's; texts written alike (O and 0 where the country writes 0)
    count once, at the likelier one's confidence. A text with a character the network all but ruled out (under
    MIN_CANDIDATE_CHAR at its place) is not a candidate: listed, it would match any plate a character away."""
    positions = np.arange(len(greedy))
    dropped = [i for i in positions if run_blank[i] >= MIN_CANDIDATE_CHAR] if len(greedy) > 1 else []
    shortened = [np.delete(positions, i) for i in dropped]
    variants = [(reading, 1.0)] + [
        (_choose(char_probs[kept], greedy[kept], prior, charset.pad_index), float(run_blank[i]))
        for i, kept in zip(dropped, shortened)
    ]
    scored: list[tuple[str, float]] = []
    for (choice, dist), weight in variants:
        # the floor is on the network's own probabilities, not on a prior's shares of them
        evidence = dist if choice.allowed_probs is None else choice.allowed_probs
        for classes, _ in most_likely(dist, 2 * n):  # room for texts written alike
            places = np.arange(len(classes))
            if scored and evidence[places, classes].min() < MIN_CANDIDATE_CHAR:  # the reading itself is always kept
                continue
            scored.append(("".join(charset.char(c) for c in choice.write(classes)),
                           float(np.prod(dist[places, classes]) * scale) * weight))
    texts = dict([scored[0]])
    for text, confidence in sorted(scored[1:], key=lambda item: -item[1]):
        texts.setdefault(text, confidence)
    return tuple(list(texts.items())[:n])


def _decoded_ctc(probs: np.ndarray, charset: Charset, prior: Prior | None, candidates: int) -> Decoded:
    blank = charset.pad_index
    classes, starts, is_char = _ctc_runs(probs, blank)
    # A character's evidence is its best frame; a blank run is as sure as its least sure frame, so a
    # half-seen character between two others lowers the confidence of the whole reading.
    run_best = np.maximum.reduceat(probs, starts, axis=0)  # (runs, classes)
    blank_floor = np.prod(np.minimum.reduceat(probs[:, blank], starts)[~is_char])
    char_probs, greedy = run_best[is_char], classes[is_char]
    if not len(greedy):
        return Decoded("", 0.0, (), (("", 0.0),) if candidates > 1 else ())
    choice, char_dist = _choose(char_probs, greedy, prior, blank)
    char_conf = char_dist[np.arange(len(greedy)), choice.read]
    text = "".join(charset.char(c) for c in choice.written)
    confidence = float(np.prod(char_conf) * blank_floor)
    others: tuple[tuple[str, float], ...] = ()
    if candidates > 1:
        others = _candidates(char_probs, greedy, run_best[is_char, blank], prior, charset, candidates, blank_floor,
                             (choice, char_dist))
    return Decoded(text, confidence, tuple(float(p) for p in char_conf), others, choice.country)


def decode_ctc(probs: np.ndarray, charset: Charset, prior: Prior | None = None, candidates: int = 1) -> list[Decoded]:
    """Best class per frame, repeats merged, blanks dropped; a prior then re-picks each character's class
    among the formats of the reading's length. With candidates over 1, each reading also lists that many of
    its most likely texts (_candidates)."""
    return [_decoded_ctc(p, charset, prior, candidates) for p in probs]


def decode(
    probs: np.ndarray, charset: Charset, head: str, prior: Prior | None = None, candidates: int = 1
) -> list[Decoded]:
    """Decode a recognizer's output, whichever head produced it. Candidates come from CTC heads only (every
    model since the first); a slots reading lists none."""
    if head == "ctc":
        return decode_ctc(probs, charset, prior, candidates)
    return decode_greedy(probs, charset) if prior is None else decode_with_prior(probs, charset, prior)


# Plate fonts draw these pairs alike (Brazil's grey plates print O and 0 from one shape), so where a format
# allows only one of a pair, a network sure of the other is evidence for it, not for the next most likely class
# (a sure 0 where only letters can be is an O, not a D).
LOOK_ALIKES = ("0O", "1I", "2Z", "5S", "6G", "8B")


class FormatPrior:
    """Plate formats as per-position alphabets with weights; decoding picks the most probable (format, text).

    score(format) = log weight + sum over its positions of log max P(allowed char) + log P(empty) after it.
    With vanity formats (any character) at small weights this mostly settles O/0, I/1, B/8 where a region's
    format fixes a letter or digit. Formats of one length are scored together as one masked array operation.
    Within the chosen format an allowed character's probability includes its look-alike's (LOOK_ALIKES) where
    the position does not allow that one; formats are scored without it, or a letter position would score a
    sure digit as high as a digit position does, and formats that differ there (Brazil's old LLLNNNN and
    Mercosur LLLNLNN) would tie.

    written_as maps a character read to how the country writes it (US: O as 0), applied where the chosen format
    allows the written one: a US vanity place writes the round shape as 0, a letter place of LLLNNN keeps O.
    country names the formats' country in what is decoded under them (Decoded.country).
    """

    def __init__(
        self,
        formats: list[tuple[list[str], float]],
        charset: Charset,
        written_as: dict[str, str] | None = None,
        country: str | None = None,
    ) -> None:
        usable = readable_formats(formats, charset)
        if not usable:
            raise ValueError("a format prior needs at least one format that fits the model's slots and characters")
        total = sum(w for _, w in usable)
        self.charset = charset
        self.country = country
        by_length: dict[int, list[tuple[np.ndarray, float]]] = {}
        for alphabets, weight in usable:
            allowed = np.zeros((len(alphabets), charset.classes), bool)
            for i, letters in enumerate(alphabets):
                allowed[i, [charset.chars.index(c) for c in letters if c in charset.chars]] = True
            by_length.setdefault(len(alphabets), []).append((allowed, np.log(weight / total)))
        self.groups = [(length, np.stack([a for a, _ in group]), np.array([w for _, w in group]))
                       for length, group in sorted(by_length.items())]
        self.look_alike = np.zeros((charset.classes, charset.classes))
        for pair in LOOK_ALIKES:
            if all(c in charset.chars for c in pair):
                a, b = (charset.chars.index(c) for c in pair)
                self.look_alike[a, b] = self.look_alike[b, a] = 1.0
        self.written_as = [
            (charset.chars.index(read), charset.chars.index(written))
            for read, written in (written_as or {}).items()
            if read in charset.chars and written in charset.chars
        ]

    def _written(self, classes: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        """classes (positions,) as the country writes them where allowed (positions, classes) permits."""
        written = classes.copy()
        for read, write in self.written_as:
            written[(classes == read) & allowed[np.arange(len(classes)), write]] = write
        return written

    def _allowed_probs(self, probs: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        """probs (positions, classes) -> (formats, positions, classes): each allowed class's probability plus
        its look-alike's where that one is not allowed; 0 for classes not allowed."""
        pooled = probs[None] + np.where(allowed, 0.0, probs[None]) @ self.look_alike
        return np.where(allowed, pooled, 0.0)

    def slot_choice(self, probs: np.ndarray) -> tuple[float, np.ndarray]:
        """Slot probabilities (slots, classes) -> (the most probable format's score, its classes, written)."""
        logp = np.log(np.clip(probs, 1e-9, 1.0))
        pad = self.charset.pad_index
        best_score, best = -np.inf, np.argmax(probs, axis=1)
        for length, allowed, log_weights in self.groups:
            masked = np.where(allowed, logp[None, :length], -np.inf)  # (formats, length, classes)
            scores = log_weights + masked.max(2).sum(1) + logp[length:, pad].sum()
            k = int(np.argmax(scores))
            if scores[k] > best_score:
                best_score = float(scores[k])
                chosen = _allowed_argmax(self._allowed_probs(probs[:length], allowed[k : k + 1])[0], allowed[k])
                best = np.concatenate([self._written(chosen, allowed[k]), np.full(self.charset.slots - length, pad)])
        return best_score, best

    def best_classes(self, probs: np.ndarray) -> tuple[np.ndarray, str | None]:
        """Slot probabilities -> the most probable format's classes, written, and its country."""
        return self.slot_choice(probs)[1], self.country

    def run_format(self, logp: np.ndarray) -> tuple[float, np.ndarray] | None:
        """A CTC reading's characters as log probabilities (characters, classes) -> the most probable format of the
        reading's length: (its score, its allowed classes (characters, classes)); None when no format has that
        length."""
        for length, allowed, log_weights in self.groups:
            if length == len(logp):
                scores = log_weights + np.where(allowed, logp[None], -np.inf).max(2).sum(1)
                k = int(np.argmax(scores))
                return float(scores[k]), allowed[k]
        return None

    def run_classes(self, probs: np.ndarray, allowed: np.ndarray) -> RunChoice:
        """A CTC reading's characters under one of the formats, allowed (characters, classes); its allowed
        probabilities are _allowed_probs's."""
        pooled = self._allowed_probs(probs, allowed[None])[0]
        read = _allowed_argmax(pooled, allowed)
        return RunChoice(read, self._written(read, allowed), pooled, partial(self._written, allowed=allowed),
                         self.country)

    def best_run_classes(self, probs: np.ndarray, greedy: np.ndarray) -> RunChoice:
        """Classes for a CTC reading's characters, probs (characters, classes), under the most probable format
        of the reading's length (run_classes); when no format has that length, the greedy classes, written as
        the country writes anywhere."""
        chosen = self.run_format(np.log(np.clip(probs, 1e-9, 1.0)))
        if chosen is None:
            write = partial(self._written, allowed=np.ones_like(probs, bool))
            return RunChoice(greedy, write(greedy), None, write, None)
        return self.run_classes(probs, chosen[1])


def readable_formats(formats: Sequence[tuple[list[str], float]], charset: Charset) -> list[tuple[list[str], float]]:
    """The formats a model of charset can read: within its slots, and a character it reads at every place."""
    return [(alphabets, weight) for alphabets, weight in formats if 0 < len(alphabets) <= charset.slots
            and all(any(c in charset.chars for c in letters) for letters in alphabets)]


def _allowed_argmax(pooled: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Each position's likeliest allowed class (positions, classes): an allowed one even where the network gave
    every allowed class exactly 0 (8-bit or underflowed outputs), where a plain argmax would give class 0."""
    classes: np.ndarray = np.where(allowed, pooled, -1.0).argmax(1)
    return classes


AUTO_PRIOR = "auto"


class AutoPrior:
    """Every country's formats at once, for plates of unknown or mixed origin: each reading is decoded under the
    country whose best format scores it highest (FormatPrior's score: the format's weight within its country and
    its characters' probabilities), with that country's way of writing. A reading no country has a format for is
    left as read. A country named outright rules the others out, so it constrains more where it is known."""

    def __init__(self, priors: Sequence[FormatPrior]) -> None:
        if not priors:
            raise ValueError("an automatic prior needs at least one country's formats")
        self.priors = tuple(priors)

    def best_classes(self, probs: np.ndarray) -> tuple[np.ndarray, str | None]:
        """As FormatPrior.best_classes, under the best-scoring country's formats."""
        (_, classes), prior = max(((prior.slot_choice(probs), prior) for prior in self.priors),
                                  key=lambda choice: choice[0][0])
        return classes, prior.country

    def best_run_classes(self, probs: np.ndarray, greedy: np.ndarray) -> RunChoice:
        """As FormatPrior.best_run_classes, under the best-scoring country's formats."""
        logp = np.log(np.clip(probs, 1e-9, 1.0))
        fits = [(chosen, prior) for prior in self.priors if (chosen := prior.run_format(logp)) is not None]
        if not fits:
            return RunChoice(greedy, greedy, None, _unchanged, None)
        (_, allowed), prior = max(fits, key=lambda fit: fit[0][0])
        return prior.run_classes(probs, allowed)


Prior: TypeAlias = FormatPrior | AutoPrior
