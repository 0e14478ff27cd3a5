"""The web page in a real browser: Debian's chromium driven by Playwright against uvicorn on loopback.

Uses the bundled models when they exist, else the stand-in reader. PLATELAB_SCREENSHOT=1 saves docs/serve.png.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
from PIL import Image

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
from platelab.synth.style import contrast_ratio
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


def _jpeg(folder: Path, name: str, size: tuple[int, int]) -> Path:
    path = folder / name
    Image.new("RGB", size, (90, 90, 90)).save(path, "JPEG")
    return path


def _read(page: sync_api.Page, photo: Path | sync_api.FilePayload) -> None:
    page.set_input_files("#photo", photo if isinstance(photo, dict) else str(photo))
    page.wait_for_selector("#results:not([hidden])", timeout=TIMEOUT_MS)


def _stored_key(page: sync_api.Page) -> str | None:
    return page.evaluate("sessionStorage.getItem('platelab-api-key')")


def _focused(page: sync_api.Page) -> str:
    return page.evaluate("document.activeElement.id")


def test_a_key_that_is_not_printable_ascii_is_refused_before_it_is_saved(browser: sync_api.Browser,
                                                                        photo: Path) -> None:
    """fetch throws on a header past U+00FF: a key with a phone's curly quote would break every later photo."""
    with _serving(ServeSettings(api_key=KEY), FixedReader()) as url:
        page = browser.new_page()
        page.goto(url)
        page.set_input_files("#photo", str(photo))
        page.wait_for_selector("#key-form:not([hidden])", timeout=TIMEOUT_MS)
        page.fill("#key-input", "browser\u2019key")
        page.click("#key-form button")
        assert "\u2019" in page.inner_text("#key-error") and "ASCII" in page.inner_text("#key-error")
        assert page.is_visible("#key-form") and _stored_key(page) is None and _focused(page) == "key-input"
        assert page.get_attribute("#key-input", "aria-invalid") == "true"
        page.fill("#key-input", KEY)
        page.click("#key-form button")
        page.wait_for_selector("#results:not([hidden])", timeout=TIMEOUT_MS)
        assert page.is_hidden("#key-error")
        # one saved by an older page is dropped at load, so the page asks again instead of failing
        page.evaluate("sessionStorage.setItem('platelab-api-key', 'browser\u2019key')")
        page.reload()
        page.set_input_files("#photo", str(photo))
        page.wait_for_selector("#key-form:not([hidden])", timeout=TIMEOUT_MS)
        assert page.inner_text("#status") == "This server needs an API key."
        page.close()


def test_a_wrong_key_is_said_so_and_a_good_one_can_be_forgotten(browser: sync_api.Browser, photo: Path) -> None:
    with _serving(ServeSettings(api_key=KEY), FixedReader()) as url:
        page = browser.new_page()
        page.goto(url)
        assert page.is_hidden("#forget-key")
        page.set_input_files("#photo", str(photo))
        page.wait_for_selector("#key-form:not([hidden])", timeout=TIMEOUT_MS)
        page.fill("#key-input", "wrong-key")
        page.click("#key-form button")
        page.wait_for_selector("#status:has-text('refused')", timeout=TIMEOUT_MS)
        assert page.input_value("#key-input") == "" and _focused(page) == "key-input"
        page.fill("#key-input", KEY)
        page.click("#key-form button")
        page.wait_for_selector("#results:not([hidden])", timeout=TIMEOUT_MS)
        assert _focused(page) == "status"  # not <body>, where the hidden form would leave it
        page.click("#forget-key")
        assert _stored_key(page) is None and page.is_hidden("#forget-key")
        page.set_input_files("#photo", str(photo))
        page.wait_for_selector("#key-form:not([hidden])", timeout=TIMEOUT_MS)
        page.close()


# Holds each photo's decoding until the test opens window.decodeGate's promise, to decode an older photo last.
HOLD_DECODING = """
window.decodeGate = null;
const decode = HTMLImageElement.prototype.decode;
HTMLImageElement.prototype.decode = function () {
  const gate = window.decodeGate;
  return decode.call(this).then(() => gate);
};
"""


def _opened(browser: sync_api.Browser, url: str, script: str, **options: Any) -> sync_api.Page:
    """A new page at url with script run before the page's own (a recorder or a stand-in for a browser API)."""
    page = browser.new_page(**options)
    page.add_init_script(script)
    page.goto(url)
    return page


def test_an_older_photo_decoded_last_does_not_draw_over_a_newer_one(browser: sync_api.Browser, photo: Path,
                                                                     tmp_path: Path) -> None:
    small = _jpeg(tmp_path, "small.jpg", (320, 240))
    with _serving(ServeSettings(), FixedReader()) as url:
        page = _opened(browser, url, HOLD_DECODING)
        _read(page, small)
        page.evaluate("() => { window.decodeGate = new Promise((open) => (window.openGate = open)); }")
        _read(page, photo)
        assert page.is_hidden("#preview")  # not the last photo under this one's table
        page.evaluate("window.decodeGate = null")
        _read(page, small)
        page.wait_for_selector("#preview:not([hidden])", timeout=TIMEOUT_MS)
        page.evaluate("window.openGate(); new Promise((done) => setTimeout(done, 200))")
        assert page.eval_on_selector("#preview", "canvas => canvas.width") == 320
        page.close()


def test_the_file_input_is_emptied_so_the_same_photo_can_be_chosen_again(browser: sync_api.Browser,
                                                                         photo: Path) -> None:
    with _serving(ServeSettings(), FixedReader()) as url:
        page = browser.new_page()
        page.goto(url)
        _read(page, photo)
        assert page.eval_on_selector("#photo", "input => input.files.length") == 0
        page.close()


# Drops files on an element as a browser would: [dragover prevented, drop prevented].
DROP = """([selector, files]) => {
  const data = new DataTransfer();
  for (const [name, type, base64] of files) {
    data.items.add(new File([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], name, { type }));
  }
  const target = document.querySelector(selector);
  return ["dragover", "drop"].map((kind) =>
    !target.dispatchEvent(new DragEvent(kind, { dataTransfer: data, bubbles: true, cancelable: true })));
}"""


def _drop(page: sync_api.Page, selector: str, *files: tuple[str, str, bytes]) -> list[bool]:
    encoded = [(name, kind, base64.b64encode(content).decode()) for name, kind, content in files]
    return page.evaluate(DROP, [selector, encoded])


def test_files_dropped_anywhere_are_read_or_refused_by_name(browser: sync_api.Browser, photo: Path) -> None:
    jpeg = photo.read_bytes()
    with _serving(ServeSettings(), FixedReader()) as url:
        page = browser.new_page()
        page.goto(url)
        _read(page, photo)
        # on the photo shown, outside the zone: left to the browser, the drop would open the file in the page's place
        assert _drop(page, "#preview", ("car.jpg", "image/jpeg", jpeg)) == [True, True]
        page.wait_for_selector("#results:not([hidden])", timeout=TIMEOUT_MS)
        assert '"file": "car.jpg"' in page.inner_text("#json")
        _drop(page, "#drop-zone", ("notes.txt", "text/plain", b"hello"))
        assert page.inner_text("#status") == "notes.txt: not an image file." and page.is_hidden("#results")
        # no type known to the browser (.jfif): sent, and the server reads it by its content
        _drop(page, "#drop-zone", ("car.jfif", "", jpeg))
        page.wait_for_selector("#results:not([hidden])", timeout=TIMEOUT_MS)
        assert '"file": "car.jfif"' in page.inner_text("#json")
        _drop(page, "#drop-zone", ("a.jpg", "image/jpeg", jpeg), ("b.jpg", "image/jpeg", jpeg))
        page.wait_for_selector("#status:has-text('Only a.jpg was read, of the 2 files dropped.')",
                               timeout=TIMEOUT_MS)
        assert '"file": "a.jpg"' in page.inner_text("#json")
        page.close()


def test_a_non_image_dropped_while_a_photo_is_read_stops_that_read(browser: sync_api.Browser,
                                                                    photo: Path) -> None:
    with _serving(ServeSettings(), FixedReader(delay_s=1.0)) as url:
        page = _opened(browser, url, RECORD_SIGNALS)
        page.set_input_files("#photo", str(photo))
        assert page.is_visible("#busy")
        _drop(page, "#drop-zone", ("notes.txt", "text/plain", b"hello"))
        assert page.is_hidden("#busy") and page.is_hidden("#cancel") and page.evaluate("window.signals[0].aborted")
        page.wait_for_timeout(1500)  # past the reader's delay: the photo's answer, had it come, would be shown
        assert page.inner_text("#status") == "notes.txt: not an image file." and page.is_hidden("#results")
        page.close()


def test_an_error_also_says_only_the_first_of_the_files_dropped_was_read(browser: sync_api.Browser,
                                                                         photo: Path) -> None:
    jpeg = photo.read_bytes()
    with _serving(ServeSettings(), FixedReader()) as url:
        page = browser.new_page()
        page.goto(url)
        page.route("**/v1/read", lambda route: route.fulfill(status=413, json={"detail": "too large"}))
        _drop(page, "#drop-zone", ("a.jpg", "image/jpeg", jpeg), ("b.jpg", "image/jpeg", jpeg))
        page.wait_for_selector("#status.error", timeout=TIMEOUT_MS)
        assert page.inner_text("#status") == "a.jpg: too large Only a.jpg was read, of the 2 files dropped."
        page.close()


class _PlacedReader(FixedReader):
    """Plates at fixed boxes of a 1920x1080 photo: at its right edge, at its top, and one just above another."""

    BOXES = ((1700, 500, 220, 60), (800, 0, 300, 80), (300, 300, 300, 80), (300, 400, 300, 80))

    def read(self, image: np.ndarray) -> list[PlateResult]:
        plate = super().read(image)[0]
        return [dataclasses.replace(plate, box=(x, y, w, h), quad=((x, y), (x + w, y), (x + w, y + h), (x, y + h)))
                for x, y, w, h in self.BOXES]


# Records the labels' backgrounds, the rectangles filled in the outline's colour.
RECORD_LABELS = """
window.labels = [];
const fillRect = CanvasRenderingContext2D.prototype.fillRect;
CanvasRenderingContext2D.prototype.fillRect = function (...rect) {
  if (this.fillStyle === "#00e676") window.labels.push(rect);
  return fillRect.apply(this, rect);
};
"""


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_labels_stay_inside_the_photo_off_other_plates_and_readable_on_a_phone(browser: sync_api.Browser,
                                                                                tmp_path: Path) -> None:
    wide = _jpeg(tmp_path, "wide.jpg", (1920, 1080))
    boxes = _PlacedReader.BOXES
    with _serving(ServeSettings(), _PlacedReader()) as url:
        page = _opened(browser, url, RECORD_LABELS, viewport={"width": 390, "height": 844})
        _read(page, wide)
        page.wait_for_function(f"window.labels.length >= {len(boxes)}", timeout=TIMEOUT_MS)
        labels = page.evaluate("window.labels")[-len(boxes):]
        css_per_pixel = page.eval_on_selector("#preview", "c => c.getBoundingClientRect().width / c.width")
        for index, (x, y, w, h) in enumerate(labels):
            assert min(x, y) >= 0 and x + w <= 1920 and y + h <= 1080, (index, labels)
            assert not any(_overlap((x, y, w, h), box) for other, box in enumerate(boxes) if other != index), index
            assert h * css_per_pixel >= 14, (h, css_per_pixel)
        page.close()


def _hex(rgb: str) -> str:
    """A computed "rgb(r, g, b)" or "rgba(r, g, b, a)" colour as "#rrggbb" (its alpha dropped)."""
    channels = rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3]
    return "#" + "".join(f"{int(channel):02x}" for channel in channels)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_errors_are_legible_in_either_colour_scheme(browser: sync_api.Browser, scheme: Literal["light", "dark"],
                                                    tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_text("not a photo")
    # the page sets no background: Chromium's canvas is white in light mode and #121212 in dark mode
    background = {"light": "rgb(255, 255, 255)", "dark": "rgb(18, 18, 18)"}[scheme]
    with _serving(ServeSettings(), FixedReader()) as url:
        page = browser.new_page(color_scheme=scheme)
        page.goto(url)
        page.set_input_files("#photo", str(bad))
        page.wait_for_selector("#status.error", timeout=TIMEOUT_MS)
        colour = page.eval_on_selector("#status", "status => getComputedStyle(status).color")
        assert contrast_ratio(_hex(colour), _hex(background)) >= 4.5, colour
        page.close()


def test_the_scrolling_json_can_be_reached_by_keyboard_and_is_named(browser: sync_api.Browser, photo: Path) -> None:
    with _serving(ServeSettings(), FixedReader()) as url:
        page = browser.new_page()
        page.goto(url)
        _read(page, photo)
        assert page.get_attribute("#json", "tabindex") == "0"
        sync_api.expect(page.locator("#json")).to_have_accessible_name("JSON")
        page.close()


# Keeps the AbortSignal each request of the page was sent with.
RECORD_SIGNALS = """
window.signals = [];
const fetchOriginal = window.fetch;
window.fetch = (resource, options = {}) => {
  window.signals.push(options.signal);
  return fetchOriginal(resource, options);
};
"""


def test_a_new_photo_aborts_the_one_being_read(browser: sync_api.Browser, photo: Path, tmp_path: Path) -> None:
    small = _jpeg(tmp_path, "small.jpg", (320, 240))
    with _serving(ServeSettings(), FixedReader(delay_s=1.0)) as url:
        page = _opened(browser, url, RECORD_SIGNALS)
        page.set_input_files("#photo", str(photo))
        assert page.is_visible("#busy") and page.is_visible("#cancel")
        _read(page, small)
        assert page.evaluate("window.signals.map((signal) => Boolean(signal && signal.aborted))") == [True, False]
        assert page.is_hidden("#busy") and page.is_hidden("#cancel")
        page.close()


def _held(page: sync_api.Page) -> list[sync_api.Route]:
    """Requests to v1/read are held unanswered, as over a network that has stalled."""
    held: list[sync_api.Route] = []
    page.route("**/v1/read", lambda route: held.append(route))
    return held


def test_a_stalled_read_can_be_cancelled(browser: sync_api.Browser, photo: Path) -> None:
    with _serving(ServeSettings(), FixedReader()) as url:
        page = _opened(browser, url, RECORD_SIGNALS)
        _held(page)
        page.set_input_files("#photo", str(photo))
        page.click("#cancel")
        assert page.inner_text("#status") == f"Stopped reading {photo.name}."
        assert page.is_hidden("#busy") and page.evaluate("window.signals[0].aborted")
        page.close()


def _clocked(browser: sync_api.Browser, url: str) -> sync_api.Page:
    """A new page at url whose clock the test moves (page.clock.run_for), for the page's timers."""
    page = browser.new_page()
    page.clock.install()
    page.goto(url)
    return page


def test_a_stalled_read_times_out(browser: sync_api.Browser, photo: Path) -> None:
    with _serving(ServeSettings(), FixedReader()) as url:
        page = _clocked(browser, url)
        _held(page)
        page.set_input_files("#photo", str(photo))
        page.wait_for_selector("#busy:not([hidden])", timeout=TIMEOUT_MS)
        page.clock.run_for(80_000)
        page.wait_for_selector("#status.error", timeout=TIMEOUT_MS)
        assert page.inner_text("#status") == f"{photo.name}: no answer from the server within 75 s."
        page.close()


def test_the_deadline_counts_from_the_first_try_not_from_each(browser: sync_api.Browser, photo: Path) -> None:
    with _serving(ServeSettings(), FixedReader()) as url:
        page = _clocked(browser, url)
        sent: list[sync_api.Route] = []  # a 503 first, then held unanswered

        def busy_then_stalled(route: sync_api.Route) -> None:
            sent.append(route)
            if len(sent) == 1:
                route.fulfill(status=503, headers={"Retry-After": "10"}, json={"detail": "busy"})

        page.route("**/v1/read", busy_then_stalled)
        page.set_input_files("#photo", str(photo))
        page.wait_for_selector("#status:has-text('trying again in 10 s')", timeout=TIMEOUT_MS)
        with page.expect_request("**/v1/read"):
            page.clock.run_for(10_000)
        page.clock.run_for(66_000)  # 76 s after the photo was sent, 66 s after the second try
        page.wait_for_selector("#status.error", timeout=5_000)
        assert page.inner_text("#status") == f"{photo.name}: no answer from the server within 75 s."
        page.close()


# Counts the listeners the page's own script keeps on AbortSignals, added and not yet removed or fired.
RECORD_ABORT_LISTENERS = """
window.abortListeners = 0;
const add = AbortSignal.prototype.addEventListener;
const remove = AbortSignal.prototype.removeEventListener;
const kept = new WeakMap();
AbortSignal.prototype.addEventListener = function (type, listener, options) {
  const counted = (...args) => {
    if (options && options.once && kept.delete(listener)) window.abortListeners--;
    return listener.apply(this, args);
  };
  kept.set(listener, counted);
  window.abortListeners++;
  return add.call(this, type, counted, options);
};
AbortSignal.prototype.removeEventListener = function (type, listener, options) {
  const counted = kept.get(listener);
  if (counted) {
    kept.delete(listener);
    window.abortListeners--;
  }
  return remove.call(this, type, counted || listener, options);
};
"""


@pytest.mark.parametrize("busy_answers", [2, 3])
def test_a_busy_server_is_tried_again_after_its_retry_after(browser: sync_api.Browser, photo: Path,
                                                            busy_answers: int) -> None:
    with _serving(ServeSettings(), FixedReader()) as url:
        page = _opened(browser, url, RECORD_ABORT_LISTENERS)
        sent: list[str] = []

        def busy_then_through(route: sync_api.Route) -> None:
            sent.append(route.request.url)
            if len(sent) <= busy_answers:
                route.fulfill(status=503, headers={"Retry-After": "1"},
                              json={"detail": "busy: too many images waiting"})
            else:
                route.continue_()

        page.route("**/v1/read", busy_then_through)
        page.set_input_files("#photo", str(photo))
        page.wait_for_selector("#status:has-text('busy; trying again in 1 s (1 of 2)')", timeout=TIMEOUT_MS)
        if busy_answers == 2:
            page.wait_for_selector("#results:not([hidden])", timeout=TIMEOUT_MS)
        else:
            page.wait_for_selector("#status.error", timeout=TIMEOUT_MS)
            assert page.inner_text("#status") == f"{photo.name}: busy: too many images waiting (tried 3 times)"
        assert len(sent) == 3
        assert page.evaluate("window.abortListeners") == 0  # none left behind by the waits between tries
        page.close()


@pytest.mark.parametrize("status", [413, 504, None], ids=["413", "504", "network"])
def test_every_error_names_the_file(browser: sync_api.Browser, photo: Path, status: int | None) -> None:
    with _serving(ServeSettings(), FixedReader()) as url:
        page = browser.new_page()
        page.goto(url)
        page.route("**/v1/read", lambda route: route.fulfill(status=status, json={"detail": "as the server says"})
                   if status else route.abort())
        page.set_input_files("#photo", str(photo))
        page.wait_for_selector("#status.error", timeout=TIMEOUT_MS)
        assert page.inner_text("#status").startswith(f"{photo.name}: ")
        page.close()


class _FittingReader(FixedReader):
    """FixedReader's plate, read under the US formats."""

    def read(self, image: np.ndarray) -> list[PlateResult]:
        return [dataclasses.replace(plate, fits="us") for plate in super().read(image)]


@pytest.mark.parametrize(("watched", "fitting"), [(False, False), (True, False), (True, True)])
def test_on_a_phone_the_table_fits_and_lists_formats_and_wanted_plates_only_when_the_server_gives_them(
        browser: sync_api.Browser, photo: Path, tmp_path: Path, watched: bool, fitting: bool) -> None:
    watch = tmp_path / "wanted.txt"
    watch.write_text(f"{FIXED_TEXT}\n")
    reader = _FittingReader() if fitting else FixedReader()
    with _serving(ServeSettings(watch=str(watch) if watched else None), reader) as url:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(url)
        _read(page, photo)
        assert page.is_visible("#wanted-header") == watched and page.is_visible("#fits-header") == fitting
        cells = page.locator("#plates tbody tr:first-child td")
        assert cells.count() == 4 + watched + fitting
        if fitting:
            assert cells.nth(4).inner_text() == "us" and cells.nth(5).get_attribute("class") == "plate"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the page does not scroll sideways
        heights = page.eval_on_selector_all("#plates th:not([hidden])", "cells => cells.map((c) => c.offsetHeight)")
        assert len(set(heights)) == 1, heights  # no header wraps
        # under 16px, iOS zooms in on a focused field
        assert page.eval_on_selector("#key-input", "input => getComputedStyle(input).fontSize") == "16px"
        page.close()


def test_a_portrait_photo_fits_the_window(browser: sync_api.Browser, tmp_path: Path) -> None:
    portrait = _jpeg(tmp_path, "portrait.jpg", (720, 1280))
    with _serving(ServeSettings(), FixedReader()) as url:
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(url)
        _read(page, portrait)
        page.wait_for_selector("#preview:not([hidden])", timeout=TIMEOUT_MS)
        width, height = page.eval_on_selector("#preview", "c => [c.clientWidth, c.clientHeight]")
        assert height <= 0.8 * 900 + 1 and abs(width / height - 720 / 1280) < 0.01, (width, height)
        page.close()


# Every way of copying fails, as on a plain-http page whose browser also refuses execCommand.
NO_CLIPBOARD = """
navigator.clipboard.writeText = () => Promise.reject(new Error("not allowed"));
document.execCommand = () => false;
"""


def test_a_failed_copy_is_not_reported_as_copied(browser: sync_api.Browser, photo: Path) -> None:
    with _serving(ServeSettings(), FixedReader()) as url:
        page = _opened(browser, url, NO_CLIPBOARD)
        _read(page, photo)
        page.click("#copy-json")
        page.wait_for_selector("#copy-status:has-text('Could not copy')", timeout=TIMEOUT_MS)
        assert page.evaluate("getSelection().toString()") == page.inner_text("#json")
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
        assert page.evaluate("document.documentElement.lang") == "en"
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
