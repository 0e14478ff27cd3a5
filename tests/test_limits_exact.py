"""The server's limits at their exact edges: a body of the limit is read and one byte more is refused, as are
multipart fields one past the most allowed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
import httpx
from fastapi.testclient import TestClient

from platelab.serve import ServeSettings, create_app
from platelab.serve.testing import FIXED_TEXT, FixedReader
from tests.test_serve import _async_requests, _client, _jpeg

# 1/64 MB is 16384 bytes exactly, so the limit in bytes and the one in the message are both free of rounding
LIMIT_MB = 1 / 64
LIMIT_BYTES = 16384
CHUNK = 4096
MAX_BATCH_IMAGES = 2
# the documented cap (docs/serving.md): max_batch_images images plus 8 fields of the client's own
MAX_FIELDS = MAX_BATCH_IMAGES + 8


def _padded_jpeg(size: int) -> bytes:
    """A small JPEG with zero bytes after its end marker, size bytes in all: decoders stop at the marker."""
    photo = _jpeg()
    assert len(photo) < size
    return photo + b"\0" * (size - len(photo))


def _streamed(body: bytes) -> httpx.Response:
    """POST body to /v1/read in chunks with no Content-Length, so only the count as it streams in can refuse it."""

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), CHUNK):
            yield body[start:start + CHUNK]

    async def upload(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await client.post("/v1/read", content=chunks(), headers={"Content-Type": "image/jpeg"})]

    [response] = _async_requests(create_app(ServeSettings(max_upload_mb=LIMIT_MB), FixedReader), upload)
    return response


def test_a_streamed_body_of_exactly_the_limit_is_read() -> None:
    response = _streamed(_padded_jpeg(LIMIT_BYTES))
    assert response.status_code == 200, response.text
    assert [plate["text"] for plate in response.json()["plates"]] == [FIXED_TEXT]


def test_a_streamed_body_one_byte_over_the_limit_is_refused() -> None:
    response = _streamed(_padded_jpeg(LIMIT_BYTES + 1))
    assert response.status_code == 413
    assert response.json() == {"detail": "upload larger than the limit of 0.015625 MB"}


def test_a_declared_body_of_exactly_the_limit_is_read_and_one_byte_more_refused() -> None:
    with _client(max_upload_mb=LIMIT_MB) as client:
        headers = {"Content-Type": "image/jpeg"}
        at_limit = client.post("/v1/read", content=_padded_jpeg(LIMIT_BYTES), headers=headers)
        assert at_limit.status_code == 200, at_limit.text
        over = client.post("/v1/read", content=_padded_jpeg(LIMIT_BYTES + 1), headers=headers)
        assert over.status_code == 413
        assert over.json() == {"detail": "upload larger than the limit of 0.015625 MB"}


def _batch(client: TestClient, extra_fields: int) -> httpx.Response:
    """MAX_BATCH_IMAGES images and extra_fields form fields of the client's own, in one multipart body."""
    images = [("images", (f"{i}.jpg", _jpeg(), "image/jpeg")) for i in range(MAX_BATCH_IMAGES)]
    return client.post("/v1/read/batch", files=images, data={f"note{i}": "x" for i in range(extra_fields)})


def test_a_batch_of_exactly_the_most_multipart_fields_is_read() -> None:
    with _client(max_batch_images=MAX_BATCH_IMAGES) as client:
        response = _batch(client, MAX_FIELDS - MAX_BATCH_IMAGES)
        assert response.status_code == 200, response.text
        assert [r["file"] for r in response.json()["results"]] == ["0.jpg", "1.jpg"]


def test_a_batch_of_one_multipart_field_too_many_is_refused() -> None:
    with _client(max_batch_images=MAX_BATCH_IMAGES) as client:
        response = _batch(client, MAX_FIELDS - MAX_BATCH_IMAGES + 1)
        assert response.status_code == 413
        assert response.json() == {"detail": "more than 10 multipart fields"}
