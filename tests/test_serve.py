"""The HTTP API with a stand-in reader: every endpoint, every refusal, the limits and the API key."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import re
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from pathlib import Path
from urllib.parse import urljoin

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
import httpx
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from typer.testing import CliRunner

from platelab.cli import app as cli
from platelab.io.results import PlateResult
from platelab.serve import ServeSettings, create_app
from platelab.serve.settings import split_cores
from platelab.serve.testing import FIXED_TEXT, FixedReader
from platelab.weights import default_model
from tests.conftest import SHOULD_FAIL, bomb_png_bytes

KEY = "s3cret-key"
MULTIPART = "multipart/form-data"


def _jpeg(size: tuple[int, int] = (160, 120)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (40, 90, 160)).save(buffer, "JPEG")
    return buffer.getvalue()


def _client(reader: object = None, **settings: object) -> TestClient:
    """A started app (lifespan run) with the stand-in reader unless another is given."""
    app = create_app(ServeSettings(**settings), lambda: reader or FixedReader())
    return TestClient(app)


def _async_requests(
    app: FastAPI, send: Callable[[httpx.AsyncClient], Awaitable[list[httpx.Response]]]
) -> list[httpx.Response]:
    """Run send against the started app in-process; unlike TestClient, this streams request bodies."""

    async def run() -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await send(client)

    return asyncio.run(run())


@pytest.fixture
def client() -> TestClient:
    with _client() as started:
        yield started


# --- reading ---------------------------------------------------------------------------------------------


def test_read_multipart_returns_the_output_contract(client: TestClient) -> None:
    response = client.post("/v1/read", files={"image": ("car.jpg", _jpeg(), "image/jpeg")})
    assert response.status_code == 200
    body = response.json()
    assert body["file"] == "car.jpg"
    [plate] = body["plates"]
    assert plate["text"] == FIXED_TEXT
    assert set(plate) == {"text", "confidence", "chars", "box", "quad"}
    assert plate["box"] == [40, 40, 80, 20] and len(plate["quad"]) == 4
    assert [c["char"] for c in plate["chars"]] == list(FIXED_TEXT)


def test_read_raw_body_is_named_upload(client: TestClient) -> None:
    response = client.post("/v1/read", content=_jpeg(), headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 200
    assert response.json()["file"] == "upload"
    # media types are case-insensitive (RFC 9110): a client sending Image/JPEG is not refused with 415
    assert client.post("/v1/read", content=_jpeg(), headers={"Content-Type": "Image/JPEG"}).status_code == 200


def test_a_wrong_content_type_is_told_every_type_that_is_accepted(client: TestClient) -> None:
    refused = client.post("/v1/read", content=_jpeg(), headers={"Content-Type": "text/plain"})
    assert refused.status_code == 415
    detail = refused.json()["detail"]
    assert "multipart/form-data" in detail and "image/*" in detail and "application/octet-stream" in detail
    octet = client.post("/v1/read", content=_jpeg(), headers={"Content-Type": "application/octet-stream"})
    assert octet.status_code == 200


def test_batch_reads_every_image_in_order_and_reports_bad_ones(client: TestClient) -> None:
    names = {"a.jpg": _jpeg(), "b.txt": b"not a photo", "c.jpg": _jpeg()}
    files = [("images", (name, data)) for name, data in names.items()]
    response = client.post("/v1/read/batch", files=files)
    assert response.status_code == 200
    a, b, c = response.json()["results"]
    assert (a["file"], b["file"], c["file"]) == ("a.jpg", "b.txt", "c.jpg")
    assert a["plates"][0]["text"] == c["plates"][0]["text"] == FIXED_TEXT
    assert b == {"file": "b.txt", "error": "b.txt: not an image"}


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [("車.jpg", "車.jpg"), ("Ünï€ 1.jpg", "Ünï€ 1.jpg"), ("../../etc/passwd", "passwd"),
     ("C:\\Users\\me\\car.jpg", "car.jpg"), ("a\x1b[2Jb.jpg", "a[2Jb.jpg"), ("..", "upload"), ("a/..", "upload")],
)
def test_file_names_come_back_in_utf_8_without_folders_or_control_characters(client: TestClient, sent: str,
                                                                              echoed: str) -> None:
    for endpoint, field in (("/v1/read", "image"), ("/v1/read/batch", "images")):
        response = client.post(endpoint, files=[(field, (sent, _jpeg(), "image/jpeg")), (field, ("b.jpg", _jpeg()))]
                               if field == "images" else {field: (sent, _jpeg(), "image/jpeg")})
        assert response.status_code == 200, response.text
        body = response.json()
        names = [r["file"] for r in body["results"]] if "results" in body else [body["file"]]
        assert names[0] == echoed


def test_a_body_of_many_parts_is_cut_off_as_it_is_parsed() -> None:
    with _client(max_batch_images=2) as client:
        body = b"".join(b'--xyz\r\nContent-Disposition: form-data; name="f"\r\n\r\n\r\n' for _ in range(5000))
        started = time.perf_counter()
        response = client.post("/v1/read", content=body + b"--xyz--\r\n",
                               headers={"Content-Type": f"{MULTIPART}; boundary=xyz"})
        assert response.status_code == 413 and "more than 10 multipart fields" in response.json()["detail"]
        assert time.perf_counter() - started < 2


def test_batch_refuses_too_many_images() -> None:
    with _client(max_batch_images=2) as client:
        files = [("images", (f"{i}.jpg", _jpeg())) for i in range(3)]
        assert client.post("/v1/read/batch", files=files).status_code == 413


@pytest.mark.parametrize("name", sorted(SHOULD_FAIL))
def test_bad_image_gives_its_reason(client: TestClient, bad_images: dict[str, Path], name: str) -> None:
    path = bad_images[name]
    response = client.post("/v1/read", files={"image": (path.name, path.read_bytes(), "image/jpeg")})
    assert response.status_code == (415 if SHOULD_FAIL[name] == "not an image" else 422)
    error = response.json()["error"]
    assert SHOULD_FAIL[name] in error and "\n" not in error and error.startswith(path.name)


def test_pixel_limit_is_configurable() -> None:
    with _client(max_pixels=100 * 100) as client:
        response = client.post("/v1/read", files={"image": ("big.jpg", _jpeg((200, 200)))})
        assert response.status_code == 422 and "too large" in response.json()["error"]
        assert client.post("/v1/read", files={"image": ("bomb.png", bomb_png_bytes())}).status_code == 422


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"content": b"x=1", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 415),
        ({"files": {"other": ("a.jpg", b"...")}}, 422),
        ({"files": [("image", ("a.jpg", b"1")), ("image", ("b.jpg", b"2"))]}, 422),
        ({"content": b"--xyz\r\nbroken", "headers": {"Content-Type": f"{MULTIPART}; boundary=xyz"}}, 400),
        ({"content": b"--xyz--\r\n", "headers": {"Content-Type": MULTIPART}}, 400),
        ({"content": b"junk--xyz\r\n\r\n--xyz--\r\n", "headers": {"Content-Type": f"{MULTIPART}; boundary=xyz"}},
         400),
    ],
    ids=["form-urlencoded", "no-image-field", "two-images", "truncated-multipart", "no-boundary", "junk-first"],
)
def test_malformed_requests_are_refused(client: TestClient, kwargs: dict, status: int,
                                        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        response = client.post("/v1/read", **kwargs)
    assert response.status_code == status
    assert response.json()["detail"]
    # the answer names the cause; the parser's own line of it would be a stray, context-free one in the server's log
    assert [r.getMessage() for r in caplog.records if r.name.startswith("python_multipart")] == []


# --- limits ----------------------------------------------------------------------------------------------


def test_declared_oversize_upload_gives_413() -> None:
    with _client(max_upload_mb=0.01) as client:
        response = client.post("/v1/read", files={"image": ("big.jpg", b"\xff" * 20_000)})
        assert response.status_code == 413 and "limit" in response.json()["detail"]


def test_streamed_upload_is_cut_off_at_the_limit() -> None:
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the server can only count what arrives
        for index in range(100):
            sent.append(index)
            yield b"\0" * 4096

    async def upload(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await client.post("/v1/read", content=chunks(), headers={"Content-Type": "image/png"})]

    [response] = _async_requests(create_app(ServeSettings(max_upload_mb=0.05), FixedReader), upload)
    assert response.status_code == 413
    assert len(sent) < 20  # 50 kB is 13 chunks: the rest were never asked for


def test_an_upload_that_does_not_arrive_in_time_gets_408() -> None:
    async def stalling() -> AsyncIterator[bytes]:  # a client that stops sending, or a phone that lost its signal
        yield b"\0" * 1000
        await asyncio.sleep(30)
        yield b"\0"

    async def upload(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await client.post("/v1/read", content=stalling(), headers={"Content-Type": "image/jpeg"})]

    started = time.perf_counter()
    [response] = _async_requests(create_app(ServeSettings(receive_timeout_s=0.3), FixedReader), upload)
    assert response.status_code == 408
    assert response.json()["detail"] == "the upload did not arrive within the limit of 0.3 s"
    assert time.perf_counter() - started < 5


def _noise_jpeg(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)).save(buffer, "JPEG",
                                                                                                    quality=95)
    return buffer.getvalue()


def test_uploads_arriving_at_once_are_bounded_in_bytes() -> None:
    """Bodies being received or parsed hold at most max_receiving_mb: past it, 503 with Retry-After (before any of the
    body is read when its Content-Length says it cannot fit); a body alone always fits, up to max_upload_mb."""
    budget = 100_000
    photo = _noise_jpeg(300)
    assert len(photo) > budget
    pulled: list[int] = []

    async def chunks(count: int, size: int) -> AsyncIterator[bytes]:
        for _ in range(count):
            pulled.append(size)
            yield b"\0" * size

    async def send(client: httpx.AsyncClient) -> list[httpx.Response]:
        first_held = asyncio.Event()
        release = asyncio.Event()

        async def held_open() -> AsyncIterator[bytes]:
            yield b"\0" * 60_000
            first_held.set()  # asked for more: the server holds the first 60 kB
            await release.wait()
            yield b"\0"

        raw = {"Content-Type": "image/jpeg"}
        first = asyncio.ensure_future(client.post("/v1/read", content=held_open(), headers=raw))
        await first_held.wait()
        declared = await client.post("/v1/read", content=chunks(1, 50_000), headers={**raw, "Content-Length": "50000"})
        unannounced = await client.post("/v1/read", content=chunks(10, 10_000), headers=raw)
        release.set()
        after = [await first, await client.post("/v1/read", content=photo, headers=raw)]
        return [declared, unannounced, *after]

    settings = ServeSettings(max_receiving_mb=budget / 1024 / 1024, max_upload_mb=1)
    declared, unannounced, first, alone = _async_requests(create_app(settings, FixedReader), send)
    for refused in (declared, unannounced):
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert "uploads are arriving" in refused.json()["detail"]
    assert pulled.count(50_000) == 0  # refused from its Content-Length
    assert pulled.count(10_000) == 5  # refused at the chunk that would pass the limit: 60 + 50 kB
    assert first.status_code == 415  # received whole, and read: 60 kB of zeros is no image
    assert alone.status_code == 200


def test_a_client_that_leaves_mid_upload_gets_400_and_holds_no_bytes() -> None:
    """Not a 500 in the log (the server is not at fault), and the bytes it had sent are no longer counted as held."""
    from starlette.requests import ClientDisconnect

    from platelab.serve.upload import BodyReceiver

    class Leaving:
        def __init__(self) -> None:
            self.headers: dict[str, str] = {}  # no Content-Length

        async def stream(self) -> AsyncIterator[bytes]:
            yield b"\0" * 1000
            raise ClientDisconnect

    async def receive(receiver: BodyReceiver) -> None:
        async with receiver.receiving(Leaving()):  # type: ignore[arg-type]
            pytest.fail("a body that never arrived whole was used")

    receiver = BodyReceiver(max_bytes=10_000, max_held_bytes=10_000, deadline_s=5)
    with pytest.raises(HTTPException) as refused:
        asyncio.run(receive(receiver))
    assert refused.value.status_code == 400 and "disconnected" in refused.value.detail
    assert receiver.held == 0


class _BrokenReader:
    def read(self, image: np.ndarray) -> list[PlateResult]:
        raise RuntimeError("the reader broke")


def test_a_reader_that_fails_is_a_server_error_not_an_image_error() -> None:
    """Only an image that cannot be decoded is an entry with its error; anything else is the server's fault (500),
    not an answer of 200 that quotes the exception to the client."""
    with _client(_BrokenReader()) as client, pytest.raises(RuntimeError, match="the reader broke"):
        client.post("/v1/read/batch", files=[("images", ("a.jpg", _jpeg()))])


def test_slow_reading_times_out_with_504() -> None:
    with _client(FixedReader(delay_s=1.0), timeout_s=0.2) as client:
        start = time.perf_counter()
        response = client.post("/v1/read", files={"image": ("a.jpg", _jpeg())})
        assert response.status_code == 504 and "0.2 s" in response.json()["detail"]
        assert time.perf_counter() - start < 0.9


class _CountingReader:
    """Remembers how many reads ran at the same time."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def read(self, image: np.ndarray) -> list[PlateResult]:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.05)
        with self.lock:
            self.running -= 1
        return FixedReader().read(image)


def test_concurrent_reads_are_bounded_by_the_pool() -> None:
    reader = _CountingReader()

    async def burst(client: httpx.AsyncClient) -> list[httpx.Response]:
        return list(await asyncio.gather(
            *(client.post("/v1/read", files={"image": ("a.jpg", _jpeg())}) for _ in range(8))
        ))

    responses = _async_requests(create_app(ServeSettings(concurrent_reads=2), lambda: reader), burst)
    assert [response.status_code for response in responses] == [200] * 8
    assert reader.most == 2


# --- API key ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-API-Key": "wrong"}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"X-API-Key": KEY}, 200),
        ({"Authorization": f"Bearer {KEY}"}, 200),
    ],
    ids=["missing", "wrong-header", "wrong-bearer", "header", "bearer"],
)
def test_api_key_guards_the_api(headers: dict[str, str], status: int) -> None:
    with _client(api_key=KEY) as client:
        response = client.post("/v1/read", files={"image": ("a.jpg", _jpeg())}, headers=headers)
        assert response.status_code == status
        assert client.get("/v1/models", headers=headers).status_code == status
        if status == 401:  # a 401 must say how to authenticate (RFC 9110)
            assert response.headers["www-authenticate"] == "Bearer"


def test_health_page_and_docs_stay_open_with_a_key() -> None:
    with _client(api_key=KEY) as client:
        for path in ("/healthz", "/", "/app.js", "/style.css", "/openapi.json", "/docs", "/redoc",
                     "/docs-assets/swagger-ui-bundle.js"):
            assert client.get(path).status_code == 200, path


# --- the rest --------------------------------------------------------------------------------------------


def test_health(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    # load balancers probe with HEAD too
    assert client.head("/healthz").status_code == client.head("/").status_code == 200


def test_page_is_self_contained(client: TestClient) -> None:
    page = client.get("/")
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    # no capture attribute: with it, phones open the camera and offer no gallery
    assert 'accept="image/*"' in page.text and "capture=" not in page.text
    assert "http://" not in page.text and "https://" not in page.text
    assert client.get("/app.js").headers["content-type"].startswith("text/javascript")


DOCS_PAGES = ("/docs", "/redoc")


def test_docs_pages_name_no_other_host(client: TestClient) -> None:
    for path in DOCS_PAGES:
        page = client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), path
        assert "http://" not in page.text and "https://" not in page.text, path
        assert '<html lang="en">' in page.text, path


@pytest.mark.parametrize(("name", "media_type"), [("swagger-ui-bundle.js", "text/javascript"),
                                                  ("swagger-ui.css", "text/css"),
                                                  ("redoc.standalone.js", "text/javascript")])
def test_docs_assets_are_the_installed_files_with_their_types(client: TestClient, name: str, media_type: str) -> None:
    response = client.get(f"/docs-assets/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == (resources.files("fastapi_offline") / "static" / name).read_bytes()


@pytest.mark.parametrize("prefix", ["", "/platelab"], ids=["at-the-root", "mounted-under-a-prefix"])
def test_every_url_a_docs_page_names_is_served_relative_to_it(prefix: str) -> None:
    app = create_app(ServeSettings(), FixedReader)
    if prefix:
        outer = FastAPI()
        outer.mount(prefix, app)
        app = outer
    with TestClient(app) as client:
        for path in DOCS_PAGES:
            page_url = f"http://testserver{prefix}{path}"
            page = client.get(page_url).text
            named = {"".join(url) for url in re.findall(r'(?:src|href|spec-url)="([^"]+)"|url: \'([^\']+)\'', page)}
            assert len(named) >= 3, page  # the schema, the script and the icon at least
            for url in named - {"data:,"}:
                assert client.get(urljoin(page_url, url)).status_code == 200, (path, url)


PREFIX = "/platelab"


def _proxy(app: ASGIApp, strips: bool) -> ASGIApp:
    """nginx's `location /platelab/ { proxy_pass http://127.0.0.1:8000/; }` in front of app: only paths under the
    prefix reach it, without the prefix (that proxy_pass names a URI) or, when strips is False, as they came (one
    that names none)."""

    async def proxy(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await app(scope, receive, send)
        elif not scope["path"].startswith(PREFIX + "/"):
            await PlainTextResponse("not proxied", 404)(scope, receive, send)
        else:
            path = scope["path"].removeprefix(PREFIX) if strips else scope["path"]
            await app({**scope, "path": path, "raw_path": path.encode()}, receive, send)

    return proxy


@pytest.mark.parametrize("strips", [True, False], ids=["proxy-strips-the-prefix", "proxy-passes-it-on"])
def test_behind_a_proxy_under_a_prefix_the_schema_names_it_and_every_request_is_served(strips: bool) -> None:
    """Swagger UI sends "Try it out" to the schema's server: without one, to the host's root, past the proxy."""
    app = create_app(ServeSettings(root_path=PREFIX + "/"), FixedReader)
    docs = f"http://testserver{PREFIX}/docs"
    with TestClient(_proxy(app, strips)) as client:
        schema = client.get(urljoin(docs, "openapi.json")).json()  # as the page names it
        assert schema["servers"] == [{"url": PREFIX}]
        server = urljoin(docs, schema["servers"][0]["url"])  # where Swagger UI sends each request
        read = client.post(f"{server}/v1/read", files={"image": ("car.jpg", _jpeg(), "image/jpeg")})
        assert read.status_code == 200 and read.json()["plates"][0]["text"] == FIXED_TEXT
        assert client.get(f"{server}/v1/models").status_code == 200
        for page in ("./", "docs", "redoc", "app.js", "healthz"):  # "./": the page itself ("" would be docs)
            assert client.get(urljoin(docs, page)).status_code == 200, page
        assert '<script src="app.js"' in client.get(urljoin(docs, "./")).text


def test_without_a_prefix_the_schema_names_no_server(client: TestClient) -> None:
    # a server of "/" would be the same; none keeps the schema as FastAPI writes it for every other deployment
    assert "servers" not in client.get("/openapi.json").json()


@pytest.mark.parametrize(("given", "kept"), [("/platelab", "/platelab"), ("/platelab/", "/platelab"),
                                             ("/apps/plate-lab_2/", "/apps/plate-lab_2"), ("/", None), ("", None)])
def test_a_root_path_is_kept_without_its_trailing_slash(given: str, kept: str | None) -> None:
    assert ServeSettings(root_path=given).root_path == kept


@pytest.mark.parametrize("given", ["platelab", "/plate lab", "//platelab", "/a//b", "/a/../b", "/./a", "/pläte",
                                   "/plate?x=1", "/plate%20lab", " /platelab"])
def test_a_root_path_that_is_no_path_prefix_is_refused(given: str) -> None:
    with pytest.raises(ValueError, match=r"is not a path prefix such as /platelab: "):
        ServeSettings(root_path=given)


def test_serve_root_path_reaches_the_workers_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    import platelab.api
    import platelab.serve.app as served
    from platelab.serve.settings import ENV_NAMES

    for variable in ENV_NAMES.values():
        monkeypatch.delenv(variable, raising=False)  # and run_server's, set for its workers, gone afterwards
    started: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))
    monkeypatch.setattr(platelab.api, "Reader", lambda **kwargs: FixedReader())  # the CLI's check of the models
    monkeypatch.setattr(served, "Reader", lambda **kwargs: FixedReader())

    refused = CliRunner().invoke(cli, ["serve", "--root-path", "platelab"])
    assert refused.exit_code == 2 and not started, (refused.output, refused.exception)
    assert "--root-path: 'platelab' is not a path prefix such as /platelab" in refused.output
    result = CliRunner().invoke(cli, ["serve", "--root-path", "/platelab/", "--workers", "2"])
    assert result.exit_code == 0 and len(started) == 1, (result.output, result.exception)
    assert "root_path" not in started[0]  # uvicorn's would prefix again the paths a proxy passes on with it
    with TestClient(served.create_app_from_env()) as worker:  # as each uvicorn worker builds its app
        assert worker.get("/openapi.json").json()["servers"] == [{"url": "/platelab"}]

    # an explicit "/" serves at the root although the environment names a prefix
    monkeypatch.setenv("PLATELAB_ROOT_PATH", "/elsewhere")
    result = CliRunner().invoke(cli, ["serve", "--root-path", "/"])
    assert result.exit_code == 0 and len(started) == 2, (result.output, result.exception)
    with TestClient(served.create_app_from_env()) as worker:
        assert "servers" not in worker.get("/openapi.json").json()
        assert worker.get("/healthz").status_code == 200


def test_without_fastapi_offline_the_server_starts_and_the_docs_say_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fastapi_offline", None)  # import fastapi_offline now fails
    with _client() as client:
        assert client.post("/v1/read", files={"image": ("a.jpg", _jpeg())}).status_code == 200
        for path in DOCS_PAGES:
            response = client.get(path)
            assert response.status_code == 501, path
            [line] = response.text.splitlines()
            assert "fastapi-offline" in line and "pip install" in line and ".[serve]" in line


def test_models_lists_the_cards_of_the_models_served(tmp_path: Path) -> None:
    (tmp_path / "mine.card.json").write_text(json.dumps({"task": "plate recognition", "steps": 3}))
    (tmp_path / "broken.card.json").write_text("{")
    with _client(model=str(tmp_path / "mine.onnx"), detector=str(tmp_path / "broken.onnx")) as client:
        assert client.get("/v1/models").json() == {  # the detector's card is not JSON: listed without one
            "models": [{"name": "broken", "card": None}, {"name": "mine", "card": {"task": "plate recognition",
                                                                                  "steps": 3}}]
        }
    with _client() as client:  # the bundled ones
        assert [m["name"] for m in client.get("/v1/models").json()["models"]] == ["detector", "recognizer"]


def test_openapi_documents_the_endpoints(client: TestClient) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # FastAPI warns of one operation listed twice (a client generator breaks)
        paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/read", "/v1/read/batch", "/v1/models", "/healthz"} <= set(paths)
    operations = [op["operationId"] for path in paths.values() for op in path.values()]
    assert len(operations) == len(set(operations))
    assert "multipart/form-data" in paths["/v1/read"]["post"]["requestBody"]["content"]


def test_settings_travel_through_the_environment() -> None:
    settings = ServeSettings(api_key=KEY, max_upload_mb=5.5, timeout_s=3.0, concurrent_reads=3,
                             reader_threads=2, prior="auto", candidates=5, watch="/srv/wanted.txt",
                             model="/srv/mine.onnx", detector="/srv/detector.onnx", receive_timeout_s=30.0,
                             max_receiving_mb=64.0, root_path="/platelab", max_queued=0)  # 0: no queue at all
    assert ServeSettings.from_env(settings.to_env()) == settings
    # a variable set to nothing (`PLATELAB_MAX_UPLOAD_MB=` in a unit file) is one not set
    assert ServeSettings.from_env({"PLATELAB_MAX_UPLOAD_MB": "", "PLATELAB_MAX_QUEUED": ""}) == ServeSettings()
    assert ServeSettings(api_key="").api_key is None
    assert ServeSettings(prior="").prior is None
    assert ServeSettings(watch="").watch is None
    assert ServeSettings(model="", detector="") == ServeSettings()


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("PLATELAB_CONCURRENT_READS", "abc", "an integer"),
    ("PLATELAB_MAX_UPLOAD_MB", "lots", "a number"),
    ("PLATELAB_RECEIVE_TIMEOUT", "soon", "a number"),
])
def test_a_malformed_setting_in_the_environment_is_named(variable: str, value: str, expected: str) -> None:
    with pytest.raises(ValueError, match=rf"^{variable}='{value}': expected {expected}$"):
        ServeSettings.from_env({variable: value})


@pytest.mark.parametrize("setting", ["max_upload_mb", "timeout_s", "receive_timeout_s", "max_receiving_mb"])
@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf")])
def test_a_size_or_time_limit_must_be_positive(setting: str, value: float) -> None:
    # a NaN upload limit would let every body in: no size compares greater than NaN; an infinite one is no number of
    # bytes, and every worker would fail on it as it started
    with pytest.raises(ValueError, match="must be positive"):
        ServeSettings(**{setting: value})


@pytest.mark.parametrize(("arguments", "environment", "message"), [
    (["--max-upload-mb", "inf"], {}, "--max-upload-mb: inf is not a finite number"),
    (["--timeout", "inf"], {}, "--timeout: inf is not a finite number"),
    ([], {"PLATELAB_MAX_RECEIVING_MB": "inf"}, "a PLATELAB_ environment variable: "),
])
def test_an_infinite_limit_stops_serve_before_the_server_starts(
    monkeypatch: pytest.MonkeyPatch, arguments: list[str], environment: dict[str, str], message: str
) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    from platelab.serve.settings import ENV_NAMES

    for variable in ENV_NAMES.values():
        monkeypatch.delenv(variable, raising=False)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    started: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))
    result = CliRunner().invoke(cli, ["serve", *arguments])
    assert result.exit_code == 2 and not started, (result.output, result.exception)
    assert message in result.output


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("concurrent_reads", 0, "at least 1"), ("reader_threads", 0, "at least 1"), ("candidates", 0, "at least 1"),
    ("max_queued", -1, "0 or more"),
])
def test_a_count_below_its_least_is_refused(setting: str, value: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ServeSettings(**{setting: value})


def test_the_default_limits_are_the_documented_ones() -> None:
    """docs/serving.md: 20 MB a body, 10 s to read, 60 s to arrive, 200 MB arriving at once, 32 images a batch and
    32 waiting; a deployment that relies on them must not find them raised."""
    defaults = ServeSettings()
    assert (defaults.max_upload_mb, defaults.timeout_s, defaults.receive_timeout_s, defaults.max_receiving_mb,
            defaults.max_batch_images, defaults.max_queued, defaults.api_key) == (20, 10, 60, 200, 32, 32, None)


def test_the_servers_models_prior_and_candidates_reach_its_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    import platelab.serve.app as served

    made: list[dict[str, object]] = []

    def reader(**kwargs: object) -> FixedReader:
        made.append(kwargs)
        return FixedReader()

    monkeypatch.setattr(served, "Reader", reader)
    settings = ServeSettings(prior="br", candidates=3, concurrent_reads=1, reader_threads=1, model="mine.onnx")
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/read", files={"image": ("a.jpg", _jpeg(), "image/jpeg")}).status_code == 200
    assert made == [{"detector": None, "recognizer": "mine.onnx", "threads": 1, "prior": "br", "candidates": 3}]


@pytest.mark.parametrize(("workers", "cores", "expected"),
                         [(1, 2, (2, 1)), (1, 16, (4, 4)), (4, 16, (4, 1)), (8, 4, (1, 1))])
def test_cores_are_split(workers: int, cores: int, expected: tuple[int, int]) -> None:
    assert split_cores(workers, cores) == expected


@pytest.mark.skipif(not (default_model("detector").is_file() and default_model("recognizer").is_file()),
                    reason="the bundled models are not there yet")
def test_real_models_read_the_demo_photo(tmp_path: Path) -> None:
    from platelab.io.labels import read_labels
    from platelab.synth.demo import write_demo

    photo = write_demo(tmp_path)
    with TestClient(create_app(ServeSettings(concurrent_reads=1))) as client:
        response = client.post("/v1/read", files={"image": (photo.name, photo.read_bytes(), "image/jpeg")})
    assert response.status_code == 200
    served = [plate["text"] for plate in response.json()["plates"]]
    # the texts the photo was rendered with; plates come most confident first, so their order is not compared
    assert sorted(served) == sorted(label.plate for label in read_labels(tmp_path))


class _DoubtfulReader(FixedReader):
    """FIXED_TEXT, with a second candidate that is the wanted plate."""

    def read(self, image: np.ndarray) -> list[PlateResult]:
        from dataclasses import replace

        from platelab.io.results import Candidate

        [plate] = super().read(image)
        return [replace(plate, candidates=(Candidate(FIXED_TEXT, 0.9), Candidate("L8TE42", 0.05)))]


@pytest.mark.parametrize("listed", [1, 3])
def test_a_servers_watch_list_marks_plates_by_their_candidates(tmp_path: Path, listed: int,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import platelab.serve.app as served

    made: list[dict[str, object]] = []

    def reader(**kwargs: object) -> _DoubtfulReader:
        made.append(kwargs)
        return _DoubtfulReader()

    monkeypatch.setattr(served, "Reader", reader)
    (tmp_path / "wanted.txt").write_text("# reported\nL8TE42\n", encoding="utf-8")
    settings = ServeSettings(watch=str(tmp_path / "wanted.txt"), candidates=listed, concurrent_reads=1,
                             reader_threads=1)
    with TestClient(create_app(settings)) as client:
        [plate] = client.post("/v1/read", files={"image": ("a.jpg", _jpeg(), "image/jpeg")}).json()["plates"]
    assert made[0]["candidates"] == (5 if listed == 1 else listed)  # read for matching, shown only when asked
    assert plate["text"] == FIXED_TEXT and plate["wanted"] == "L8TE42"
    assert ("candidates" in plate) == (listed > 1)


def test_a_plate_keeps_the_country_whose_formats_it_fits_in_the_response() -> None:
    class FittingReader(FixedReader):
        def read(self, image: np.ndarray) -> list[PlateResult]:
            return [dataclasses.replace(plate, fits="us") for plate in super().read(image)]

    for reader, fits in ((FittingReader(), {"fits": "us"}), (FixedReader(), {})):
        with _client(reader) as client:
            [plate] = client.post("/v1/read", files={"image": ("a.jpg", _jpeg(), "image/jpeg")}).json()["plates"]
        assert {key: plate[key] for key in plate if key == "fits"} == fits
