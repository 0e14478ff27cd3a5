"""Turning untrusted image files into BGR uint8 arrays, or into one-line ImageDecodeError messages.

Pillow reads every header: `Image.open` parses only the header, so the pixel limit is enforced before any pixel
memory is allocated. Pillow decodes the pixels too, except those of 16-bit colour files, whose low bytes it drops:
OpenCV decodes those once Pillow has checked the header.
"""

from __future__ import annotations

import functools
import glob
import io
import os
import stat
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, ImageFile, TiffImagePlugin, UnidentifiedImageError, features

from platelab.io.outputs import holds_read_outputs, is_preview

MAX_PIXELS: int = 50_000_000
MIN_SIDE = 2
# Room beyond the pixels' own bytes for a file's metadata (EXIF, ICC, thumbnails) in _check_file_size's limit.
_METADATA_BYTES = 16 << 20
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic", ".heif",
                            ".avif"})
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg"})

# Only these plugins may look at untrusted bytes: others (EPS runs Ghostscript) are too risky or too exotic.
_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
# HEIC (what iPhones take) and AVIF, told by the brands of their ISO media file type box: AVIF through Pillow's own
# plugin where it was built with libavif, HEIC through pillow-heif (the heif extra), each only when a file is one.
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
# A file that starts like one of the formats above but will not open is damaged rather than "not an image".
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM", b"II*\x00", b"MM\x00*", b"GIF87a", b"GIF89a")
_EXIF_ORIENTATION = 0x0112
_SAMPLES_PER_PIXEL, _SAMPLE_FORMAT, _FLOATING_POINT = 277, 339, 3  # TIFF tags, and SampleFormat's IEEE float
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_WIDE_MODES = frozenset({"I", "F"})  # 32-bit integer and float grey: range set by the data
_ORIENTATION_FIXES: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    2: lambda a: cv2.flip(a, 1),
    3: lambda a: cv2.rotate(a, cv2.ROTATE_180),
    4: lambda a: cv2.flip(a, 0),
    5: cv2.transpose,
    6: lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE),
    7: lambda a: cv2.rotate(cv2.transpose(a), cv2.ROTATE_180),
    8: lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE),
}
# warnings.catch_warnings swaps process-wide state; unsynchronised threads could restore each other's filters.
_WARNINGS_LOCK = threading.Lock()


class ImageDecodeError(ValueError):
    """An input that is not a usable image. str() is a single line: "<name>: <reason>"."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(" ".join(f"{name}: {reason}".splitlines()))

    def __reduce__(self) -> tuple[type[ImageDecodeError], tuple[str, str]]:
        return type(self), (self.name, self.reason)


class _Refused(Exception):
    """Internal: carries the reason up to read_image, which adds the file name."""


def read_image(
    source: str | Path | bytes, name: str | None = None, max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """Decode a file path or encoded bytes into a contiguous BGR uint8 HxWx3 image, upright per EXIF."""
    label = name if name is not None else ("<bytes>" if isinstance(source, bytes) else str(source))
    try:
        return _decode(source, max_pixels)
    except _Refused as refused:
        raise ImageDecodeError(label, str(refused)) from refused.__cause__


def image_or_error(path: Path, name: str) -> np.ndarray | str:
    """The decoded image, or its one-line error naming the file: a bad file never stops a batch."""
    try:
        return read_image(path, name=name)
    except ImageDecodeError as exc:
        return str(exc)


def _decode(source: str | Path | bytes, max_pixels: int) -> np.ndarray:
    with _open_stream(source) as stream:
        _check_file_size(stream, max_pixels)
        image = _open_header(stream)
        _check_size(image.size, max_pixels)
        sixteen_bit_colour = _is_sixteen_bit_colour(image)  # asked first: loading empties the tile list
        try:
            # loaded by Pillow on the 16-bit colour path too, though OpenCV decodes its pixels: a damaged file fails
            # here with one line, before libpng or libtiff print lines of their own that name no file
            image.load()
            # read once loaded: some plugins (TIFF) turn the pixels upright themselves and drop the tag; so does
            # OpenCV's TIFF decoder, whatever it is told, on the 16-bit colour path
            orientation = 1 if sixteen_bit_colour and image.format == "TIFF" else _orientation(image)
            pixels = _sixteen_bit_colour(stream) if sixteen_bit_colour else _to_bgr(image)
        except _Refused:
            raise
        except Exception as exc:  # Pillow's decoders raise many types on bad data; all mean the same here
            raise _Refused(f"corrupt or truncated ({first_line(exc)})") from exc
    fix = _ORIENTATION_FIXES.get(orientation)
    return np.ascontiguousarray(fix(pixels)) if fix else pixels


@contextmanager
def _open_stream(source: str | Path | bytes) -> Iterator[BinaryIO]:
    stream = io.BytesIO(source) if isinstance(source, bytes) else _open_file(source)
    with stream:
        yield stream


_NONBLOCK: int = getattr(os, "O_NONBLOCK", 0)  # POSIX only; Windows has no FIFOs to wait on


def _open_file(path: str | Path) -> BinaryIO:
    """Open without waiting: opening a FIFO or a device would wait for a writer that may never come. What was opened
    is checked, not what the name led to a moment before (a file swapped for a FIFO in between)."""
    try:
        if Path(path).exists() and not _is_regular(Path(path)):  # some (sockets, folders on Windows) will not open
            raise _Refused("not a regular file")
        fd = os.open(path, os.O_RDONLY | _NONBLOCK | getattr(os, "O_BINARY", 0))
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name; OSError: a name too long, among others
        raise _Refused(f"cannot read file ({getattr(exc, 'strerror', None) or exc})") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _Refused("not a regular file")
    if _NONBLOCK:
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _check_file_size(stream: BinaryIO, max_pixels: int) -> None:
    """Refuse a file bigger than any max_pixels image needs (16-bit RGBA, uncompressed: 8 bytes a pixel) before
    reading it: the 16-bit colour path reads a whole file, and Pillow reads a TIFF tag as long as the file says."""
    try:
        size = stream.seek(0, os.SEEK_END)
        stream.seek(0)
    except OSError:  # some files of /proc: their size is not known, and Pillow reads them as it finds them
        return
    limit = 8 * max_pixels + _METADATA_BYTES
    if size > limit:
        raise _Refused(f"too large: {_megabytes(size)}, where no image within the {max_pixels / 1e6:g} MP limit "
                       f"needs over {_megabytes(limit)}")


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.0f} MB" if size >= 100e6 else f"{size / 1e6:.1f} MB"


@contextmanager
def _quiet_pillow() -> Iterator[None]:
    """Silence Pillow's warnings: they report skipped metadata or its own pixel limit, which ours replaces."""
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _open_header(stream: BinaryIO) -> ImageFile.ImageFile:
    head = stream.read(512)  # an ISO media file type box lists its brands within it
    if not head:
        raise _Refused("empty file")
    stream.seek(0)
    formats = _FORMATS + _media_file_format(head)
    try:
        with _quiet_pillow():
            return Image.open(stream, formats=formats)
    except Image.DecompressionBombError as exc:
        raise _Refused("too large (over Pillow's decompression-bomb limit)") from exc
    except UnidentifiedImageError as exc:
        if not _looks_like_image(head):
            raise _Refused("not an image") from exc
        raise _Refused(_unreadable_tiff_pixels(stream) or "corrupt or truncated") from exc
    except Exception as exc:  # a header that parses half-way fails with whatever type the plugin hit
        raise _Refused(f"corrupt or truncated ({first_line(exc)})") from exc


def _media_file_format(head: bytes) -> tuple[str, ...]:
    """The Pillow format of an AVIF or HEIC file, to be tried beside _FORMATS; () for any other file. A _Refused
    saying what to install where this Pillow or its extras cannot decode it."""
    size = int.from_bytes(head[:4], "big")
    if head[4:8] != b"ftyp" or size < 16:
        return ()
    # major brand, minor version, then the compatible brands, as many as head holds (a long list runs past it)
    brands = {head[i : i + 4] for i in range(8, min(size, len(head)) - 3, 4)} - {b"\0\0\0\0"}
    if brands & _AVIF_BRANDS:
        # a Pillow older than its AVIF plugin warns of an unknown feature when asked for it
        if "avif" not in features.modules or not features.check_module("avif"):
            raise _Refused("an AVIF image, which this Pillow cannot decode (its wheels from 11.3 on can)")
        return ("AVIF",)
    if brands & _HEIF_BRANDS:
        if not _heif_registered():
            from platelab.utils.extras import install_hint

            raise _Refused(f"a HEIC image, read with the heif extra: {install_hint('heif')}")
        return ("HEIF",)
    return ()


@functools.cache
def _heif_registered() -> bool:
    """Whether pillow-heif is installed, its Pillow plugin registered now. It applies the image's rotation and mirror
    and sets its EXIF orientation to 1, so the orientation is not applied twice."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def _unreadable_tiff_pixels(stream: BinaryIO) -> str | None:
    """Why a TIFF whose tags read is refused by Pillow, when the cause is its pixels' layout rather than damage:
    floating-point colour (HDR, scientific cameras), which Pillow opens only as grey. None for any other file."""
    stream.seek(0)
    head = stream.read(8)
    if not head.startswith((b"II*\x00", b"MM\x00*")):
        return None
    try:
        tags = TiffImagePlugin.ImageFileDirectory_v2(head)
        stream.seek(tags.next)
        tags.load(stream)
        sample_format, samples = tags.get(_SAMPLE_FORMAT, (1,)), int(tags.get(_SAMPLES_PER_PIXEL, 1))
    except Exception:  # tags damaged too: a damaged file, said as such
        return None
    if _FLOATING_POINT in (sample_format if isinstance(sample_format, tuple) else (sample_format,)) and samples > 1:
        return "floating-point colour pixels, which platelab does not read; save it with 8 or 16 bits a channel"
    return None


def _looks_like_image(head: bytes) -> bool:
    return head.startswith(_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def _check_size(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width < MIN_SIDE or height < MIN_SIDE:
        raise _Refused(f"too small ({width}x{height})")
    if width * height > max_pixels:
        raise _Refused(f"too large ({width}x{height} = {width * height} pixels, limit {max_pixels})")


def _orientation(image: Image.Image) -> int:
    try:
        with _quiet_pillow():
            return int(image.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # unreadable metadata should not cost us the pixels
        return 1


def _to_bgr(image: Image.Image) -> np.ndarray:
    if image.mode in _SIXTEEN_BIT_MODES:
        return cv2.cvtColor(sixteen_to_eight_bits(np.asarray(image)), cv2.COLOR_GRAY2BGR)
    if image.mode in _WIDE_MODES:
        return cv2.cvtColor(wide_to_eight_bits(np.asarray(image)), cv2.COLOR_GRAY2BGR)
    if image.mode == "L":
        return cv2.cvtColor(np.asarray(image), cv2.COLOR_GRAY2BGR)
    target = "RGBA" if image.has_transparency_data else "RGB"
    if image.mode != target:
        try:
            image = image.convert(target)
        except ValueError as exc:
            raise _Refused(f"unsupported pixel format {image.mode}") from exc
    pixels = np.asarray(image)
    rgb = composite_on_white(pixels) if target == "RGBA" else pixels
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def _is_sixteen_bit_colour(image: ImageFile.ImageFile) -> bool:
    """A 16-bit colour PNG or TIFF, which Pillow opens as 8-bit RGB(A) by keeping each level's high byte."""
    if image.format not in ("PNG", "TIFF") or image.mode not in ("RGB", "RGBA") or not image.tile:  # BMP's BGR;16: 565
        return False
    args = image.tile[0].args
    raw_mode = args[0] if isinstance(args, tuple) and args else args
    return isinstance(raw_mode, str) and ";16" in raw_mode


def _sixteen_bit_colour(stream: BinaryIO) -> np.ndarray:
    """Decode with OpenCV, which keeps all 16 bits, so colour levels round to 8 bits as grey ones do (the header,
    pixel limit included, was checked by Pillow; orientation is applied by the caller, as for every file)."""
    stream.seek(0)
    encoded = np.frombuffer(stream.read(), np.uint8)
    pixels = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if pixels is None or pixels.dtype != np.uint16 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise _Refused("corrupt or truncated (16-bit colour pixels did not decode)")
    eight = sixteen_to_eight_bits(pixels)
    return composite_on_white(eight) if eight.shape[2] == 4 else eight


# round(v / 257) for every 16-bit level v: looked up, a 50 MP 16-bit RGBA image becomes 8-bit with no temporary
# wider than its output (computed in 32 bits, it took about 3 GB)
_EIGHT_OF_SIXTEEN = ((np.arange(65536, dtype=np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def sixteen_to_eight_bits(values: np.ndarray) -> np.ndarray:
    """Map 0..65535 onto 0..255 as round(v / 257), so a level written as 257 * k reads back as exactly k."""
    levels = values if values.dtype.kind == "u" and values.dtype.itemsize == 2 else np.clip(values, 0, 65535)
    eight: np.ndarray = _EIGHT_OF_SIXTEEN[levels.astype(np.intp) if levels.dtype.kind == "f" else levels]
    return eight


def wide_to_eight_bits(values: np.ndarray) -> np.ndarray:
    """32-bit integer or float grey to 8 bits: 16-bit levels as such, floats within 0..1 as fractions of white,
    anything else stretched from its darkest to its brightest value (such files carry no scale of their own)."""
    finite = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(finite.min()), float(finite.max())
    if values.dtype.kind in "iu" and low >= 0 and high <= 65535:
        return sixteen_to_eight_bits(finite)
    if values.dtype.kind == "f" and low >= 0 and high <= 1:
        return np.round(finite * 255).astype(np.uint8)
    if high <= low:
        return np.zeros(values.shape, np.uint8)
    return np.round((finite - low) * (255 / (high - low))).astype(np.uint8)


def composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """Colour and alpha (RGBA or BGRA, uint8) as seen over white paper: a transparent plate reads on white."""
    alpha = rgba[..., 3:]
    if alpha.min() == 255:
        return rgba[..., :3]
    alpha16 = alpha.astype(np.uint16)
    blended = rgba[..., :3].astype(np.uint16) * alpha16 + 255 * (255 - alpha16) + 127
    return (blended // 255).astype(np.uint8)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def list_images(paths: Sequence[str | Path]) -> list[tuple[Path, str]]:
    """Expand files, folders (recursively) and glob patterns into (path, display name) pairs, without repeats.

    A named file is kept whatever its suffix; folders and globs contribute only files with an image or video suffix.
    Hidden files and folders inside a folder are skipped. A folder or glob with none raises FileNotFoundError.
    A folder's files are named by their path inside it; beside other inputs, with the folder as given in front (two
    folders often hold files of the same names, which the outputs must tell apart).
    """
    seen: set[Path] = set()
    listed: list[tuple[Path, str]] = []
    for given in paths:
        for path, name in _expand(given, named_with_folder=len(paths) > 1):
            if path.resolve() not in seen:
                seen.add(path.resolve())
                listed.append((path, name))
    return listed


def _expand(given: str | Path, named_with_folder: bool) -> list[tuple[Path, str]]:
    path = Path(given)
    if path.is_dir():
        folder = _with_slashes(str(given)).rstrip("/")
        found = _folder_images(path, prefix=f"{folder}/" if named_with_folder and path != Path(".") else "")
        if not found:  # as a glob that matches nothing: most likely the wrong folder
            raise FileNotFoundError(f"no images or videos in {given}")
        return found
    if path.is_file():
        return [(path, str(given))]
    if path.exists():
        raise FileNotFoundError(f"not a regular file or folder: {given}")
    expanded = _glob_images(str(given)) if any(c in str(given) for c in "*?[") else []
    if not expanded:
        raise FileNotFoundError(f"no such file, folder or matching images: {given}")
    return expanded


def _glob_images(pattern: str) -> list[tuple[Path, str]]:
    expanded: list[tuple[Path, str]] = []
    for match in sorted(glob.glob(pattern, recursive=True)):
        path = Path(match)
        if path.is_dir():
            expanded.extend(_folder_images(path, prefix=f"{path.as_posix()}/"))
        elif _is_readable_name(path):
            expanded.append((path, _with_slashes(match)))
    return expanded


def _with_slashes(match: str) -> str:
    """A glob's match named with "/" as a folder's files are: on Windows glob joins with "\\" (even `photos/*.jpg`),
    and outputs are read elsewhere. Elsewhere a backslash is part of a file's name and stays."""
    return match.replace(os.sep, "/") if os.sep != "/" else match


def _folder_images(folder: Path, prefix: str = "") -> list[tuple[Path, str]]:
    """Image files under folder, named prefix + their path relative to folder, sorted by name; hidden folders and
    folders of platelab's drawings and plate crops (platelab.io.outputs.holds_read_outputs) inside it are not inputs."""
    images = []
    real_root = folder.resolve()
    visited = {real_root}
    # linked folders that lead out of the folder are followed, as a ** glob follows them (each real folder once, so
    # a loop ends); one that leads back inside is not: its files are listed under their own names
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".") and not holds_read_outputs(Path(root, d))]
        dirs[:] = [d for d in sorted(dirs) if _outside_link_or_folder(Path(root, d), real_root)
                   and _first_visit(Path(root, d), visited)]
        for file in files:
            path = Path(root, file)
            if not file.startswith(".") and _is_readable_name(path):
                images.append((path, prefix + path.relative_to(folder).as_posix()))
    return sorted(images, key=lambda item: item[1])


def _outside_link_or_folder(path: Path, real_root: Path) -> bool:
    return not path.is_symlink() or not path.resolve().is_relative_to(real_root)


def _first_visit(folder: Path, visited: set[Path]) -> bool:
    real = folder.resolve()
    if real in visited:
        return False
    visited.add(real)
    return True


def _is_readable_name(path: Path) -> bool:
    """An image or video a folder or glob lists: a synthetic set's montage is a picture of the set, not one of it."""
    return path.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES and _is_regular(path) and not is_preview(path)


def _is_regular(path: Path) -> bool:
    """A regular file (after symlinks), not a FIFO, socket or device, which only look like files by name."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False
