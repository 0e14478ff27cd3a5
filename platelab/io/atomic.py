"""Writing files so that readers see either the old content or the complete new one, never a partial file."""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; if the block succeeds, flush it to disk and move it onto `path`.

    The temporary name keeps the target's suffix, so writers that pick the format from it (cv2.imwrite) work.
    If the block raises, the temporary file is removed and `path` is left as it was.
    An OSError on the temporary file (or on no file, where the disk is full or read-only: a write to it) is raised as
    one on `path`, the file the caller named: a hidden `.name.1a2b3c4d.tmp.onnx` in a message names a file no one can
    find afterwards. Other errors (reading what is copied in, a closed pipe) keep their own file or none.
    """
    target = Path(path)
    temp = _create_temp_beside(target)
    try:
        yield temp
        _fsync(temp, os.O_RDWR)  # Windows refuses to fsync a read-only descriptor
        os.replace(temp, target)
    except BaseException as exc:
        temp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and _on_temp(exc, temp):
            raise OSError(exc.errno, exc.strerror, str(target)) from exc
        raise
    _fsync_folder(target.parent)


# what a write with no file named fails with for want of room or of a writable disk
_DISK_ERRORS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EROFS, errno.EFBIG})


def _on_temp(exc: OSError, temp: Path) -> bool:
    if exc.errno is None:
        return False
    return str(exc.filename) == str(temp) if exc.filename is not None else exc.errno in _DISK_ERRORS


def check_writable(path: str | Path) -> None:
    """Raise now the OSError atomic_path would raise for want of a file beside path (a read-only folder or file
    system, one not the user's), writing nothing: for a file written at the end of hours of work."""
    _create_temp_beside(Path(path)).unlink()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as temp, open(temp, "wb") as file:
        file.write(data)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_image(path: str | Path, image: np.ndarray) -> None:
    """Encode image in the format its suffix names (.png, .jpg, ...) and write it atomically."""
    ok, data = cv2.imencode(Path(path).suffix or ".png", image)
    if not ok:
        raise OSError(f"{path}: could not encode the image")
    atomic_write_bytes(path, data.tobytes())


# The target's stem is cut to this many characters in its temporary name: a name that fits a file system's 255
# bytes (or UTF-16 units) must not be refused for the 15 characters the temporary name adds. 40 characters of even
# 4-byte UTF-8 leave room for the rest.
TEMP_STEM = 40


def _create_temp_beside(target: Path) -> Path:
    # Created with mode 0o666 so the umask applies as for a plain open(); mkstemp would force 0o600.
    while True:
        temp = target.with_name(f".{target.stem[:TEMP_STEM]}.{secrets.token_hex(4)}.tmp{target.suffix}")
        try:
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        except OSError as exc:  # named as the file asked for, as in atomic_path
            raise OSError(exc.errno, exc.strerror, str(target)) from exc
        return temp


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; folders cannot be opened for this on Windows, so skip it there."""
    if os.name == "nt":
        return
    _fsync(folder, os.O_RDONLY)
