"""Several readings of one plate (zoomed views, jittered crops) agree on one text."""

from __future__ import annotations

from platelab.io.results import PlateResult


def vote(readings: list[PlateResult]) -> tuple[int, float]:
    """The readings agree on the text with the largest summed confidence.

    Returns the index of that text's most confident reading and the text's summed confidence divided by the
    number of readings, so a text the readings disagree on scores low.
    """
    totals: dict[str, float] = {}
    for reading in readings:
        totals[reading.text] = totals.get(reading.text, 0.0) + reading.confidence
    text = max(totals, key=lambda t: totals[t])
    best = max((i for i, r in enumerate(readings) if r.text == text), key=lambda i: readings[i].confidence)
    return best, totals[text] / len(readings)


def voted(readings: list[PlateResult]) -> PlateResult:
    """The winning reading (its characters, candidates and geometry) with the vote's confidence."""
    best, confidence = vote(readings)
    return readings[best].with_confidence(confidence)
