"""Getting image bytes out of a request: a raw image body or multipart fields, all in memory.

Starlette's own form parser spools big files to temporary files; this one never touches the disk, and the
body is counted while it streams in, so an oversized upload is refused before it is all received.

uvicorn puts no time limit on a request body and no bound on how many arrive at once, and each is held in memory as
it arrives: 100 clients that each sent 19 MB but its last byte took one worker from 110 to 2,044 MB and kept it
there for as long as they stayed connected. So a body must arrive whole within a deadline (408), and the bytes of the
bodies a worker is receiving or parsing at once are bounded (UploadsFull); a body alone is always let in, up to its
own limit. Only bytes that have arrived count, so clients sending slowly take no room from the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import PureWindowsPath
from typing import TYPE_CHECKING

from fastapi import HTTPException, Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

if TYPE_CHECKING:  # python-multipart defines its callback types for type checkers only
    from python_multipart.multipart import MultipartCallbacks

# The parser logs each malformed body as it raises on it; parse_multipart answers that as a 400 naming the cause and
# the access log holds the request, so the parser's own line would be a stray one, naming no request, per bad upload.
logging.getLogger("python_multipart.multipart").setLevel(logging.ERROR)

MEGABYTE = 1024 * 1024
DEFAULT_NAME = "upload"
RAW_TYPES = ("image/", "application/octet-stream")
EXTRA_PARTS = 8  # multipart fields a request may carry beside its images (a client's own form fields)


@dataclass(frozen=True)
class Upload:
    field: str
    filename: str
    data: bytes


class UploadsFull(RuntimeError):
    """The bodies being received or parsed already hold as many bytes as the worker takes at once."""


class BodyReceiver:
    """Receives request bodies whole for one worker process: each within max_bytes (413) and deadline_s (408), and
    all those being received or parsed at once within max_held_bytes (UploadsFull). Only the event loop calls it, so
    the count of bytes held needs no lock."""

    def __init__(self, max_bytes: int, max_held_bytes: int, deadline_s: float) -> None:
        self.max_bytes = max_bytes
        self.max_held_bytes = max_held_bytes
        self.deadline_s = deadline_s
        self.held = 0  # bytes of the bodies being received or parsed now

    @asynccontextmanager
    async def receiving(self, request: Request) -> AsyncIterator[bytes]:
        """The body, counted as held until the block ends; refused before any of it is read when its Content-Length
        is over the limit or does not fit beside the bodies held."""
        declared = request.headers.get("content-length", "")
        # isascii: str.isdigit also passes "²", which int() refuses (uvicorn rejects such a header; other servers
        # may not)
        size = int(declared) if declared.isascii() and declared.isdigit() else 0
        if size > self.max_bytes:
            raise _too_large(self.max_bytes)
        self._make_room(size, own=0)
        received = bytearray()
        try:
            await self._read_in_time(request.stream(), received)
        except BaseException:  # refused, late, disconnected or cancelled: none of it is kept
            self.held -= len(received)
            raise
        body = bytes(received)
        del received  # one copy is enough
        try:
            yield body
        finally:
            self.held -= len(body)

    async def _read_in_time(self, chunks: AsyncIterator[bytes], received: bytearray) -> None:
        try:
            await asyncio.wait_for(self._read(chunks, received), self.deadline_s)
        except asyncio.TimeoutError:
            raise HTTPException(408, f"the upload did not arrive within the limit of {self.deadline_s:g} s") from None
        except ClientDisconnect:  # nobody is left to answer, but the log should not show it as the server's fault
            raise HTTPException(400, "the client disconnected before sending the whole body") from None

    async def _read(self, chunks: AsyncIterator[bytes], received: bytearray) -> None:
        async for chunk in chunks:
            if len(received) + len(chunk) > self.max_bytes:
                raise _too_large(self.max_bytes)
            self._make_room(len(chunk), own=len(received))
            received += chunk
            self.held += len(chunk)

    def _make_room(self, size: int, own: int) -> None:
        """UploadsFull unless size more bytes fit beside those held, or the body holding own bytes is the only one."""
        if self.held > own and self.held + size > self.max_held_bytes:
            raise UploadsFull(f"{self.held / MEGABYTE:.0f} MB of uploads are arriving "
                              f"(limit {self.max_held_bytes / MEGABYTE:g} MB)")


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"upload larger than the limit of {limit / MEGABYTE:g} MB")


async def read_uploads(request: Request, receiver: BodyReceiver, max_images: int) -> list[Upload]:
    """Every part of a multipart body (413 past max_images + EXTRA_PARTS), or the raw body as one upload named
    "upload"."""
    content_type = request.headers.get("content-type", "")
    kind = content_type.split(";")[0].strip().lower()
    if kind != "multipart/form-data" and not kind.startswith(RAW_TYPES):
        raise HTTPException(415, "send multipart/form-data or a raw body with Content-Type image/* or "
                                 "application/octet-stream")
    async with receiver.receiving(request) as body:
        if kind == "multipart/form-data":
            # off the event loop: a body of many tiny parts takes seconds to parse, and health checks must not wait
            return await asyncio.to_thread(parse_multipart, body, content_type, max_images + EXTRA_PARTS)
        return [Upload("image", DEFAULT_NAME, body)]


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    data: bytearray = field(default_factory=bytearray)


class _PartCollector:
    """python-multipart callbacks that gather each part's headers and bytes."""

    def __init__(self, max_parts: int) -> None:
        self.max_parts = max_parts
        self.parts: list[_Part] = []
        self.complete = False
        self._header_name = bytearray()
        self._header_value = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._header_name.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._header_value.extend(data[start:end]),
            "on_header_end": self._header_end,
            "on_part_data": lambda data, start, end: self.parts[-1].data.extend(data[start:end]),
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        if len(self.parts) == self.max_parts:
            raise HTTPException(413, f"more than {self.max_parts} multipart fields")
        self.parts.append(_Part())

    def _header_end(self) -> None:
        name = self._header_name.decode("latin-1").strip().lower()
        # latin-1 keeps the bytes as they came: the options' values (a UTF-8 file name) are decoded in _upload
        self.parts[-1].headers[name] = self._header_value.decode("latin-1").strip()
        self._header_name.clear()
        self._header_value.clear()

    def _end(self) -> None:
        self.complete = True


def parse_multipart(body: bytes, content_type: str, max_parts: int) -> list[Upload]:
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise HTTPException(400, "multipart body without a boundary")
    collector = _PartCollector(max_parts)
    try:
        # FormParserError, the base: a boundary over 256 bytes fails in the constructor with it, not with a parse error
        MultipartParser(boundary, collector.callbacks()).write(body)
    except FormParserError as exc:
        raise HTTPException(400, f"malformed multipart body ({exc})") from exc
    if not collector.complete:
        raise HTTPException(400, "truncated multipart body (no closing boundary)")
    return [_upload(part) for part in collector.parts]


def _upload(part: _Part) -> Upload:
    _, options = parse_options_header(part.headers.get("content-disposition", ""))
    name = options.get(b"name", b"").decode("utf-8", "replace")
    filename = _base_name(options.get(b"filename", b"").decode("utf-8", "replace"))
    return Upload(name, filename or DEFAULT_NAME, bytes(part.data))


def _base_name(filename: str) -> str:
    """The file name a client sent without its folders (either slash) or control characters: it is echoed back,
    and a client that saves results by it must not be led outside its own folder."""
    name = "".join(c for c in PureWindowsPath(filename).name if c.isprintable())
    return "" if name in (".", "..") else name
