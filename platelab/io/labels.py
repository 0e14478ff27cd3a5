"""Labelled folders: a `labels.tsv` (tab-separated, one header line) beside the images it describes.

Two kinds, told apart by the header:

- crops:  ``file  state  plate`` (``region`` is accepted in place of ``state``)
- photos: ``file  x  y  w  h  plate`` and, for synthetic scenes, the plate corners ``x1 y1 ... x4 y4`` after
  ``plate`` (clockwise from top-left). A photo may hold several plates: one row each, same ``file``. A row with a
  file and every other cell empty names a photo that holds no plate: scored for its false plates only.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar, cast, overload

from platelab.io.atomic import atomic_write_text
from platelab.io.outputs import OutputError, mark_draft

if TYPE_CHECKING:
    from platelab.io.results import ImageResult

LABELS_FILE = "labels.tsv"
CROP_HEADERS = (("file", "state", "plate"), ("file", "region", "plate"))
PHOTO_HEADER = ("file", "x", "y", "w", "h", "plate")
CORNER_HEADER = ("x1", "y1", "x2", "y2", "x3", "y3", "x4", "y4")
DRAFT_STATE = "xx"  # a drafted crop's state: the reader does not know it, and the state only groups eval's figures
# a line ends as in the files people write (Unix, Windows, classic Mac), not at each of the characters str.splitlines
# also breaks at (U+2028, NEL, form feed), which in a cell would split its row and number each row after it wrongly
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

LabelsKind = Literal["crops", "photos"]
Quad = tuple[tuple[float, float], ...]


class LabelError(ValueError):
    """A labels file that cannot be read; the message starts with ``path:line:``."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path = path
        self.line = line


@dataclass(frozen=True)
class CropLabel:
    file: str
    plate: str
    region: str


@dataclass(frozen=True)
class PhotoLabel:
    file: str
    plate: str
    box: tuple[int, int, int, int]  # x, y, w, h in pixels
    quad: Quad | None = None  # four (x, y) corners, clockwise from top-left


Label = TypeVar("Label", CropLabel, PhotoLabel)


def normalize_plate(text: str) -> str:
    """Plate text as compared everywhere: its letters and digits, upper-case (spaces, dashes, dots and other marks
    dropped). Compatibility forms are folded first (NFKC), so full-width digits and letters (U+FF10..) are the
    ASCII ones rather than nothing; a letter of another script stays, so a plate is never scored as a shorter one:
    a model fine-tuned to read a Ж that misses it is wrong, and a Cyrillic look-alike А in a label is not an A."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).upper() if c.isalnum())


def labels_path(location: Path) -> Path:
    """The labels file of a folder; a path to the file itself is returned unchanged."""
    location = Path(location)
    return location / LABELS_FILE if location.is_dir() else location


def labelled_file(folder: Path, name: str) -> Path:
    """The file a labels row names, under folder: as named if it is there; else the one file whose name differs
    only as another system would not tell apart, so a set read on Linux finds what macOS and Windows find. A name
    typed on one system may reach the disk in another Unicode form (macOS gives decomposed é, most other tools
    composed é), and a set labelled on Windows may use "\\" between folders and other upper and lower case."""
    path = folder / name
    if path.exists():
        return path
    found = folder
    for part in name.replace("\\", "/").split("/"):
        found = found / part if (found / part).exists() else _same_name(found, part) or found / part
    return found


def _same_name(folder: Path, name: str) -> Path | None:
    """The entry of folder named name but for Unicode normalization, or else but for case if only one is."""
    try:
        entries = [entry.name for entry in os.scandir(folder)]
    except OSError:
        return None
    wanted = unicodedata.normalize("NFC", name)
    same = [entry for entry in entries if unicodedata.normalize("NFC", entry) == wanted]
    if not same:
        same = [entry for entry in entries if unicodedata.normalize("NFC", entry).casefold() == wanted.casefold()]
    return folder / same[0] if len(same) == 1 else None


def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every non-blank line, header included."""
    if not path.is_file():
        raise FileNotFoundError(f"no labels file at {path}")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")  # a spreadsheet's byte-order mark would hide the header's first name
    except UnicodeDecodeError as exc:
        raise LabelError(path, data[: exc.start].count(b"\n") + 1, "not UTF-8 text (is it a labels file?)") from exc
    lines = _LINE_BREAK.split(text)
    return [(number, line.split("\t")) for number, line in enumerate(lines, 1) if line.strip()]


def labelled_rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every labelled row of a labels file, the header left out."""
    return _read_rows(path)[1:]


def _kind_of_header(path: Path, line: int, header: list[str]) -> LabelsKind:
    names = tuple(cell.strip().lower() for cell in header)
    if names in CROP_HEADERS:
        return "crops"
    if names in (PHOTO_HEADER, PHOTO_HEADER + CORNER_HEADER):
        return "photos"
    raise LabelError(
        path,
        line,
        f"unknown header {list(names)}; expected {list(CROP_HEADERS[0])} or "
        f"{list(PHOTO_HEADER)} (optionally followed by {list(CORNER_HEADER)})",
    )


def _header(path: Path, rows: list[tuple[int, list[str]]]) -> tuple[int, list[str]]:
    if not rows:
        raise LabelError(path, 1, "empty labels file (no header)")
    return rows[0]


def labels_kind(folder: Path) -> LabelsKind:
    """Whether the folder holds plate crops or whole photos, from its labels header."""
    path = labels_path(folder)
    line, header = _header(path, _read_rows(path))
    return _kind_of_header(path, line, header)


def _required(path: Path, line: int, name: str, value: str) -> str:
    value = value.strip()
    if not value:
        raise LabelError(path, line, f"empty {name}")
    return value


def _plate(path: Path, line: int, value: str) -> str:
    plate = _required(path, line, "plate", value)
    if not any(c.isalnum() for c in plate):  # scored as a plate no reading could ever match
        raise LabelError(path, line, f"plate {plate!r} has no letters or digits")
    return plate


def _parse_crop(path: Path, line: int, cells: list[str]) -> CropLabel:
    file, region, plate = cells
    return CropLabel(
        file=_required(path, line, "file", file),
        plate=_plate(path, line, plate),
        region=region.strip(),
    )


def _parse_box(path: Path, line: int, cells: list[str]) -> tuple[int, int, int, int]:
    try:
        x, y, w, h = (int(cell) for cell in cells)
    except ValueError:
        raise LabelError(path, line, f"box x, y, w, h must be integers, got {cells}") from None
    if w <= 0 or h <= 0:
        raise LabelError(path, line, f"box width and height must be positive, got w={w} h={h}")
    return x, y, w, h


def _parse_quad(path: Path, line: int, cells: list[str], box: tuple[int, int, int, int]) -> Quad | None:
    stripped = [cell.strip() for cell in cells]
    if not any(stripped):  # rows without corners are allowed in a file that has the corner columns
        return None
    try:
        values = [float(cell) for cell in stripped]
    except ValueError:
        raise LabelError(path, line, f"corners x1..y4 must be eight numbers, got {cells}") from None
    if not all(map(math.isfinite, values)):  # float() reads nan and inf: no corner of a photo
        raise LabelError(path, line, f"corners x1..y4 must be finite numbers, got {cells}")
    quad = tuple(zip(values[0::2], values[1::2], strict=True))
    # fine-tuning cuts a plate the detector misses at its corners: corners in another order would teach it a plate
    # upside down or mirrored, and corners elsewhere than the box another part of the photo, each silently
    (x1, y1), (x2, y2), (x3, y3), (x4, y4) = quad
    clockwise = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(quad, quad[1:] + quad[:1])) > 0  # y runs down
    if not (clockwise and x2 - x1 > abs(y2 - y1) and x3 - x4 > abs(y3 - y4)):
        raise LabelError(path, line, "corners x1..y4 must go clockwise from the plate's top-left (top edge left to "
                                     f"right) round a plate of some size, got {cells}")
    x, y, w, h = box
    if not (x <= sum(values[0::2]) / 4 <= x + w and y <= sum(values[1::2]) / 4 <= y + h):
        raise LabelError(path, line, f"corners x1..y4 {cells} are not round the plate's box x={x} y={y} w={w} h={h}")
    return quad


def _parse_photo(path: Path, line: int, cells: list[str]) -> PhotoLabel:
    # checked in this order, so a row with several faults is named by its first
    file = _required(path, line, "file", cells[0])
    plate = _plate(path, line, cells[5])
    box = _parse_box(path, line, cells[1:5])
    return PhotoLabel(file, plate, box, _parse_quad(path, line, cells[6:], box) if len(cells) > 6 else None)


def _holds_no_plate(cells: list[str]) -> bool:
    """A photo row naming its file and nothing else: a photo without plates."""
    return bool(cells[0].strip()) and not any(cell.strip() for cell in cells[1:])


def _parse_rows(
    path: Path, rows: list[tuple[int, list[str]]], columns: int, parse: Callable[[Path, int, list[str]], Label]
) -> list[Label]:
    labels = []
    first_line: dict[tuple[str, tuple[int, int, int, int]], int] = {}
    plate_free: dict[str, int] = {}  # photo file -> the line that says it holds no plate
    for line, cells in rows:
        if len(cells) != columns:
            raise LabelError(path, line, f"expected {columns} tab-separated columns, got {len(cells)}")
        if parse is _parse_photo and _holds_no_plate(cells):
            plate_free.setdefault(cells[0].strip(), line)
            continue
        label = parse(path, line, cells)
        if isinstance(label, PhotoLabel):
            # a plate labelled twice in one photo can be matched once: its copy would count as a certain miss
            earlier = first_line.setdefault((label.file, label.box), line)
            if earlier != line:
                raise LabelError(path, line, f"the same plate box in {label.file} as line {earlier}")
        labels.append(label)
    for label in labels:
        if isinstance(label, PhotoLabel) and label.file in plate_free:
            raise LabelError(path, plate_free[label.file], f"{label.file} is said to hold no plate, and a row "
                                                           f"labels a plate in it ({label.plate})")
    return labels


@overload
def read_labels(folder: Path, kind: Literal["crops"]) -> list[CropLabel]: ...
@overload
def read_labels(folder: Path, kind: Literal["photos"]) -> list[PhotoLabel]: ...
@overload
def read_labels(folder: Path, kind: None = None) -> list[CropLabel] | list[PhotoLabel]: ...


def read_labels(folder: Path, kind: LabelsKind | None = None) -> list[CropLabel] | list[PhotoLabel]:
    """All labels of a folder (or of a labels.tsv given directly), in file order; with kind, a LabelError if the
    folder holds the other kind."""
    return _labels_and_rows(folder, kind)[0]


def read_photo_set(folder: Path) -> tuple[list[PhotoLabel], list[str]]:
    """A photo folder's labelled plates and every photo its labels name, in file order, those said to hold no plate
    included (they count in the false plates per photo)."""
    labels, rows = _labels_and_rows(folder, "photos")
    return cast(list[PhotoLabel], labels), list(dict.fromkeys(cells[0].strip() for _, cells in rows))


def _labels_and_rows(
    folder: Path, kind: LabelsKind | None
) -> tuple[list[CropLabel] | list[PhotoLabel], list[tuple[int, list[str]]]]:
    """The labels (as read_labels) and the labelled rows they were parsed from, the file read once."""
    path = labels_path(folder)
    rows = _read_rows(path)
    header_line, header = _header(path, rows)
    found = _kind_of_header(path, header_line, header)
    if kind is not None and found != kind:
        raise LabelError(path, header_line, f"labels of {found} where labels of {kind} are needed")
    if len(rows) < 2:
        raise LabelError(path, header_line, "a header and no labelled rows")
    if found == "crops":
        return _parse_rows(path, rows[1:], len(header), _parse_crop), rows[1:]
    return _parse_rows(path, rows[1:], len(header), _parse_photo), rows[1:]


def _cell(value: str, name: str, required: bool = True) -> str:
    # a tab or newline inside a cell would silently shift or split the row on reading
    if (required and not value) or any(c in value for c in "\t\r\n"):
        raise ValueError(f"{name} {value!r} cannot be written to a labels file")
    return value


def _write_lines(path: Path, lines: list[str]) -> None:
    # atomically, so a reader (e.g. a training run polling the folder) never sees half a file
    atomic_write_text(path, "".join(f"{line}\n" for line in lines))


def write_crop_labels(path: Path, rows: Iterable[CropLabel]) -> None:
    """Writes crop labels in the format of the real crop sets (header ``file state plate``)."""
    lines = ["\t".join(CROP_HEADERS[0])]
    for row in rows:
        lines.append(
            "\t".join(
                [
                    _cell(row.file, "file"),
                    _cell(row.region, "region", required=False),
                    _cell(row.plate, "plate"),
                ]
            )
        )
    _write_lines(path, lines)


def _format_quad(quad: Quad | None) -> list[str]:
    if quad is None:
        return [""] * len(CORNER_HEADER)
    if len(quad) != 4:
        raise ValueError(f"a plate quad needs 4 corners, got {len(quad)}")
    return [repr(float(v)) for corner in quad for v in corner]  # repr: reading back gives the same floats


def write_photo_labels(path: Path, rows: Iterable[PhotoLabel], photos: Sequence[str] = ()) -> None:
    """Writes photo labels; the corner columns are added only when some row has a quad. photos: every photo of the
    set in order, each followed by its plates' rows, one without plates as a row of its file alone."""
    rows = list(rows)
    with_corners = any(row.quad is not None for row in rows)
    header = PHOTO_HEADER + CORNER_HEADER if with_corners else PHOTO_HEADER
    lines = ["\t".join(header)]
    by_photo: dict[str, list[PhotoLabel]] = {photo: [] for photo in photos}
    for row in rows:
        by_photo.setdefault(row.file, []).append(row)
    for photo, plates in by_photo.items():
        if not plates:
            lines.append("\t".join([_cell(photo, "file"), *[""] * (len(header) - 1)]))
        for row in plates:
            cells = [_cell(row.file, "file"), *(str(int(v)) for v in row.box), _cell(row.plate, "plate")]
            if with_corners:
                cells += _format_quad(row.quad)
            lines.append("\t".join(cells))
    _write_lines(path, lines)


def names_in(folder: Path, files: Sequence[Path]) -> list[str]:
    """Each file as a row of a labels file in folder names it: its path relative to folder, "/" between folders. An
    OutputError names the first file no row there could name (not under folder, or a tab or newline in its name)."""
    base = _absolute(folder)
    names = []
    for path in files:
        try:
            relative = _absolute(path).relative_to(base)
        except ValueError:
            try:  # reached by another way than the folder (a linked folder on the way): named as it really lies
                relative = path.resolve().relative_to(folder.resolve())
            except ValueError:
                raise OutputError(f"{path}: not under {folder}, the labels file's folder, so no row of it could name "
                                  "it; write the labels file in a folder that holds every file read") from None
        try:
            names.append(_cell(relative.as_posix(), "file"))
        except ValueError as exc:
            raise OutputError(f"{path}: {exc}") from None
    return names


def _absolute(path: Path) -> Path:
    # ".." taken away by name, as the shell's cd does, so photos/../photos/a.jpg is under photos/
    return Path(os.path.normpath(path.absolute()))


def write_label_draft(path: Path, named: Iterable[tuple[str, ImageResult]], kind: LabelsKind
                      ) -> tuple[int, list[str]]:
    """Writes what the reader found as labels for the user to correct: one row per plate reported, under the name
    given with its result (names_in), its box as read and the text read; crops with the state DRAFT_STATE. Files
    that could not be read get no row; a photo read with no plate found gets the row of a photo without plates (so
    eval counts its false plates). Returns the number of plate rows and the names of the files read with no plate
    found, whose plates (if they hold any) the user must add by hand. The file is marked as platelab's draft
    (platelab.io.outputs.mark_draft), which a later draft may replace until someone edits it."""
    photos: dict[tuple[str, tuple[int, int, int, int]], PhotoLabel] = {}
    crops: list[CropLabel] = []
    nothing: list[str] = []
    read: list[str] = []
    for name, result in named:
        if result.error is not None:
            continue
        read.append(name)
        # a reading with no letter or digit would be refused as a label
        plates = [plate for plate in result.plates if normalize_plate(plate.text)]
        if not plates:
            nothing.append(name)
        for plate in plates:
            if kind == "crops":
                crops.append(CropLabel(name, plate.text, DRAFT_STATE))
            else:
                # one box labelled twice is refused on reading; the surer reading (read first) is kept
                box = (int(plate.box[0]), int(plate.box[1]), int(plate.box[2]), int(plate.box[3]))
                photos.setdefault((name, box), PhotoLabel(name, plate.text, box))
    if kind == "crops":
        write_crop_labels(path, crops)
    else:
        write_photo_labels(path, photos.values(), read)
    mark_draft(path)
    return len(crops) + len(photos), nothing
