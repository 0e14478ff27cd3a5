"""Load test of `platelab serve`: many requests at a fixed concurrency over loopback, with a synthetic photo.

    python benchmarks/serve_load.py [--fake] [--requests 500] [--concurrency 8] [--workers 1]

The server runs in a child process, so that client and server do not share one interpreter. --fake serves a
stand-in reader (no models: it measures HTTP, upload and JPEG decoding); otherwise the bundled models.
Prints throughput, p50 and p99 latency and the number of failed requests.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

HOST = "127.0.0.1"
WARM_UP = 8  # first requests load caches and spin up threads; not counted


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def serve(port: int, fake: bool, workers: int) -> None:
    """The child process: serve until terminated."""
    if not fake:
        from platelab.serve import run_server

        run_server(HOST, port, workers, api_key=None, max_upload_mb=20.0, timeout_s=30.0)
        return
    import uvicorn

    from platelab.serve import ServeSettings, create_app
    from platelab.serve.testing import FixedReader

    app = create_app(ServeSettings(timeout_s=30.0), FixedReader)
    uvicorn.run(app, host=HOST, port=port, log_level="warning")


def wait_until_up(url: str, server: subprocess.Popen, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server exited with status {server.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    sys.exit("the server did not come up")


async def load(url: str, photo: bytes, requests: int, concurrency: int) -> tuple[list[float], int, float]:
    """(latencies in seconds of successful requests, failures, wall time) for requests sent by concurrency
    clients, each sending its next request as soon as the last one is answered."""
    latencies: list[float] = []
    failures = 0
    remaining = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as client:

        async def one() -> bool:
            files = {"image": ("scene.jpg", photo, "image/jpeg")}
            try:
                return (await client.post("/v1/read", files=files)).status_code == 200
            except httpx.HTTPError:
                return False

        await asyncio.gather(*(one() for _ in range(WARM_UP)))

        async def worker() -> None:
            nonlocal failures
            for _ in remaining:
                start = time.perf_counter()
                if await one():
                    latencies.append(time.perf_counter() - start)
                else:
                    failures += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, failures, time.perf_counter() - start


def demo_photo() -> bytes:
    from platelab.synth.demo import write_demo

    with tempfile.TemporaryDirectory() as folder:
        return write_demo(Path(folder)).read_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fake", action="store_true", help="serve the stand-in reader instead of the models")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (models only)")
    parser.add_argument("--serve-port", type=int, help=argparse.SUPPRESS)  # set in the child process
    args = parser.parse_args()
    if args.serve_port:
        serve(args.serve_port, args.fake, args.workers)
        return

    photo = demo_photo()
    port = free_port()
    command = [sys.executable, __file__, "--serve-port", str(port), "--workers", str(args.workers)]
    server = subprocess.Popen(command + (["--fake"] if args.fake else []))
    url = f"http://{HOST}:{port}"
    try:
        wait_until_up(url, server)
        latencies, failures, seconds = asyncio.run(load(url, photo, args.requests, args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=30)
    ms = np.percentile(np.array(latencies) * 1000, [50, 99]) if latencies else (float("nan"),) * 2
    reader = "stand-in reader" if args.fake else f"bundled models, {args.workers} worker(s)"
    print(f"{args.requests} requests, concurrency {args.concurrency}, {reader}, "
          f"photo {len(photo) // 1024} kB")
    print(f"throughput {len(latencies) / seconds:.1f} req/s | p50 {ms[0]:.1f} ms | p99 {ms[1]:.1f} ms | "
          f"errors {failures}")


if __name__ == "__main__":
    main()
