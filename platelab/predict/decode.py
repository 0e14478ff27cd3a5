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
    return [_decoded(p, prior.best_classes(p), charset) for p in probs]


class FormatPrior:
    """Plate formats as per-position alphabets with weights; decoding picks the most probable (format, text).

    score(format) = log weight + sum over its positions of log max P(allowed char) + log P(empty) after it.
    With vanity formats (any character) at small weights this mostly settles O/0, I/1, B/8 where a region's
    format fixes a letter or digit. Formats of one length are scored together as one masked array operation.
    """

    def __init__(self, formats: list[tuple[list[str], float]], charset: Charset) -> None:
        usable = [(alphabets, w) for alphabets, w in formats if 0 < len(alphabets) <= charset.slots]
        if not usable:
            raise ValueError("a format prior needs at least one format that fits the model's slots")
        total = sum(w for _, w in usable)
        self.charset = charset
        by_length: dict[int, list[tuple[np.ndarray, float]]] = {}
        for alphabets, weight in usable:
            allowed = np.zeros((len(alphabets), charset.classes), bool)
            for i, letters in enumerate(alphabets):
                allowed[i, [charset.chars.index(c) for c in letters if c in charset.chars]] = True
            by_length.setdefault(len(alphabets), []).append((allowed, np.log(weight / total)))
        self.groups = [(length, np.stack([a for a, _ in group]), np.array([w for _, w in group]))
                       for length, group in sorted(by_length.items())]

    def best_classes(self, probs: np.ndarray) -> np.ndarray:
        logp = np.log(np.clip(probs, 1e-9, 1.0))
        pad = self.charset.pad_index
        best_score, best = -np.inf, np.argmax(probs, axis=1)
        for length, allowed, log_weights in self.groups:
            masked = np.where(allowed, logp[None, :length], -np.inf)  # (formats, length, classes)
            scores = log_weights + masked.max(2).sum(1) + logp[length:, pad].sum()
            k = int(np.argmax(scores))
            if scores[k] > best_score:
                best_score = scores[k]
                best = np.concatenate([masked[k].argmax(1), np.full(self.charset.slots - length, pad)])
        return best
