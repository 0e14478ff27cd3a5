"""Scores for plate reading: per-crop text accuracy and per-photo detection + reading.

Texts are compared after `normalize_plate` (spaces, dashes, case do not count) everywhere except in
`char_error_rate` and `edit_operations`, which work on the strings they are given.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from platelab.eval.stats import wilson_interval
from platelab.io.labels import PhotoLabel, normalize_plate
from platelab.utils.boxes import Box, box_iou

GAP = "∅"  # stands for the missing side of an insertion or deletion in confusions
CONFIDENCE_STEPS = (0.3, 0.5, 0.7, 0.9)  # reading confidences the crop report breaks accuracy down by
MAX_AREA_RATIO = 4.0  # a box found by its centre alone is at most this many times larger or smaller than the plate
IOU_MIN = 0.3  # a predicted box overlapping a labelled plate at least this much finds it
Key = TypeVar("Key", int, str)


def _edit_table(truth: str, pred: str) -> list[list[int]]:
    """table[i][j] = Levenshtein distance between truth[:i] and pred[:j]."""
    table = [list(range(len(pred) + 1))]
    for i, t in enumerate(truth, 1):
        above = table[-1]
        row = [i]
        for j, p in enumerate(pred, 1):
            row.append(min(above[j] + 1, row[j - 1] + 1, above[j - 1] + (t != p)))
        table.append(row)
    return table


def edit_distance(truth: str, pred: str) -> int:
    return _edit_table(truth, pred)[-1][-1]


def char_error_rate(truth: str, pred: str) -> float:
    """Levenshtein distance / len(truth); an empty truth counts each predicted character as one error."""
    return edit_distance(truth, pred) / max(len(truth), 1)


def edit_operations(truth: str, pred: str) -> list[tuple[str, str]]:
    """The (truth char, predicted char) pairs of one cheapest alignment that differ, in reading order.

    A deletion is (c, GAP) and an insertion (GAP, c). Ties prefer substitution, then deletion, so the result
    is deterministic.
    """
    table = _edit_table(truth, pred)
    i, j = len(truth), len(pred)
    operations = []
    while i > 0 or j > 0:
        if i > 0 and j > 0 and table[i][j] == table[i - 1][j - 1] + (truth[i - 1] != pred[j - 1]):
            if truth[i - 1] != pred[j - 1]:
                operations.append((truth[i - 1], pred[j - 1]))
            i, j = i - 1, j - 1
        elif i > 0 and table[i][j] == table[i - 1][j] + 1:
            operations.append((truth[i - 1], GAP))
            i -= 1
        else:
            operations.append((GAP, pred[j - 1]))
            j -= 1
    return operations[::-1]


@dataclass
class CropScores:
    """Text accuracy over plate crops.

    `exact` is the share of crops read exactly; `cer` is total edits / total truth characters. `by_length`
    (truth length) and `by_region` map to (number of crops, exact share); `by_confidence`, when the readings'
    confidences are given, maps a threshold to (crops read at least that surely, exact share among them): what
    `--min-confidence` keeps and how often it is right. `n_among`, when the readings' candidates are given, counts
    the crops whose truth is among them.
    """

    n: int
    exact: float
    cer: float
    by_length: dict[int, tuple[int, float]]
    by_region: dict[str, tuple[int, float]]
    confusions: list[tuple[str, str, int]]  # (true char, predicted char, count), most frequent first
    by_confidence: dict[float, tuple[int, float]] = field(default_factory=dict)
    n_among: int | None = None

    @property
    def n_exact(self) -> int:
        return round(self.exact * self.n)

    @property
    def exact_interval(self) -> tuple[float, float]:
        return wilson_interval(self.n_exact, self.n)

    @property
    def kept(self) -> dict[float, float]:
        """By confidence threshold, the share of all crops read at least that surely."""
        return {step: n / max(self.n, 1) for step, (n, _) in self.by_confidence.items()}

    def to_dict(self) -> dict[str, object]:
        """The scores as JSON-ready numbers (shares 0-1, counts), under the keys `eval --json` documents."""
        return {
            "n_crops": self.n,
            "n_exact": self.n_exact,
            "exact": self.exact,
            "exact_interval": list(self.exact_interval),
            "cer": self.cer,
            "by_length": [{"length": length, "n_crops": n, "exact": exact}
                          for length, (n, exact) in self.by_length.items()],
            "by_region": [{"region": region, "n_crops": n, "exact": exact}
                          for region, (n, exact) in self.by_region.items()],
            "confusions": [{"truth": t, "read": p, "count": n} for t, p, n in self.confusions],
            "by_confidence": [{"min_confidence": step, "n_kept": n, "kept": self.kept[step], "exact": exact}
                              for step, (n, exact) in self.by_confidence.items()],
            "candidates": _among_dict(self.n_among, self.n),
        }


def among_share(n_among: int, total: int) -> tuple[float, tuple[float, float]]:
    """The share of plates whose truth is among their candidates, and its 95% interval."""
    return n_among / max(total, 1), wilson_interval(n_among, total)


def _among_dict(n_among: int | None, total: int) -> dict[str, object] | None:
    if n_among is None:
        return None
    share, interval = among_share(n_among, total)
    return {"n_among": n_among, "among": share, "among_interval": list(interval)}


def _exact_by_group(keys: Sequence[Key], hits: Sequence[bool]) -> dict[Key, tuple[int, float]]:
    counts: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for key, hit in zip(keys, hits, strict=True):
        counts[key][0] += 1
        counts[key][1] += hit
    return {key: (n, right / n) for key, (n, right) in sorted(counts.items())}


def _ranked(counter: Counter[tuple[str, str]]) -> list[tuple[str, str, int]]:
    return [(t, p, n) for (t, p), n in sorted(counter.items(), key=lambda item: (-item[1], item[0]))]


def score_crops(
    truths: Sequence[str], preds: Sequence[str], regions: Sequence[str] | None = None,
    confidences: Sequence[float] | None = None, candidates: Sequence[Sequence[str]] | None = None,
) -> CropScores:
    """Scores predicted crop texts against their labels; `regions` (e.g. US state) groups the results, the
    readings' `confidences` give the share kept and read right at each of CONFIDENCE_STEPS, and their
    `candidates` (texts each) how often the truth is among them."""
    regions = [""] * len(truths) if regions is None else regions
    if not len(truths) == len(preds) == len(regions):
        raise ValueError(f"got {len(truths)} truths, {len(preds)} predictions and {len(regions)} regions")
    truths = [normalize_plate(t) for t in truths]
    preds = [normalize_plate(p) for p in preds]
    hits = [t == p for t, p in zip(truths, preds, strict=True)]
    confusions: Counter[tuple[str, str]] = Counter()
    edits = 0
    for t, p in zip(truths, preds, strict=True):
        operations = edit_operations(t, p)
        edits += len(operations)  # one operation per unit of edit distance
        confusions.update(operations)
    return CropScores(
        n=len(truths),
        exact=sum(hits) / max(len(truths), 1),
        cer=edits / max(sum(map(len, truths)), 1),
        by_length=_exact_by_group([len(t) for t in truths], hits),
        by_region=_exact_by_group(list(regions), hits),
        confusions=_ranked(confusions),
        by_confidence={} if confidences is None else _exact_by_confidence(confidences, hits),
        n_among=None if candidates is None else sum(_among(t, c) for t, c in zip(truths, candidates, strict=True)),
    )


def _among(truth: str, candidates: Sequence[str]) -> bool:
    return normalize_plate(truth) in {normalize_plate(c) for c in candidates}


def _exact_by_confidence(confidences: Sequence[float], hits: Sequence[bool]) -> dict[float, tuple[int, float]]:
    if len(confidences) != len(hits):
        raise ValueError(f"got {len(confidences)} confidences for {len(hits)} crops")
    kept = {step: [hit for c, hit in zip(confidences, hits) if c >= step] for step in CONFIDENCE_STEPS}
    return {step: (len(k), sum(k) / max(len(k), 1)) for step, k in kept.items()}


def _centre_inside(box: Box, region: Box) -> bool:
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return region[0] <= cx <= region[0] + region[2] and region[1] <= cy <= region[1] + region[3]


def overlaps(predicted: Box, labelled: Box, iou_min: float) -> bool:
    """Whether a predicted box finds a labelled plate.

    The hand-drawn boxes of the real photo sets are sometimes loose (a margin of bumper) or tight (the
    characters only), which can push the IoU of a good detection below any sensible threshold; a predicted
    box whose centre lies inside the labelled box is therefore counted as well, when the two are within
    MAX_AREA_RATIO of each other's size (a box round half the car is not a plate found).
    """
    if box_iou(predicted, labelled) >= iou_min:
        return True
    areas = predicted[2] * predicted[3], labelled[2] * labelled[3]
    return max(areas) <= MAX_AREA_RATIO * min(areas) and _centre_inside(predicted, labelled)


@dataclass
class PhotoScores:
    """Detection and reading over whole photos.

    `detected`: share of labelled plates matched to a predicted box that overlaps them (one box to one plate).
    `read`: share of labelled plates whose matched prediction also has the exact text (of all labelled plates, found
    or not; `read_of_detected` is the share of the found ones). `false_per_photo`: predicted plates that overlap no
    labelled plate, per labelled photo. `failures` lists (file, true plate, predicted text; "" when missed), and
    `missed` the index among the labels of each, in the same order; `hits` says for each labelled plate, in the
    labels' order, whether it was read; `found`, whether it was matched; `false_plates` lists (file, box, text) of
    the predictions that overlap no labelled plate. `n_among`, when the predictions' candidates are given, counts the
    labelled plates whose matched prediction has the truth among them.
    """

    n_plates: int
    n_photos: int
    detected: float
    read: float
    n_detected: int = 0
    n_read: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    hits: list[bool] = field(default_factory=list)
    found: list[bool] = field(default_factory=list)
    false_plates: list[tuple[str, Box, str]] = field(default_factory=list)
    n_among: int | None = None
    missed: list[int] = field(default_factory=list)

    @property
    def read_of_detected(self) -> float:
        return self.n_read / max(self.n_detected, 1)

    @property
    def n_false(self) -> int:
        return len(self.false_plates)

    @property
    def false_per_photo(self) -> float:
        return self.n_false / max(self.n_photos, 1)

    @property
    def read_interval(self) -> tuple[float, float]:
        return wilson_interval(self.n_read, self.n_plates)

    def to_dict(self) -> dict[str, object]:
        """The scores as JSON-ready numbers (shares 0-1, counts) and lists, under the keys `eval --json` documents."""
        return {
            "n_photos": self.n_photos,
            "n_plates": self.n_plates,
            "n_detected": self.n_detected,
            "detected": self.detected,
            "n_read": self.n_read,
            "read": self.read,
            "read_interval": list(self.read_interval),
            "read_of_detected": self.read_of_detected,
            "n_false": self.n_false,
            "false_per_photo": self.false_per_photo,
            "candidates": _among_dict(self.n_among, self.n_plates),
            "failures": [{"file": file, "truth": truth, "read": read} for file, truth, read in self.failures],
            "false_plates": [{"file": file, "read": text, "box": [int(v) for v in box]}
                             for file, box, text in self.false_plates],
        }


@dataclass
class _PhotoTally:
    detected: int = 0
    read: int = 0
    false_plates: list[tuple[str, Box, str]] = field(default_factory=list)
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)  # label index of each failure
    hits: dict[int, bool] = field(default_factory=dict)  # label index -> read
    found: dict[int, bool] = field(default_factory=dict)  # label index -> a prediction overlaps it
    among: int = 0  # labelled plates whose matched prediction has the truth among its candidates


def _match(
    labels: Sequence[PhotoLabel], predictions: Sequence[tuple[Box, str]], iou_min: float
) -> tuple[dict[int, int], set[int]]:
    """One-to-one label -> prediction matches, as many as the overlaps allow (a prediction overlapping two plates
    goes to the one no other prediction finds), each label trying its best-overlapping predictions first; and the
    predictions overlapping any label.

    A plate reported twice is matched to the box that fits it best, read or not: a reader must not gain by listing
    several texts on one plate, since extra predictions on an already matched plate are neither matches nor false
    plates.
    """
    pairs = [
        (box_iou(box, label.box), li, pi)
        for li, label in enumerate(labels)
        for pi, (box, _) in enumerate(predictions)
        if overlaps(box, label.box, iou_min)
    ]
    choices: dict[int, list[int]] = {}
    for _, li, pi in sorted(pairs, key=lambda pair: (-pair[0], pair[1], pair[2])):
        choices.setdefault(li, []).append(pi)
    owner: dict[int, int] = {}  # prediction -> label

    def claim(li: int, tried: set[int]) -> bool:
        """Kuhn's augmenting path: give li a prediction, moving earlier labels to their other ones if need be."""
        for pi in choices[li]:
            if pi not in tried:
                tried.add(pi)
                if pi not in owner or claim(owner[pi], tried):
                    owner[pi] = li
                    return True
        return False

    for li in choices:  # labels in the order of their best overlap
        claim(li, set())
    return {li: pi for pi, li in owner.items()}, {pi for *_, pi in pairs}


def _tally_photo(
    file: str, labels: Mapping[int, PhotoLabel], predictions: Sequence[tuple[Box, str]], iou_min: float,
    tally: _PhotoTally, candidates: Sequence[Sequence[str]] | None = None,
) -> None:
    """One photo's labels, by their index among all labels, against its predictions (and their candidates)."""
    if candidates is not None and len(candidates) != len(predictions):
        raise ValueError(f"{file}: {len(candidates)} candidate lists for {len(predictions)} predictions")
    indices, photo_labels = list(labels), list(labels.values())
    matches, overlapping = _match(photo_labels, predictions, iou_min)
    tally.false_plates += [(file, box, text) for i, (box, text) in enumerate(predictions) if i not in overlapping]
    for li, label in enumerate(photo_labels):
        text = normalize_plate(predictions[matches[li]][1]) if li in matches else ""
        tally.detected += li in matches
        read = li in matches and text == normalize_plate(label.plate)
        tally.read += read
        tally.hits[indices[li]] = read
        tally.found[indices[li]] = li in matches
        if candidates is not None and li in matches:
            tally.among += _among(label.plate, candidates[matches[li]])
        if not read:
            tally.failures.append((label.file, label.plate, text))
            tally.missed.append(indices[li])


def score_photos(
    labels: Sequence[PhotoLabel], predictions: Mapping[str, Sequence[tuple[Box, str]]], iou_min: float = IOU_MIN,
    candidates: Mapping[str, Sequence[Sequence[str]]] | None = None, photos: Sequence[str] = (),
) -> PhotoScores:
    """Scores (box, text) predictions per photo file against labelled plates; candidates, per file, the texts of
    each of its predictions in their order; photos, those of the set that hold no labelled plate (every prediction
    on them is a false plate, and they count among the photos).

    Photos without predictions count as all plates missed; predictions for other files are ignored.
    """
    by_file: dict[str, dict[int, PhotoLabel]] = defaultdict(dict, {photo: {} for photo in photos})
    for index, label in enumerate(labels):
        by_file[label.file][index] = label
    tally = _PhotoTally()
    for file, photo_labels in by_file.items():
        _tally_photo(file, photo_labels, predictions.get(file, ()), iou_min, tally,
                     None if candidates is None else candidates.get(file, ()))
    n_plates = len(labels)
    return PhotoScores(
        n_plates=n_plates,
        n_photos=len(by_file),
        detected=tally.detected / max(n_plates, 1),
        read=tally.read / max(n_plates, 1),
        n_detected=tally.detected,
        n_read=tally.read,
        failures=tally.failures,
        missed=tally.missed,
        hits=[tally.hits[i] for i in range(n_plates)],
        found=[tally.found[i] for i in range(n_plates)],
        n_among=None if candidates is None else tally.among,
        false_plates=tally.false_plates,
    )
