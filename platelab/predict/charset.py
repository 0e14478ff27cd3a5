"""The recognizer's output alphabet and the fixed-slot encoding of plate texts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from platelab.utils.errors import shown

DEFAULT_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
PAD = "_"
MAX_SLOTS = 10


@dataclass(frozen=True)
class Charset:
    """Characters a model reads; class 0..n-1 are chars, class n is the empty slot after the text ends."""

    chars: str = DEFAULT_CHARS
    slots: int = MAX_SLOTS

    def __post_init__(self) -> None:
        if len(set(self.chars)) != len(self.chars) or PAD in self.chars:
            raise ValueError(f"charset must hold distinct characters and not {PAD!r}: {shown(self.chars)}")

    @property
    def classes(self) -> int:
        return len(self.chars) + 1

    @property
    def pad_index(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        if len(text) > self.slots:
            raise ValueError(f"{shown(text)} is longer than {self.slots} characters")
        index = {c: i for i, c in enumerate(self.chars)}
        try:
            codes = [index[c] for c in text]
        except KeyError as exc:
            raise ValueError(f"{shown(text)}: character {exc.args[0]!r} is not in the charset") from None
        return np.array(codes + [self.pad_index] * (self.slots - len(codes)), np.int64)

    def char(self, index: int) -> str:
        return self.chars[index] if index < len(self.chars) else ""
