"""Human-readable results: markdown tables of scores and a picture of the crops that were misread."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from platelab.eval.metrics import IOU_MIN, MAX_AREA_RATIO, CropScores, PhotoScores, among_share
from platelab.eval.stats import wilson_interval
from platelab.io.draw import montage
from platelab.io.labels import normalize_plate

TOP_CONFUSIONS = 15
NO_FAILURES_SIZE = (96, 192)  # height, width of the blank tile shown when nothing failed
NOTHING_READ = "(nothing read)"  # a misread crop's caption would otherwise end in a bare arrow
# What the figures mean, printed under them: where a definition is a choice, the report says which it is.
COMPARED = ("texts compared upper-cased on their letters and digits only: spaces, dashes, dots dropped, full-width "
            "folded, O and 0 differ")
CROP_DEFINITIONS = (
    f"exact: the reading is the label ({COMPARED}). CER: edit distance over the labels' characters, all crops "
    "together; a file that cannot be read counts as read as nothing. Length: the label's. Confusions: the edits of "
    "one cheapest alignment, ∅ for a character missed (truth) or added (read as)."
)
PHOTO_DEFINITIONS = (
    f"detected: a reported plate overlaps the labelled box (IoU at least {IOU_MIN:g}, or its centre inside it and its "
    f"area within {MAX_AREA_RATIO:g} times the box's either way), one reported plate per labelled one. read: of "
    f"all labelled plates, those whose matched plate (the reported one overlapping it most) reads exactly "
    f"({COMPARED}); read of detected: the same among the detected. false plates: reported plates that overlap no "
    "labelled plate (a second one on a labelled plate is not counted), per photo named in labels.tsv (a photo "
    "without plates is named by a row of its file alone, every other cell empty)."
)


def _percent(share: float) -> str:
    return f"{100 * share:.1f}%"


def format_interval(hits: int, total: int) -> str:
    """95% interval of hits out of total items ("84.1-90.8%"): how far a small set's figure can be trusted."""
    return _interval(wilson_interval(hits, total))


def _interval(bounds: tuple[float, float]) -> str:
    low, high = bounds
    return f"{100 * low:.1f}-{100 * high:.1f}%"


def format_share(hits: int, total: int) -> str:
    """hits out of total items with their 95% interval: "87.8% (84.1-90.8%)"."""
    return f"{_percent(hits / max(total, 1))} ({format_interval(hits, total)})"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def format_crop_report(scores: CropScores, title: str) -> str:
    """Markdown: overall scores, exact share by plate length and by region, the most common confusions, and by
    reading confidence when the scores have it."""
    sections = [
        f"## {title}",
        _table(
            ["crops", "exact", "95% interval", "CER"],
            [[scores.n, _percent(scores.exact), _interval(scores.exact_interval), _percent(scores.cer)]],
        ),
        CROP_DEFINITIONS,
        "### By length",
        _table(
            ["length", "crops", "exact"],
            [[length, n, _percent(exact)] for length, (n, exact) in scores.by_length.items()],
        ),
        "### By region",
        _table(
            ["region", "crops", "exact"],
            [[region or "-", n, _percent(exact)] for region, (n, exact) in scores.by_region.items()],
        ),
        f"### Top {TOP_CONFUSIONS} confusions",
        _table(["truth", "read as", "count"], scores.confusions[:TOP_CONFUSIONS]),
    ]
    if scores.n_among is not None:
        sections += [_among_section(scores.n_among, scores.n)]
    if scores.by_confidence:
        sections += [
            "### By confidence (what `--min-confidence` keeps)",
            _table(
                ["confidence at least", "crops kept", "exact among them"],
                [[step, f"{n} ({_percent(scores.kept[step])})", _percent(exact)]
                 for step, (n, exact) in scores.by_confidence.items()],
            ),
        ]
    return "\n\n".join(sections) + "\n"


def format_photo_report(scores: PhotoScores, title: str, max_failures: int = 20) -> str:
    """Markdown: detection and end-to-end reading rates, false plates per photo, the first failures and false
    plates."""
    overall = _table(
        ["photos", "plates", "detected", "read", "read: 95% interval", "false plates / photo", "read of detected"],
        [
            [
                scores.n_photos,
                scores.n_plates,
                _percent(scores.detected),
                _percent(scores.read),
                _interval(scores.read_interval),
                f"{scores.false_per_photo:.2f}",
                _percent(scores.read_of_detected),
            ]
        ],
    )
    shown = scores.failures[:max_failures]
    failures = _table(
        ["file", "truth", "read as"], [[file, truth, pred or "(missed)"] for file, truth, pred in shown]
    )
    heading = f"### Failures ({_how_many_shown(max_failures, len(scores.failures))})"
    sections = [f"## {title}", overall, PHOTO_DEFINITIONS]
    if scores.n_among is not None:
        sections += [_among_section(scores.n_among, scores.n_plates)]
    sections += [heading, failures]
    if scores.false_plates:
        sections += [
            f"### False plates ({_how_many_shown(max_failures, len(scores.false_plates))}; an unlabelled plate counts "
            "too)",
            _table(["file", "read as", "box"],
                   [[file, text, ",".join(map(str, box))] for file, box, text in scores.false_plates[:max_failures]]),
        ]
    return "\n\n".join(sections) + "\n"


def _how_many_shown(shown: int, total: int) -> str:
    return f"first {shown} of {total}" if total > shown else f"all {total}"


def _among_section(n_among: int, total: int) -> str:
    share, interval = among_share(n_among, total)
    return "\n\n".join([
        "### Candidates (what matching against a list of plates would find)",
        _table(["truth among a plate's candidates", "95% interval"],
               [[f"{n_among} of {total} ({_percent(share)})", _interval(interval)]]),
    ])


def failure_montage(
    images: Sequence[np.ndarray], truths: Sequence[str], preds: Sequence[str], cols: int = 6
) -> np.ndarray:
    """BGR grid of the misread crops captioned "truth -> pred".

    When every crop was read exactly, one empty tile captioned "no failures", so callers can always save it.
    """
    failed = [
        (image, f"{truth} -> {pred or NOTHING_READ}")
        for image, truth, pred in zip(images, truths, preds, strict=True)
        if normalize_plate(truth) != normalize_plate(pred)
    ]
    if not failed:
        failed = [(np.zeros((*NO_FAILURES_SIZE, 3), np.uint8), "no failures")]
    failed_images, captions = zip(*failed, strict=True)
    return montage(list(failed_images), list(captions), cols)
