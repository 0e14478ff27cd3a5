"""`platelab serve` against a hostile client and a careless deployer: what the security review found and mended."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import re
from collections.abc import AsyncIterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
import httpx
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from platelab.cli import app as cli
from platelab.serve import ServeSettings, create_app
from platelab.serve.app import PAGE_FILES
from platelab.serve.settings import ENV_NAMES
from platelab.serve.testing import FixedReader

STATIC = Path(__file__).resolve().parents[1] / "platelab" / "serve" / "static"


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 90, 160)).save(buffer, "JPEG")
    return buffer.getvalue()


def _client(**settings: Any) -> TestClient:
    return TestClient(create_app(ServeSettings(**settings), FixedReader), raise_server_exceptions=False)


def _multipart(boundary: bytes, data: bytes) -> bytes:
    return (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n' + data
            + b"\r\n--" + boundary + b"--\r\n")


# --- uploads ---------------------------------------------------------------------------------------------


def test_a_boundary_too_long_for_the_parser_is_a_400_not_a_500() -> None:
    # python-multipart refuses a boundary over 256 bytes with FormParserError, not its MultipartParseError
    boundary = b"B" * 300
    with _client() as client:
        response = client.post("/v1/read", content=_multipart(boundary, _jpeg()),
                               headers={"content-type": f"multipart/form-data; boundary={boundary.decode()}"})
    assert response.status_code == 400, response.text
    assert "malformed multipart body" in response.json()["detail"]


def test_a_content_length_of_non_ascii_digits_is_not_a_500() -> None:
    """"²" passes str.isdigit but not int(); uvicorn refuses such a header itself, other ASGI servers may not."""
    app = create_app(ServeSettings(), FixedReader)
    sent: list[MutableMapping[str, Any]] = []

    async def run() -> None:
        async with app.router.lifespan_context(app):
            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                     "scheme": "http", "path": "/v1/read", "raw_path": b"/v1/read", "query_string": b"",
                     "root_path": "", "client": ("127.0.0.1", 1), "server": ("test", 80),
                     "headers": [(b"content-type", b"image/jpeg"), (b"content-length", "²".encode("latin-1"))]}

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": _jpeg(), "more_body": False}

            async def send(message: MutableMapping[str, Any]) -> None:
                sent.append(message)

            await app(scope, receive, send)

    asyncio.run(run())
    assert sent[0]["status"] == 200


def test_a_request_without_the_key_is_refused_before_its_body_is_read() -> None:
    app = create_app(ServeSettings(api_key="right-key"), FixedReader)
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(64):
            pulled += 1
            yield b"x" * 65536

    async def run() -> httpx.Response:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.post("/v1/read", content=body(), headers={"content-type": "image/jpeg"})

    assert asyncio.run(run()).status_code == 401
    assert pulled == 0


# --- the API key -----------------------------------------------------------------------------------------


def test_a_key_read_with_its_final_newline_still_lets_clients_in() -> None:
    """HTTP strips the whitespace around a header value: a key kept with it would refuse everyone."""
    assert ServeSettings(api_key="k3y-from-a-file\n").api_key == "k3y-from-a-file"
    with _client(api_key="k3y-from-a-file\n") as client:
        assert client.get("/v1/models", headers={"X-API-Key": "k3y-from-a-file"}).status_code == 200
        assert client.get("/v1/models").status_code == 401


@pytest.mark.parametrize("key", ["clé-secrète", "key\x00tail", "tab\tin", "   ", "\n"],
                         ids=["non-ascii", "nul", "tab", "spaces", "newline"])
def test_a_key_no_client_could_send_is_refused_without_quoting_it(key: str) -> None:
    with pytest.raises(ValueError, match="API key") as refused:
        ServeSettings(api_key=key)
    assert key.strip() == "" or key not in str(refused.value)  # a refused key must not end up in a log


def test_a_bad_key_stops_the_cli_before_the_server_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    for variable in ENV_NAMES.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: pytest.fail("the server started"))
    result = CliRunner().invoke(cli, ["serve", "--api-key", "clé"])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "--api-key" in result.output and "printable ASCII" in result.output and "clé" not in result.output
    result = CliRunner().invoke(cli, ["serve", "--api-key", "  "])
    assert result.exit_code == 2 and "--api-key: the API key is only whitespace" in result.output, result.output
    monkeypatch.setenv("PLATELAB_API_KEY", "  ")
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2, (result.output, result.exception)
    # the key came from the environment: the message names that variable, not the option nor "a PLATELAB_ variable"
    assert "PLATELAB_API_KEY: the API key is only whitespace" in result.output, result.output


def test_the_key_is_not_taken_from_the_query_string() -> None:
    # a key in a URL ends up in access logs, proxies' logs and browser history
    with _client(api_key="right-key") as client:
        assert client.get("/v1/models?api_key=right-key").status_code == 401
        assert client.get("/v1/models?X-API-Key=right-key").status_code == 401


# --- the page --------------------------------------------------------------------------------------------


def test_every_page_file_carries_the_csp_and_cannot_be_framed() -> None:
    with _client() as client:
        for route in PAGE_FILES:
            for response in (client.get(route), client.head(route)):
                policy = response.headers["content-security-policy"]
                assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, route
                assert "script-src" not in policy and "unsafe-inline" not in policy, route
                assert response.headers["x-content-type-options"] == "nosniff", route


def test_the_page_script_never_turns_text_into_html() -> None:
    """File names, plate texts and error messages are the client's or the server's words: shown as text only."""
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    sinks = re.findall(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
                       r"setAttribute\(\s*[\"']on|localStorage", script)
    assert sinks == []
    # the key goes only to this server: every fetch is of a relative URL
    assert re.findall(r"fetch\(\s*[\"'`]([^\"'`]+)", script) == ["v1/read"]


def test_the_docs_pages_run_no_script_but_their_own() -> None:
    """Swagger UI's page starts it with an inline script: allowed by its hash, not by 'unsafe-inline' for all."""
    with _client() as client:
        swagger, redoc = client.get("/docs"), client.get("/redoc")
    [inline] = re.findall(r"<script>(.*?)</script>", swagger.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    swagger_policy, redoc_policy = (page.headers["content-security-policy"] for page in (swagger, redoc))
    assert f"script-src 'self' 'sha256-{digest}';" in swagger_policy
    assert "script-src" not in redoc_policy  # default-src 'self': ReDoc's page has no inline script
    for policy in (swagger_policy, redoc_policy):
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-eval" not in policy and "http" not in policy
    assert "unsafe-inline" not in swagger_policy
