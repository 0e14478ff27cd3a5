"""Plates followed through a video's frames: each plate's readings in every frame vote on its text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from platelab.io.results import PlateResult
from platelab.predict.vote import vote
from platelab.utils.boxes import box_iou

# A plate moves between read frames, so its box in the next one need only overlap its last box this much.
MATCH_IOU = 0.2
# Read frames a plate may go unseen (passing behind something, blurred, read under the threshold) and keep its track.
MAX_MISSED = 5


@dataclass
class _Track:
    readings: list[PlateResult] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    last_step: int = 0

    def add(self, plate: PlateResult, frame: int, seconds: float, step: int) -> None:
        self.readings.append(plate)
        self.frames.append(frame)
        self.seconds.append(seconds)
        self.last_step = step

    def result(self) -> PlateResult:
        """The voted text with its surest reading's box, quad and characters, and when the plate was seen."""
        best, confidence = vote(self.readings)
        return replace(self.readings[best].with_confidence(confidence), frames=(self.frames[0], self.frames[-1]),
                       seconds=(self.seconds[0], self.seconds[-1]))


class PlateTracker:
    """Feed it each read frame's plates in order (add); plates() gives one PlateResult per plate followed, and
    passed() those whose tracks have closed since it was last called (for a stream that never ends).

    A plate joins the track whose last box it overlaps most (at least match_iou), each track taking at most one
    plate a frame; a track unseen for more than max_missed read frames is closed, so a plate that comes back later
    starts a new one.
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
            ((box_iou(track.readings[-1].box, plate.box), t, p)
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
                track = _Track()
                track.add(plate, frame, seconds, self._step)
                self._open.append(track)

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
    return sorted(tracks, key=lambda t: (t.frames[0], t.readings[0].box[:2]))
