"""The figures a model card reports as measured on the shipped file itself, not on the training run's validation:
the recognizer on the unseen synthetic plates and the real crops, the whole reader on the real photos.

A card's "measured" section: {"command", "date", "environment", "sets": {set: {"items": N, <prior>: {...}}}}, each
prior ("none", a country, "auto") with counts, so that a test can hold the file to its card. On photos, "found"
counts the labelled plates a reported plate overlaps (matched one to one, platelab.eval.metrics.score_photos) and
"false_plates" the reported plates that overlap none.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from platelab.eval.environment import describe_environment
from platelab.eval.hits import SYNTHETIC, crop_hits, photo_scores, synthetic_hits
from platelab.io.atomic import atomic_write_text
from platelab.io.labels import read_labels
from platelab.predict.decode import AUTO_PRIOR

CROP_SETS = {"crops-us": "us"}  # real crop sets and the country of their plates
PHOTO_SETS = {"endtoend-us": "us", "endtoend-br": "br"}
NO_PRIOR = "none"


def _priors(country: str) -> tuple[str | None, ...]:
    return None, country, AUTO_PRIOR


def _share(hits: int, items: int) -> dict[str, Any]:
    return {"read": hits, "share": round(hits / max(items, 1), 4)}


def recognizer_figures(model: Path, real: Path | None) -> dict[str, dict[str, Any]]:
    """The recognizer alone: unseen synthetic plates (no prior), and each real crop set here with every prior."""
    synthetic = synthetic_hits(model)
    sets: dict[str, dict[str, Any]] = {SYNTHETIC: {"items": len(synthetic), NO_PRIOR: _share(sum(synthetic),
                                                                                             len(synthetic))}}
    for name, country in CROP_SETS.items():
        if real is None or not (real / name).is_dir():
            continue
        labels = read_labels(real / name, "crops")
        sets[name] = {"items": len(labels)}
        for prior in _priors(country):
            sets[name][prior or NO_PRIOR] = _share(sum(crop_hits(real / name, labels, model, prior)), len(labels))
    return sets


def reader_figures(detector: Path, recognizer: Path, real: Path | None) -> dict[str, dict[str, Any]]:
    """The whole reader on each real photo set here, with every prior: plates found, read and false plates."""
    sets: dict[str, dict[str, Any]] = {}
    for name, country in PHOTO_SETS.items():
        if real is None or not (real / name).is_dir():
            continue
        by_prior = {prior or NO_PRIOR: photo_scores(real / name, recognizer, detector, prior)
                    for prior in _priors(country)}
        every_photo = by_prior[NO_PRIOR]
        sets[name] = {"items": every_photo.n_plates, "photos": every_photo.n_photos, "recognizer": recognizer.name}
        for prior, scores in by_prior.items():
            sets[name][prior] = {**_share(scores.n_read, scores.n_plates), "found": scores.n_detected,
                                 "false_plates": scores.n_false}
    return sets


def write_measured(card: Path, sets: dict[str, dict[str, Any]], command: str) -> None:
    """Replace the card's "measured" section (atomically; the rest of the card is kept as it is)."""
    content = json.loads(card.read_text(encoding="utf-8"))
    content["measured"] = {
        "command": command,
        "date": datetime.date.today().isoformat(),
        "environment": describe_environment(),
        "sets": sets,
    }
    atomic_write_text(card, json.dumps(content, indent=2) + "\n")


def _by_prior(figures: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    return ((prior, result) for prior, result in figures.items() if isinstance(result, dict))


def table_rows(model: str, sets: dict[str, dict[str, Any]]) -> Iterable[str]:
    """Markdown rows: model, set, prior, read of items (share), found and false plates where photos."""
    for name, figures in sets.items():
        for prior, result in _by_prior(figures):
            photos = (f"{result['found']} | {result['false_plates'] / figures['photos']:.2f}"
                      if "found" in result else " | ")
            share = result["read"] / figures["items"]  # not the card's share, rounded once already
            yield f"| {model} | {name} | {prior} | {result['read']} of {figures['items']} ({share:.1%}) | {photos} |"


def _photo_note(figures: dict[str, Any], result: dict[str, Any]) -> str:
    if "found" not in result:
        return ""
    return (f" ({result['found'] / figures['items']:.1%} found, "
            f"{result['false_plates'] / figures['photos']:.2f} false plates a photo)")


def summary_lines(measured: dict[str, Any]) -> list[str]:
    """A card's measured section in a few lines of plain text: per set, the share read under each prior."""
    lines = []
    for name, figures in measured["sets"].items():
        shares = "; ".join(f"{prior} {result['read'] / figures['items']:.1%}" + _photo_note(figures, result)
                           for prior, result in _by_prior(figures))
        photos = f" in {figures['photos']} photos" if "photos" in figures else ""
        lines.append(f"{name}, {figures['items']} plates{photos}, read with each prior: {shares}")
    lines.append(f"measured {measured['date']}: {measured['environment']}")
    return lines
