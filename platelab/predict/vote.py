"""Several readings of one plate (zoomed views, jittered crops) agree on one text."""

from __future__ import annotations

from platelab.io.results import PlateResult


class Tally:
    """Readings of one plate added as they come and summed per text: vote() over all of them, in constant memory
    (a plate that stays in a camera's view is read in every frame for as long as it stays)."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}  # summed confidence per text, in the order each was first read
        self.surest: dict[str, tuple[int, PlateResult]] = {}  # each text's most confident reading and its index
        self.count = 0

    def add(self, reading: PlateResult) -> None:
        self.totals[reading.text] = self.totals.get(reading.text, 0.0) + reading.confidence
        kept = self.surest.get(reading.text)
        if kept is None or reading.confidence > kept[1].confidence:
            self.surest[reading.text] = (self.count, reading)
        self.count += 1

    def winner(self) -> tuple[int, PlateResult, float]:
        """The text with the largest summed confidence (the first read of equals): the index and reading of its most
        confident reading, and its summed confidence divided by the number of readings, so a text the readings
        disagree on scores low."""
        text = max(self.totals, key=lambda t: self.totals[t])
        index, reading = self.surest[text]
        return index, reading, self.totals[text] / self.count


def vote(readings: list[PlateResult]) -> tuple[int, float]:
    """The readings agree on the text with the largest summed confidence (Tally.winner): the index of that text's
    most confident reading and the vote's confidence."""
    tally = Tally()
    for reading in readings:
        tally.add(reading)
    index, _, confidence = tally.winner()
    return index, confidence


def voted(readings: list[PlateResult]) -> PlateResult:
    """The winning reading (its characters, candidates and geometry) with the vote's confidence."""
    best, confidence = vote(readings)
    return readings[best].with_confidence(confidence)
