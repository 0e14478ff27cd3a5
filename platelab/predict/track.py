"""Plates followed through a video's frames: each plate's readings in every frame vote on its text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from platelab.io.results import PlateResult
from platelab.predict.vote import vote
from platelab.utils.boxes import box_iou

# A plate moves between read frames, so its box in the next one need only overlap where it was expected this much.
MATCH_IOU = 0.2
# A plate read with a track's last text joins it when no further than this many plate widths a read frame away:
# a fast plate's boxes in two read frames may not overlap at all before the track knows its speed.
TEXT_MATCH_WIDTHS = 2.0
# Read frames a plate may go unseen (passing behind something, blurred, read under the threshold) and keep its track.
MAX_MISSED = 5


@dataclass
class _Track:
    readings: list[PlateResult] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)

    @property
    def last_step(self) -> int:
        return self.steps[-1]

    def add(self, plate: PlateResult, frame: int, seconds: float, step: int) -> None:
        self.readings.append(plate)
        self.frames.append(frame)
        self.seconds.append(seconds)
        self.steps.append(step)

    def expected_box(self, step: int) -> tuple[float, float, float, float]:
        """Where the plate should be at this read frame: its last box moved on at the speed it last moved."""
        x, y, w, h = self.readings[-1].box
        if len(self.readings) < 2:
            return x, y, w, h
        px, py, _, _ = self.readings[-2].box
        elapsed = (step - self.steps[-1]) / (self.steps[-1] - self.steps[-2])
        return x + (x - px) * elapsed, y + (y - py) * elapsed, w, h

    def fit(self, plate: PlateResult, step: int, match_iou: float) -> float:
        """How well a plate read at this step continues the track: the overlap with where the track was last or
        is expected now, or match_iou for a plate of the same text near enough (0 for none)."""
        overlap = max(box_iou(self.readings[-1].box, plate.box), box_iou(self.expected_box(step), plate.box))
        last = self.readings[-1]
        if overlap < match_iou and plate.text and plate.text == last.text:
            (x, y, w, h), (px, py, _, _) = plate.box, last.box
            distance = ((x + w / 2 - px - last.box[2] / 2) ** 2 + (y + h / 2 - py - last.box[3] / 2) ** 2) ** 0.5
            if distance <= TEXT_MATCH_WIDTHS * max(w, last.box[2]) * (step - self.last_step):
                return match_iou
        return overlap

    def result(self) -> PlateResult:
        """The voted text with its surest reading's box, quad and characters, and when the plate was seen."""
        best, confidence = vote(self.readings)
        return replace(self.readings[best].with_confidence(confidence), frames=(self.frames[0], self.frames[-1]),
                       seconds=(self.seconds[0], self.seconds[-1]))


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
