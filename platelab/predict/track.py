"""Plates followed through a video's frames: each plate's readings in every frame vote on its text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from platelab.io.results import PlateResult
from platelab.predict.vote import Tally
from platelab.utils.boxes import box_iou

# A plate moves between read frames, so its box in the next one need only overlap where it was expected this much.
MATCH_IOU = 0.2
# A plate read with a track's last text joins it when no further than this many plate widths a read frame away:
# a fast plate's boxes in two read frames may not overlap at all before the track knows its speed.
TEXT_MATCH_WIDTHS = 2.0
# Read frames a plate may go unseen (passing behind something, blurred, read under the threshold) and keep its track.
MAX_MISSED = 5


class _Track:
    """One plate's readings so far: their vote as a running tally, the last two readings (its speed) and when it
    was first and last seen; constant memory however long the plate stays in view."""

    def __init__(self, plate: PlateResult, frame: int, seconds: float, step: int) -> None:
        self.tally = Tally()
        self.first = plate  # where it began: the order tracks are given in
        self.recent: list[tuple[PlateResult, int]] = []  # the last two readings and their read-frame steps
        self.frames = (frame, frame)
        self.seconds = (seconds, seconds)
        self.add(plate, frame, seconds, step)

    @property
    def last_step(self) -> int:
        return self.recent[-1][1]

    def add(self, plate: PlateResult, frame: int, seconds: float, step: int) -> None:
        self.tally.add(plate)
        self.recent = [*self.recent[-1:], (plate, step)]
        self.frames = (self.frames[0], frame)
        self.seconds = (self.seconds[0], seconds)

    def expected_box(self, step: int) -> tuple[float, float, float, float]:
        """Where the plate should be at this read frame: its last box moved on at the speed it last moved."""
        x, y, w, h = self.recent[-1][0].box
        if len(self.recent) < 2:
            return x, y, w, h
        (before, before_step), (_, last_step) = self.recent
        px, py, _, _ = before.box
        elapsed = (step - last_step) / (last_step - before_step)
        return x + (x - px) * elapsed, y + (y - py) * elapsed, w, h

    def fit(self, plate: PlateResult, step: int, match_iou: float) -> float:
        """How well a plate read at this step continues the track: the overlap with where the track was last or
        is expected now, or match_iou for a plate of the same text near enough (0 for none)."""
        last = self.recent[-1][0]
        overlap = max(box_iou(last.box, plate.box), box_iou(self.expected_box(step), plate.box))
        if overlap < match_iou and plate.text and plate.text == last.text:
            (x, y, w, h), (px, py, _, _) = plate.box, last.box
            distance = ((x + w / 2 - px - last.box[2] / 2) ** 2 + (y + h / 2 - py - last.box[3] / 2) ** 2) ** 0.5
            if distance <= TEXT_MATCH_WIDTHS * max(w, last.box[2]) * (step - self.last_step):
                return match_iou
        return overlap

    def result(self) -> PlateResult:
        """The voted text with its surest reading's box, quad and characters, and when the plate was seen."""
        _, best, confidence = self.tally.winner()
        return replace(best.with_confidence(confidence), frames=self.frames, seconds=self.seconds)


class PlateTracker:
    """Feed it each read frame's plates in order (add); plates() gives one PlateResult per plate followed, and
    passed() those whose tracks have closed since it was last called (for a stream that never ends).

    A plate joins the track it continues best (_Track.fit: overlapping the track's last box or the box its speed
    leads to by at least match_iou, or read alike close by), each track taking at most one plate a frame; a track
    unseen for more than max_missed read frames is closed, so a plate that comes back later starts a new one.
    """

    def __init__(self, match_iou: float = MATCH_IOU, max_missed: int = MAX_MISSED, keep_closed: bool = True) -> None:
        self.match_iou = match_iou
        self.max_missed = max_missed
        self.keep_closed = keep_closed  # False for a stream that never ends: plates() then gives the open ones
        self._open: list[_Track] = []
        self._closed: list[_Track] = []
        self._unreported: list[_Track] = []  # closed, not yet given by passed()
        self._step = 0

    def add(self, frame: int, seconds: float, plates: Sequence[PlateResult]) -> None:
        self._step += 1
        self._close([t for t in self._open if self._step - t.last_step > self.max_missed + 1])
        pairs = sorted(
            ((track.fit(plate, self._step, self.match_iou), t, p)
             for t, track in enumerate(self._open) for p, plate in enumerate(plates)),
            reverse=True,
        )
        taken_tracks: set[int] = set()
        taken_plates: set[int] = set()
        for iou, t, p in pairs:
            if iou < self.match_iou:
                break
            if t not in taken_tracks and p not in taken_plates:
                self._open[t].add(plates[p], frame, seconds, self._step)
                taken_tracks.add(t)
                taken_plates.add(p)
        for p, plate in enumerate(plates):
            if p not in taken_plates:
                self._open.append(_Track(plate, frame, seconds, self._step))

    def _close(self, tracks: list[_Track]) -> None:
        closing = {id(t) for t in tracks}  # by identity: two tracks may hold equal readings
        self._open = [t for t in self._open if id(t) not in closing]
        if self.keep_closed:
            self._closed += tracks
        self._unreported += tracks

    def end(self) -> None:
        """The frames have ended: every track is closed."""
        self._close(list(self._open))

    def passed(self) -> list[PlateResult]:
        """The plates whose tracks closed since the last call, in the order they first appeared."""
        tracks, self._unreported = _in_order(self._unreported), []
        return [track.result() for track in tracks]

    def plates(self) -> list[PlateResult]:
        """Every plate followed so far (with keep_closed False, those still in view), in the order they first
        appeared."""
        return [track.result() for track in _in_order(self._closed + self._open)]


def _in_order(tracks: list[_Track]) -> list[_Track]:
    """By the frame each track began in, then left to right and top to bottom."""
    return sorted(tracks, key=lambda t: (t.frames[0], t.first.box[:2]))
