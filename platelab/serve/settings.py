"""What a server is allowed to do, from arguments or from environment variables (uvicorn's worker processes
are started fresh, so the environment is how settings reach them)."""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platelab.io.decode import MAX_PIXELS
from platelab.serve.pool import MAX_QUEUED
from platelab.serve.upload import MEGABYTE
from platelab.weights import default_model

# Field name -> environment variable; these are also the documented way to configure a server without the CLI.
ENV_NAMES = {
    "api_key": "PLATELAB_API_KEY",
    "max_upload_mb": "PLATELAB_MAX_UPLOAD_MB",
    "timeout_s": "PLATELAB_TIMEOUT",
    "concurrent_reads": "PLATELAB_CONCURRENT_READS",
    "max_queued": "PLATELAB_MAX_QUEUED",
    "receive_timeout_s": "PLATELAB_RECEIVE_TIMEOUT",
    "max_receiving_mb": "PLATELAB_MAX_RECEIVING_MB",
    "reader_threads": "PLATELAB_READER_THREADS",
    "prior": "PLATELAB_PRIOR",
    "candidates": "PLATELAB_CANDIDATES",
    "watch": "PLATELAB_WATCH",
    "model": "PLATELAB_MODEL",
    "detector": "PLATELAB_DETECTOR",
    "root_path": "PLATELAB_ROOT_PATH",
}
# A path prefix as a proxy's location names it: segments of URL characters that need no escaping (the prefix is
# compared with the decoded path each request arrives with, and written into the schema as it is).
_ROOT_PATH = re.compile(r"(/[A-Za-z0-9._~-]+)+")


def split_cores(workers: int, cores: int | None = None) -> tuple[int, int]:
    """(concurrent reads, onnxruntime threads per read) for each worker process.

    Small models use extra intra-op threads poorly, so cores go to parallel requests first (up to 4 per
    process); whatever is left speeds up each request. The product stays within the machine's cores.
    """
    cores = cores or os.cpu_count() or 1
    per_worker = max(1, cores // max(1, workers))
    concurrent = min(4, per_worker)
    return concurrent, max(1, per_worker // concurrent)


def checked_api_key(key: str) -> str:
    """The key without surrounding whitespace, or ValueError (which never quotes the key) if no client could send it.

    HTTP drops the whitespace around a header value, so a key read from a file with its final newline would
    otherwise answer every request 401; and headers carry only ASCII reliably (a browser's fetch refuses the rest,
    servers decode it as Latin-1), so a non-ASCII key would too.
    """
    stripped = key.strip()
    if not stripped:
        raise ValueError("the API key is only whitespace: give a real key, or none to serve without one")
    if not (stripped.isascii() and stripped.isprintable()):
        raise ValueError("the API key must be printable ASCII (no accents, emoji or control characters): "
                         "HTTP headers cannot carry the others reliably")
    return stripped


def checked_root_path(path: str) -> str | None:
    """The path prefix without its trailing slash (None for "" or "/": no prefix), or ValueError saying why it is
    not one."""
    stripped = path.rstrip("/")
    if not stripped:
        return None
    if not _ROOT_PATH.fullmatch(stripped) or any(part in (".", "..") for part in stripped.split("/")):
        raise ValueError(f"{path!r} is not a path prefix such as /platelab: each of its segments must follow a '/' "
                         "and be letters, digits, '-', '.', '_' or '~', and neither '.' nor '..'")
    return stripped


@dataclass(frozen=True)
class ServeSettings:
    api_key: str | None = None
    max_upload_mb: float = 20.0
    timeout_s: float = 10.0
    concurrent_reads: int = field(default_factory=lambda: split_cores(1)[0])
    reader_threads: int = field(default_factory=lambda: split_cores(1)[1])
    max_queued: int = MAX_QUEUED  # images that may wait for a free read; past it, requests get 503 at once
    # A request body must arrive whole within receive_timeout_s (else 408): long enough for a 20 MB upload at 3 Mbit/s,
    # short enough that a client that stalls, or a phone that lost its signal, does not hold its bytes for good.
    receive_timeout_s: float = 60.0
    max_receiving_mb: float = 200.0  # bodies being received or parsed at once (ten of the largest); past it, 503
    max_pixels: int = MAX_PIXELS
    max_batch_images: int = 32
    prior: str | None = None  # the plate-format prior every reading uses: a country, "auto", or none
    candidates: int = 1  # over 1: each plate also lists that many of its most likely texts
    watch: str | None = None  # a file of wanted plates: a plate that may be one says which ("wanted")
    model: str | None = None  # the recognizer ONNX every reading uses; None: the bundled one
    detector: str | None = None  # the detector ONNX; None: the bundled one
    root_path: str | None = None  # the path prefix a reverse proxy serves the app under, such as "/platelab"

    def __post_init__(self) -> None:
        # 0 < limit < inf rather than <= 0: NaN fails it too; an infinite size is no number of bytes, which every
        # worker would only find as it starts
        if not all(0 < limit < math.inf for limit in (self.max_upload_mb, self.timeout_s, self.receive_timeout_s,
                                                      self.max_receiving_mb)):
            raise ValueError("max_upload_mb, timeout_s, receive_timeout_s and max_receiving_mb must be positive "
                             "and finite")
        if self.concurrent_reads < 1 or self.reader_threads < 1 or self.candidates < 1:
            raise ValueError("concurrent_reads, reader_threads and candidates must be at least 1")
        if self.max_queued < 0:
            raise ValueError("max_queued must be 0 or more")
        if self.api_key == "":
            object.__setattr__(self, "api_key", None)  # an empty key would lock nobody out
        elif self.api_key is not None:
            object.__setattr__(self, "api_key", checked_api_key(self.api_key))
        for optional in ("prior", "watch", "model", "detector"):
            if getattr(self, optional) == "":
                object.__setattr__(self, optional, None)
        if self.root_path is not None:
            object.__setattr__(self, "root_path", checked_root_path(self.root_path))

    @property
    def model_paths(self) -> tuple[Path, Path]:
        """(detector, recognizer) ONNX files the server reads with."""
        return (Path(self.detector) if self.detector else default_model("detector"),
                Path(self.model) if self.model else default_model("recognizer"))

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MEGABYTE)

    @property
    def max_receiving_bytes(self) -> int:
        return int(self.max_receiving_mb * MEGABYTE)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, workers: int = 1) -> ServeSettings:
        """Settings from ENV_NAMES variables; unset ones keep their defaults, cores split among workers."""
        concurrent, threads = split_cores(workers)
        # Any: each value gets its field's type at run time, from the field's declared type name
        given: dict[str, Any] = {"concurrent_reads": concurrent, "reader_threads": threads}
        types = {f.name: f.type for f in dataclasses.fields(cls)}
        converters = {"float": float, "int": int}
        for name, variable in ENV_NAMES.items():
            if environ.get(variable):
                convert = converters.get(str(types[name]), str)
                try:
                    given[name] = convert(environ[variable])
                except ValueError:
                    expected = "an integer" if convert is int else "a number"
                    raise ValueError(f"{variable}={environ[variable]!r}: expected {expected}") from None
        if "api_key" in given:  # checked here to name the variable; its message never quotes the key
            try:
                checked_api_key(given["api_key"])
            except ValueError as exc:
                raise ValueError(f"{ENV_NAMES['api_key']}: {exc}") from None
        try:
            return cls(**given)
        except ValueError as exc:  # a check across the settings, which names fields, not variables
            raise ValueError(f"a PLATELAB_ environment variable: {exc}") from None

    def to_env(self) -> dict[str, str]:
        values = {name: getattr(self, name) for name in ENV_NAMES}
        return {ENV_NAMES[name]: str(value) for name, value in values.items() if value is not None}
