"""Styles' text formats as per-position alphabets: the plate-format prior a recognizer may decode with."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from platelab.synth.style import PlateStyle, text_positions

COUNTRIES_FILE = Path(__file__).parent / "countries.yaml"


def format_alphabets(pattern_rows: Sequence[str], alphabets: dict[str, str]) -> list[str]:
    return [alphabets[name] for row in pattern_rows for name in text_positions(row, alphabets)]


def formats_by_country(styles: Sequence[PlateStyle]) -> dict[str, list[dict[str, Any]]]:
    """{country: [{"alphabets": [...], "weight": w}]}; weights sum the style's and format's shares."""
    merged: dict[str, dict[tuple[str, ...], float]] = defaultdict(lambda: defaultdict(float))
    for style in styles:
        total = sum(f.weight for f in style.formats)
        for fmt in style.formats:
            key = tuple(format_alphabets(fmt.patterns, style.all_alphabets))
            merged[style.prior_country][key] += style.weight * fmt.weight / total
    return {
        country: [{"alphabets": list(k), "weight": round(w, 6)} for k, w in sorted(formats.items())]
        for country, formats in sorted(merged.items())
    }


@lru_cache(maxsize=1)
def read_as_by_country() -> dict[str, dict[str, str]]:
    """{country: {character read: character written}} from countries.yaml (the US writes O as 0)."""
    countries = yaml.safe_load(COUNTRIES_FILE.read_text(encoding="utf-8")) or {}
    return {
        name: {str(k): str(v) for k, v in (entry.get("read_as") or {}).items()} for name, entry in countries.items()
    }
