"""Specialty-issue extras on a plate's single text row: stacked side codes and emblems, never in the label.

Real US crops carry them often (a vertical "DC" or "BR" beside the number, a sports logo at the left, a horse
between a county number and the serial); a model that never saw them reads them as characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import RootModel

from platelab.synth.style import Graphic, PlateStyle, Specialty, StyleError, TextRow
from platelab.utils.config_file import load_model_file
from platelab.utils.errors import shown

SPECIALTY_SETS_FILE = Path(__file__).parent / "specialty.yaml"


class _SpecialtySets(RootModel[dict[str, Specialty]]):
    pass


@lru_cache(maxsize=1)
def specialty_sets() -> dict[str, Specialty]:
    """The sets of specialty.yaml by name; a wrong one is one line naming the file and the field."""
    return load_model_file(SPECIALTY_SETS_FILE, _SpecialtySets, StyleError).root


def style_specialty(style: PlateStyle) -> Specialty | None:
    if style.specialty is None or isinstance(style.specialty, Specialty):
        return style.specialty
    try:
        return specialty_sets()[style.specialty]
    except KeyError:
        raise StyleError(f"style {style.name}: field specialty: no set named {shown(style.specialty)}") from None


def pick_emblem(specialty: Specialty, rng: np.random.Generator) -> Graphic:
    """One of the set's emblems in two colours drawn from its palette."""
    graphic = specialty.emblems[rng.integers(len(specialty.emblems))]
    first, second = rng.choice(len(specialty.palette), 2, replace=len(specialty.palette) < 2)
    return graphic.model_copy(update={"colour": specialty.palette[first], "colour2": specialty.palette[second]})


@dataclass(frozen=True)
class Decoration:
    """What decorate chose for one plate: its row (moved right of a side emblem), the stacked codes, the gap."""

    row: TextRow
    prefix: str = ""  # stacked code alphabets before the text
    suffix: str = ""  # stacked code alphabets after the text
    middle_gap: int = -1  # index of the character the emblem gap comes after; -1 for none
    emblem_box: tuple[float, float] | None = None  # x0, x1 of a side emblem, in fractions of the plate width


def decorate(specialty: Specialty, row: TextRow, chars: int, rng: np.random.Generator) -> Decoration:
    """Draw the extras of one plate whose single row holds chars characters."""
    prefix = suffix = ""
    emblem_box = None
    if rng.random() < specialty.side_emblem:
        width = float(rng.uniform(*specialty.emblem_width))
        end = row.x0 + width
        text_x0 = min(end + 0.02, row.x1 - 0.3)
        # where the text keeps its least room (0.3 of the plate), the emblem narrows to end left of it: painted
        # over the characters it would hide what the label names
        emblem_box = (row.x0, end if end + 0.02 <= text_x0 else max(row.x0, text_x0 - 0.02))
        row = row.model_copy(update={"x0": text_x0})
    if rng.random() < specialty.side_code:
        code = specialty.code_patterns[rng.integers(len(specialty.code_patterns))]
        if emblem_box is None and rng.random() < 0.5:
            prefix = code
        else:
            suffix = code
    middle_gap = int(rng.integers(1, chars)) if chars > 1 and rng.random() < specialty.middle_emblem else -1
    return Decoration(row, prefix, suffix, middle_gap, emblem_box)
