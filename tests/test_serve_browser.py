"""The web page in a real browser: Debian's chromium driven by Playwright against uvicorn on loopback.

Uses the bundled models when they exist, else the stand-in reader. PLATELAB_SCREENSHOT=1 saves docs/serve.png.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("playwright")
import uvicorn
from playwright import sync_api

from platelab.io.labels import read_labels
from platelab.io.results import PlateResult
from platelab.serve import ServeSettings, create_app
from platelab.serve.pool import PlateReading
from platelab.serve.testing import FIXED_TEXT, FixedReader
from platelab.synth.demo import write_demo
from platelab.weights import default_model

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "serve.png"
KEY = "browser-key"
TIMEOUT_MS = 60_000  # the real models on a busy CPU, plus chromium's start

pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"no chromium at {CHROMIUM}")


def _models_present() -> bool:
    return default_model("detector").is_file() and default_model("recognizer").is_file()


@contextmanager
def _serving(settings: ServeSettings, reader: PlateReading) -> Iterator[str]:
    """uvicorn in a thread on a free loopback port (port 0: the OS picks, so no race); yields the base URL."""
    server = uvicorn.Server(uvicorn.Config(create_app(settings, lambda: reader), host="127.0.0.1", port=0,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def reader_and_texts(photo: Path) -> tuple[PlateReading, list[str]]:
    """The reader to serve and the plate texts the page must then list, sorted: the demo photo's rendered ones."""
    if not _models_present():
        return FixedReader(), [FIXED_TEXT]
    from platelab.api import Reader

    return Reader(), sorted(label.plate for label in read_labels(photo.parent))


def _table_texts(page: sync_api.Page) -> list[str]:
    return page.locator("#plates tbody td.plate").all_inner_texts()


def test_uploaded_photo_is_read_drawn_and_listed(browser: sync_api.Browser, photo: Path,
                                                 reader_and_texts: tuple[PlateReading, list[str]]) -> None:
    reader, texts = reader_and_texts
    with _serving(ServeSettings(), reader) as url:
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(url)
        page.set_input_files("#photo", str(photo))
        page.wait_for_selector("#results:not([hidden])", timeout=TIMEOUT_MS)
        assert sorted(_table_texts(page)) == texts  # listed most confident first
        assert page.is_hidden("#key-form")
        assert f'"file": "{photo.name}"' in page.inner_text("#json")
        assert page.eval_on_selector("#preview", "canvas => canvas.width") == 1280
        if os.environ.get("PLATELAB_SCREENSHOT"):
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        page.close()


def test_page_asks_for_the_key_once_and_keeps_it(browser: sync_api.Browser, photo: Path) -> None:
    with _serving(ServeSettings(api_key=KEY), FixedReader()) as url:
        page = browser.new_page()
        page.goto(url)
        page.set_input_files("#photo", str(photo))
        page.wait_for_selector("#key-form:not([hidden])", timeout=TIMEOUT_MS)
        page.fill("#key-input", KEY)
        page.click("#key-form button")
        page.wait_for_selector("#results:not([hidden])", timeout=TIMEOUT_MS)
        assert _table_texts(page) == [FIXED_TEXT]
        assert page.evaluate("sessionStorage.getItem('platelab-api-key')") == KEY
        page.close()


def test_a_photo_that_fails_hides_the_last_ones_results(browser: sync_api.Browser, photo: Path,
                                                        tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_text("not a photo")
    with _serving(ServeSettings(), FixedReader()) as url:
        page = browser.new_page()
        page.goto(url)
        page.set_input_files("#photo", str(photo))
        page.wait_for_selector("#results:not([hidden])", timeout=TIMEOUT_MS)
        page.set_input_files("#photo", str(bad))
        page.wait_for_selector("#status.error", timeout=TIMEOUT_MS)
        assert "bad.jpg: not an image" in page.inner_text("#status") and page.is_hidden("#results")
        page.close()


# Markup that runs script if the page ever builds HTML from a server's or a client's words; no quotes, which
# Chromium would percent-encode in a multipart file name.
HOSTILE = "<img src=x onerror=window.pwned=1>"


class _HostileReader(FixedReader):
    def read(self, image: np.ndarray) -> list[PlateResult]:
        return [dataclasses.replace(plate, text=HOSTILE) for plate in super().read(image)]


def test_hostile_file_names_plate_texts_and_errors_are_shown_as_text(browser: sync_api.Browser,
                                                                      photo: Path) -> None:
    with _serving(ServeSettings(), _HostileReader()) as url:
        page = browser.new_page()
        blocked: list[str] = []  # the CSP must not get in the page's own way
        page.on("console", lambda message: blocked.append(message.text)
                if "Content Security Policy" in message.text else None)
        page.goto(url)
        page.set_input_files("#photo", {"name": f"{HOSTILE}.jpg", "mimeType": "image/jpeg",
                                        "buffer": photo.read_bytes()})
        page.wait_for_selector("#results:not([hidden])", timeout=TIMEOUT_MS)
        assert _table_texts(page) == [HOSTILE]
        assert f'"file": "{HOSTILE}.jpg"' in page.inner_text("#json")
        page.set_input_files("#photo", {"name": f"{HOSTILE}.jpg", "mimeType": "image/jpeg", "buffer": b"not a photo"})
        page.wait_for_selector("#status.error", timeout=TIMEOUT_MS)
        assert page.inner_text("#status") == f"{HOSTILE}.jpg: not an image"
        assert page.locator("img").count() == 0 and page.evaluate("window.pwned") is None
        assert blocked == []
        page.close()



# An operation of the API as each docs page draws it (Swagger UI: tag "default", then the operation id).
DOCS_OPERATION = {"docs": "#operations-default-read_v1_read_post",
                  "redoc": '[data-section-id="operation/read_v1_read_post"]'}


def _offline_page(browser: sync_api.Browser, url: str) -> tuple[sync_api.Page, list[str]]:
    """A page that may fetch from url only, as on a box without internet access; the list fills with what it tried
    to fetch from elsewhere."""
    page = browser.new_page()
    elsewhere: list[str] = []

    def only_this_server(route: sync_api.Route) -> None:
        if route.request.url.startswith(url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    return page, elsewhere


@pytest.mark.parametrize("path", sorted(DOCS_OPERATION))
def test_api_docs_render_with_every_other_host_blocked(browser: sync_api.Browser, path: str) -> None:
    with _serving(ServeSettings(), FixedReader()) as url:
        page, elsewhere = _offline_page(browser, url)
        refused: list[str] = []  # what the page's CSP stops; ReDoc's logo, on cdn.redoc.ly, is expected there
        page.on("console", lambda message: refused.append(message.text)
                if "Content Security Policy" in message.text and "cdn.redoc.ly" not in message.text else None)
        page.goto(url + path)
        page.wait_for_selector(DOCS_OPERATION[path], timeout=TIMEOUT_MS)
        assert "/v1/read" in page.inner_text(DOCS_OPERATION[path])
        assert elsewhere == [] and refused == []
        page.close()


MODELS_OPERATION = "#operations-default-models_v1_models_get"


def _try_it_out(page: sync_api.Page, operation: str) -> tuple[str, str]:
    """Swagger UI's "Try it out" then "Execute" on an operation of the docs page open: (the URL it requested, the
    status it shows)."""
    page.click(f"{operation} .opblock-summary-control")
    page.click(f"{operation} button.try-out__btn")
    page.click(f"{operation} button.execute")
    status = f"{operation} .live-responses-table tbody .response-col_status"
    page.wait_for_selector(status, timeout=TIMEOUT_MS)
    return page.inner_text(f"{operation} .request-url pre"), page.inner_text(status)


def test_swagger_ui_try_it_out_calls_this_server(browser: sync_api.Browser) -> None:
    """The docs page's CSP still lets Swagger UI send a request to the API and show the answer."""
    with _serving(ServeSettings(), FixedReader()) as url:
        page, elsewhere = _offline_page(browser, url)
        page.goto(url + "docs")
        assert _try_it_out(page, MODELS_OPERATION)[1] == "200" and elsewhere == []
        page.close()


@pytest.mark.parametrize("strips", [True, False], ids=["proxy-strips-the-prefix", "proxy-passes-it-on"])
def test_swagger_ui_try_it_out_stays_under_the_proxys_prefix(browser: sync_api.Browser, strips: bool) -> None:
    """Served under /platelab/ by a proxy (emulated by routing the page's requests), Try it out sends there too."""
    with _serving(ServeSettings(root_path="/platelab"), FixedReader()) as url:
        page = browser.new_page()
        outside: list[str] = []  # what the page asked for past the proxy's location, which it cannot reach

        def proxy(route: sync_api.Route) -> None:
            requested = route.request.url
            if not requested.startswith(url + "platelab/"):
                outside.append(requested)
                route.abort()
            else:
                route.continue_(url=(url + requested.removeprefix(url + "platelab/")) if strips else requested)

        page.route("**/*", proxy)
        page.goto(url + "platelab/docs")
        assert _try_it_out(page, MODELS_OPERATION) == (url + "platelab/v1/models", "200")
        assert outside == []
        page.close()
