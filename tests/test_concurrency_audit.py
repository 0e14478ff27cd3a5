"""What a long-running service meets: the server's queue under a burst, and votes over days of frames."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import cv2
import numpy as np
import pytest

from platelab.io.results import CharResult, PlateResult
from platelab.predict.track import PlateTracker
from platelab.predict.vote import MAX_TEXTS, Tally

# --- a plate that never leaves the camera's view -------------------------------------------------------------


def _plate(text: str, confidence: float, x: int = 100) -> PlateResult:
    return PlateResult(text=text, confidence=confidence, chars=tuple(CharResult(c, confidence) for c in text),
                       box=(x, 50, 120, 40), quad=((x, 50.0), (x + 120.0, 50.0), (x + 120.0, 90.0), (x, 90.0)))


def test_a_tally_of_endless_misreadings_keeps_few_texts_and_the_plates_own() -> None:
    tally = Tally()
    for k in range(20 * MAX_TEXTS):
        tally.add(_plate("ABC1234", 0.8))
        tally.add(_plate(f"ABD{k:04d}", 0.9))  # every misreading a new text, each read more surely than the plate
    assert len(tally.totals) == len(tally.surest) == MAX_TEXTS
    _, reading, confidence = tally.winner()
    assert reading.text == "ABC1234"
    assert confidence == pytest.approx(0.4)  # its share of every reading, the forgotten ones included


def test_a_full_tally_still_gives_a_tie_to_the_text_read_first() -> None:
    tally = Tally()
    for k in range(MAX_TEXTS + 10):
        tally.add(_plate(f"T{k:04d}", 0.5))
    assert tally.winner()[1].text == "T0000"


def test_a_parked_plates_track_stays_small_over_a_long_stream() -> None:
    tracker = PlateTracker(keep_closed=False)
    rng = np.random.default_rng(0)
    for frame in range(5000):
        text = "ABC1234" if rng.random() < 0.8 else f"A{rng.integers(10**6):06d}"
        tracker.add(frame, frame / 25, [_plate(text, 0.9)])
        assert tracker.passed() == []
    [track] = tracker._open
    assert len(track.tally.totals) <= MAX_TEXTS
    assert [p.text for p in tracker.plates()] == ["ABC1234"]


# --- the server's queue ----------------------------------------------------------------------------------------

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
import httpx  # noqa: E402

from platelab.serve import ServeSettings, create_app  # noqa: E402
from platelab.serve.pool import ReadPool  # noqa: E402
from platelab.serve.testing import FixedReader  # noqa: E402
from platelab.serve.upload import Upload  # noqa: E402

JPEG = cv2.imencode(".jpg", np.full((120, 160, 3), 90, np.uint8))[1].tobytes()


class _GatedReader:
    """Reads only once the gate is open, so a test decides when the pool frees up."""

    def __init__(self) -> None:
        self.gate = threading.Event()

    def read(self, image: np.ndarray) -> list[PlateResult]:
        self.gate.wait(10)
        return FixedReader().read(image)


async def _until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.01)


def test_a_burst_past_the_queue_gets_503_at_once_and_the_rest_are_read() -> None:
    reader = _GatedReader()
    app = create_app(ServeSettings(concurrent_reads=1, max_queued=2), lambda: reader)

    async def run() -> tuple[list[httpx.Response], httpx.Response, int]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                def send() -> asyncio.Task[httpx.Response]:
                    return asyncio.create_task(
                        client.post("/v1/read", content=JPEG, headers={"content-type": "image/jpeg"}))

                burst = [send() for _ in range(5)]
                # one read and two waiting fill the pool; the other two are refused while the gate is still shut
                await _until(lambda: sum(task.done() for task in burst) == 2)
                batch = await client.post("/v1/read/batch", files=[("images", ("a.jpg", JPEG))])
                reader.gate.set()
                responses = [*await asyncio.gather(*burst), batch]
                await _until(lambda: app.state.pool.pending == 0)
                after = await client.post("/v1/read", content=JPEG, headers={"content-type": "image/jpeg"})
                return responses, after, app.state.pool.pending

    responses, after, pending = asyncio.run(run())
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 503, 503, 503]
    refused = [r for r in responses if r.status_code == 503]
    assert all(r.headers["retry-after"] == "1" and r.json()["detail"].startswith("busy:") for r in refused)
    assert after.status_code == 200 and pending == 0


def test_reads_that_time_out_give_their_place_in_the_queue_back() -> None:
    reader = _GatedReader()
    upload = Upload("image", "a.jpg", JPEG)

    async def run() -> tuple[int, int, int]:
        pool = ReadPool(reader, workers=1, max_pixels=10**7, max_queued=1)
        try:
            for _ in range(2):  # one running, one queued: both time out, the queued one is cancelled
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(pool.read(upload), 0.05)
            while_running = pool.pending
            reader.gate.set()
            await _until(lambda: pool.pending == 0)
            # a batch larger than the whole pool is taken when the pool is idle
            results = await pool.read_each([upload] * 3)
            return while_running, pool.pending, len(results)
        finally:
            pool.close()

    assert asyncio.run(run()) == (1, 0, 3)


def test_closing_the_pool_cancels_the_reads_still_waiting() -> None:
    """At shutdown only the read under way finishes: the queued ones are dropped rather than read for nobody."""
    reader = _GatedReader()
    upload = Upload("image", "a.jpg", JPEG)

    async def run() -> tuple[int, int]:
        pool = ReadPool(reader, workers=1, max_pixels=10**7, max_queued=4)
        batch = asyncio.ensure_future(pool.read_each([upload] * 3))
        await _until(lambda: pool.pending == 3)
        pool.close()
        after_close = pool.pending
        reader.gate.set()
        await _until(lambda: pool.pending == 0)
        batch.cancel()
        return after_close, pool.pending

    assert asyncio.run(run()) == (1, 0)


# --- videos opened from several threads --------------------------------------------------------------------------


def test_videos_opened_by_overlapping_threads_leave_opencvs_log_level_as_it_was() -> None:
    from platelab.io.video import _quiet_opencv

    before = cv2.utils.logging.getLogLevel()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with _quiet_opencv():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with _quiet_opencv():
            second_in.set()
            first_out.wait(5)  # leaves last, having entered while the first had OpenCV silenced

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert cv2.utils.logging.getLogLevel() == before != cv2.utils.logging.LOG_LEVEL_SILENT
