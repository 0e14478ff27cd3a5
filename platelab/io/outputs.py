"""Where a command may write, checked before anything is read or written: no command writes over its own inputs
or the run it starts from, or fills a folder of someone else's files. A single output file the user names
(`--out m.onnx`, `--failures f.png`) is written where asked, replacing a file there, as cp would.

A folder platelab writes many files into (drawings, synthetic sets) carries a marker file; a folder that already
holds other files and no marker is refused, so `--draw album/` cannot replace the album's photos, and a second run
into platelab's own folder is allowed.

A draft a user is to correct (`read --labels-out`) replaces only the draft platelab wrote there, unchanged since: a
hidden mark beside it holds the digest of what was written, so a corrected copy is the user's and is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from fnmatch import fnmatch
from pathlib import Path

from platelab.io.atomic import atomic_write_text, check_writable

OWNED_MARKER = ".platelab-output"
DRAFT_MARK = ".platelab-draft"  # .NAME.platelab-draft beside a draft platelab wrote: the digest of what it wrote
DRAWINGS = "drawings"  # what a folder of `read --draw` copies holds: never read back as input
PLATE_CROPS = "plate crops"  # what a folder of `read --save-plates` holds: never read back as photos
SYNTHETIC_SET = "synthetic set"  # what a folder of `platelab synth` (or the demo) holds
PREVIEW_NAME = "preview.png"  # a synthetic set's montage: a picture of the set, not one of its images
IMAGE_OUTPUTS = (".png", ".jpg", ".jpeg")  # what cv2.imwrite is asked to write


class OutputError(ValueError):
    """An output path that would replace what it must not."""


def claim_folder(folder: Path, what: str, written: Iterable[str] = ()) -> None:
    """Make folder platelab's to write `what` into: a new or empty folder (created, marked), one it marked before,
    or one a platelab before markers left: only files named as the glob patterns written name them (a pattern
    ending in / names a folder), and at least one named as the first (the images: a lone labels.tsv may be
    anyone's)."""
    check_claim(folder, what, written)
    folder.mkdir(parents=True, exist_ok=True)
    # written as a new file: a marker planted as a link would have its target written over
    atomic_write_text(folder / OWNED_MARKER, f"{what}\nplatelab writes these here and may replace them\n")


def check_claim(folder: Path, what: str, written: Iterable[str] = ()) -> None:
    """The OutputError claim_folder would raise, writing nothing: for a command that checks all it can before it
    starts work whose end writes the folder."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: a file, not a folder for the {what}")
    marker = folder / OWNED_MARKER
    marked_for = _marked_for(marker) if marker.is_file() else ""
    if marked_for not in (what, ""):
        # platelab's, but for something else (a --draw folder asked to hold a synthetic set): its files are kept
        raise OutputError(f"{folder}: holds platelab's {marked_for}; give another folder for the {what}")
    if folder.is_dir() and not marker.exists() and not _left_by_platelab(folder, tuple(written)):
        raise OutputError(f"{folder}: holds files platelab did not write; give a new or empty folder for the {what} "
                          f"(or, if platelab wrote them, add an empty {OWNED_MARKER} file to it)")


def _marked_for(marker: Path) -> str:
    try:
        return marker.read_text(encoding="utf-8").split("\n", 1)[0].strip()
    except (OSError, UnicodeDecodeError):
        return ""


def holds_read_outputs(folder: Path) -> bool:
    """Whether folder is one platelab filled with what it read (read --draw, --save-plates), which is no input."""
    return _marked_for(folder / OWNED_MARKER) in (DRAWINGS, PLATE_CROPS)


def is_preview(path: Path) -> bool:
    """Whether path is the montage of a synthetic set platelab wrote, which is no input."""
    return path.name == PREVIEW_NAME and _marked_for(path.parent / OWNED_MARKER) == SYNTHETIC_SET


def _left_by_platelab(folder: Path, patterns: tuple[str, ...]) -> bool:
    entries = [entry for entry in folder.iterdir() if not is_os_junk(entry.name)]
    if not entries:
        return True
    named = all(_named_as(entry, patterns) for entry in entries)
    return named and any(_named_as(entry, patterns[:1]) for entry in entries)


def _named_as(entry: Path, patterns: tuple[str, ...]) -> bool:
    """Whether entry is a file a pattern names, or a folder a pattern ending in / names."""
    return any(fnmatch(entry.name, p.removesuffix("/")) and (entry.is_dir() if p.endswith("/") else entry.is_file())
               for p in patterns)


# What a desktop leaves in any folder it shows (Finder's .DS_Store and ._ AppleDouble files on volumes without
# extended attributes, Explorer's thumbnail caches and folder settings): no one's files, so a folder holding only
# these is as good as empty.
_OS_JUNK = frozenset({".ds_store", "thumbs.db", "ehthumbs.db", "desktop.ini"})


def is_os_junk(name: str) -> bool:
    return name.lower() in _OS_JUNK or name.startswith("._")


def prepare_output_file(path: Path, suffixes: Iterable[str], what: str, outside: Path | None = None) -> None:
    """A file to be written: its suffix one of suffixes, not a folder, not inside outside (a folder being read);
    its folder is made, and one where no file can be made (read-only) refused now rather than once the work that
    ends in the write is done."""
    allowed = tuple(suffixes)
    if path.suffix.lower() not in allowed:
        raise OutputError(f"{path}: the {what} is written as {' or '.join(allowed)}")
    if path.is_dir():
        raise OutputError(f"{path}: a folder; name the {what} file")
    if outside is not None and path.resolve().is_relative_to(outside.resolve()):
        raise OutputError(f"{path}: inside {outside}, which is being read; write the {what} elsewhere")
    parent = next((p for p in path.resolve().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise OutputError(f"{path}: {parent} is a file, not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        check_writable(path)
    except OSError as exc:
        raise OutputError(f"{path}: the {what} cannot be written there ({exc.strerror or exc}); give another "
                          "file") from exc


def prepare_draft_file(path: Path, suffixes: Iterable[str], what: str) -> None:
    """As prepare_output_file, for a file the user is to edit: an existing one is replaced only if it is a draft
    platelab wrote (mark_draft) that no one has changed since; one a user wrote or corrected is refused."""
    if path.exists() and not path.is_dir() and not (path.is_file() and _unchanged_draft(path)):
        raise OutputError(f"{path}: exists and is not a {what} platelab wrote, or was edited since; "
                          "remove it or give another file")
    prepare_output_file(path, suffixes, what)


def mark_draft(path: Path) -> None:
    """Record that the file at path, as it is now, is a draft platelab wrote and may replace."""
    atomic_write_text(_draft_mark(path), f"{_digest(path)}\nplatelab wrote {path.name} as a draft; it may replace "
                                         "the file while its content has this digest\n")


def _draft_mark(path: Path) -> Path:
    return path.with_name(f".{path.name}{DRAFT_MARK}")


def _unchanged_draft(path: Path) -> bool:
    mark = _draft_mark(path)
    return mark.is_file() and _marked_for(mark) == _digest(path)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
