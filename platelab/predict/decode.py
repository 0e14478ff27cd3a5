"""Per-slot probabilities -> text, per-character confidences and an overall confidence."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from platelab.predict.charset import Charset


@dataclass(frozen=True)
class Decoded:
    text: str
    confidence: float
    char_confidences: tuple[float, ...]


def _decoded(probs: np.ndarray, classes: np.ndarray, charset: Charset) -> Decoded:
    length = (
        int(np.argmax(classes == charset.pad_index)) if (classes == charset.pad_index).any() else len(classes)
    )
    chosen = probs[np.arange(len(classes)), classes]
    text = "".join(charset.char(c) for c in classes[:length])
    # The whole reading's probability: its characters and the empty slots that end it.
    confidence = float(np.prod(chosen[:length]) * np.prod(probs[length:, charset.pad_index]))
    return Decoded(text, confidence, tuple(float(p) for p in chosen[:length]))


def decode_greedy(probs: np.ndarray, charset: Charset) -> list[Decoded]:
    """Most likely class in every slot; the text ends at the first empty slot."""
    return [_decoded(p, np.argmax(p, axis=1), charset) for p in probs]


def decode_with_prior(probs: np.ndarray, charset: Charset, prior: FormatPrior) -> list[Decoded]:
    return [_decoded(p, prior.best_classes(p, charset), charset) for p in probs]


class FormatPrior:
    """Plate formats as per-position alphabets with weights; decoding picks the most probable (format, text).

    score(format) = log weight + sum over its positions of log max P(allowed char) + log P(empty) after it.
    With vanity formats (any character) at small weights this mostly settles O/0, I/1, B/8 where a region's
    format fixes a letter or digit.
    """

    def __init__(self, formats: list[tuple[list[str], float]]) -> None:
        if not formats:
            raise ValueError("a format prior needs at least one format")
        total = sum(w for _, w in formats)
        self.formats = [(alphabets, np.log(w / total)) for alphabets, w in formats]

    def best_classes(self, probs: np.ndarray, charset: Charset) -> np.ndarray:
        logp = np.log(np.clip(probs, 1e-9, 1.0))
        best_score, best = -np.inf, np.argmax(probs, axis=1)
        for alphabets, log_weight in self.formats:
            if len(alphabets) > charset.slots:
                continue
            classes = np.full(charset.slots, charset.pad_index)
            score = log_weight + logp[len(alphabets) :, charset.pad_index].sum()
            for i, allowed in enumerate(alphabets):
                ids = [charset.chars.index(c) for c in allowed if c in charset.chars]
                j = ids[int(np.argmax(logp[i, ids]))]
                classes[i] = j
                score += logp[i, j]
            if score > best_score:
                best_score, best = score, classes
        return best
