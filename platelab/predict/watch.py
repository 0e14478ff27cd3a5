"""A list of wanted plates, and which of them a plate read may be.

A plate is matched by its candidates (PlateResult.candidates), not only by its text: a plate read `8197659` whose
candidates hold `197659` is the wanted `197659`. With look_alikes, texts also match when they differ only in
characters plate fonts draw alike (O/0, I/1, Z/2, S/5, G/6, B/8): wanted lists are often typed from reports that
confuse them, and a reader does too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from stat import S_ISREG

from platelab.io.labels import normalize_plate
from platelab.io.results import ImageResult, PlateResult
from platelab.predict.decode import LOOK_ALIKES

# 50 MB is some five million plates: a list bigger than that is not a list of plates, and would be read into memory
MAX_LIST_BYTES = 50_000_000
# Each look-alike pair's letter written as its digit, so texts that differ only by look-alikes fold to one.
_FOLD = str.maketrans({pair[1]: pair[0] for pair in LOOK_ALIKES})


class WatchListError(ValueError):
    """A wanted-plates file that cannot be used."""


def fold_look_alikes(text: str) -> str:
    return text.translate(_FOLD)


class WatchList:
    """Wanted plate texts (spaces and dashes ignored, any case)."""

    def __init__(self, texts: Iterable[str], look_alikes: bool = True) -> None:
        if isinstance(texts, str):  # its characters would each be a wanted plate, and the plate none
            raise TypeError(f"WatchList takes plates, not one string: WatchList([{texts!r}])")
        self.look_alikes = look_alikes
        self._wanted: dict[str, str] = {}
        for text in texts:
            plate = normalize_plate(text)
            if plate:
                self._wanted.setdefault(self._key(plate), plate)
        if not self._wanted:
            raise WatchListError("a watch list needs at least one plate")

    @classmethod
    def load(cls, path: str | Path, look_alikes: bool = True) -> WatchList:
        """One plate a line; what follows a # is a comment, and blank lines are skipped."""
        try:
            info = Path(path).stat()
            if not S_ISREG(info.st_mode):  # a FIFO or device (/dev/zero) would be read without end
                raise WatchListError(f"{path}: not a regular file")
            if info.st_size > MAX_LIST_BYTES:
                raise WatchListError(f"{path}: {info.st_size} bytes; a watch list (one plate a line) may have "
                                     f"{MAX_LIST_BYTES}")
            # utf-8-sig: an editor's byte-order mark would otherwise hide a first line's #
            lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise WatchListError(f"{path}: cannot read the watch list ({exc})") from exc
        try:
            return cls((line.partition("#")[0] for line in lines), look_alikes)
        except WatchListError as exc:
            raise WatchListError(f"{path}: {exc}") from exc

    def __len__(self) -> int:
        return len(self._wanted)

    def _key(self, text: str) -> str:
        return fold_look_alikes(text) if self.look_alikes else text

    def match(self, plate: PlateResult) -> str | None:
        """The wanted plate this one may be: the first of its texts (its own, then its candidates) on the list."""
        for text in [plate.text, *(c.text for c in plate.candidates)]:
            wanted = self._wanted.get(self._key(normalize_plate(text)))
            if wanted is not None:
                return wanted
        return None

    def marked(self, plate: PlateResult) -> PlateResult:
        """The plate with the wanted plate it may be (PlateResult.wanted), or as it was."""
        wanted = self.match(plate)
        return plate if wanted is None else replace(plate, wanted=wanted)

    def marked_result(self, result: ImageResult) -> ImageResult:
        return replace(result, plates=tuple(map(self.marked, result.plates)))
