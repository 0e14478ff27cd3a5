"""What clients that upload slowly, or stop half way, do to one `platelab serve` worker (the stand-in reader).

    python benchmarks/serve_upload_pressure.py stalled --clients 100   # each sends all but its last byte, then waits
    python benchmarks/serve_upload_pressure.py complete --clients 100  # each sends its whole body at once
    python benchmarks/serve_upload_pressure.py trickle --clients 200   # each sends its body a byte a second
    python benchmarks/serve_upload_pressure.py headers --clients 200   # each sends its headers a byte a second

Every client posts a multipart body of --mb megabytes (zeros: no image) to /v1/read over loopback. Prints the
worker's resident memory (now and peak) and open descriptors while they hold on, how a normal request fares
meanwhile, and how the server has answered them after --hold seconds. The server's settings come from the
PLATELAB_ environment variables, e.g. PLATELAB_RECEIVE_TIMEOUT=5; --server-nofile lowers its descriptor limit
(1024 is a common default) to see what many connections do.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
from PIL import Image
from serve_load import HOST, free_port, wait_until_up

BOUNDARY = b"pressure"
PART_HEAD = b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n'
PART_TAIL = b"\r\n--" + BOUNDARY + b"--\r\n"


def serve(port: int, nofile: int | None) -> None:
    """The child process: serve until terminated."""
    if nofile:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    import uvicorn

    from platelab.serve import ServeSettings, create_app
    from platelab.serve.testing import FixedReader

    uvicorn.run(create_app(ServeSettings.from_env(), FixedReader), host=HOST, port=port, log_level="critical")


def worker_state(pid: int) -> str:
    memory = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            memory[name] = int(value.split()[0]) // 1024
    return f"RSS {memory['VmRSS']} MB (peak {memory['VmHWM']} MB), {len(os.listdir(f'/proc/{pid}/fd'))} descriptors"


async def normal_request(url: str) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (160, 120), (40, 90, 160)).save(buffer, "JPEG")
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(f"{url}/v1/read", files={"image": ("a.jpg", buffer.getvalue())})
        return f"{response.status_code} in {time.perf_counter() - started:.2f} s"
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__} after {time.perf_counter() - started:.2f} s"


async def client(port: int, mode: str, size: int) -> str:
    """The first line of the server's answer, "closed" when it closed without one, or what went wrong."""
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
    except OSError as exc:
        return f"connect: {exc.strerror}"
    request = b"POST /v1/read HTTP/1.1\r\nHost: pressure\r\n"
    if mode != "headers":
        length = len(PART_HEAD) + size + len(PART_TAIL)
        request += (b"Content-Type: multipart/form-data; boundary=" + BOUNDARY
                    + f"\r\nContent-Length: {length}\r\n\r\n".encode() + PART_HEAD)
    writer.write(request)
    try:
        if mode in ("stalled", "complete"):
            writer.write(b"\0" * size + (PART_TAIL if mode == "complete" else b""))
            await writer.drain()
            answer = await reader.read(200)
        else:
            await writer.drain()
            answered = asyncio.ensure_future(reader.read(200))
            while not answered.done():
                writer.write(b"a" if mode == "headers" else b"\0")  # a header name's letters, or the body's bytes
                await writer.drain()
                await asyncio.wait([answered], timeout=1.0)
            answer = answered.result()
    except OSError as exc:
        return type(exc).__name__
    finally:
        writer.close()
    return answer.split(b"\r\n", 1)[0].decode(errors="replace") or "closed"


async def pressure(args: argparse.Namespace, port: int, pid: int) -> None:
    url = f"http://{HOST}:{port}"
    print(f"before: {worker_state(pid)}")
    clients = [asyncio.ensure_future(client(port, args.mode, int(args.mb * 1024 * 1024))) for _ in range(args.clients)]
    started = time.monotonic()
    await asyncio.sleep(args.settle)
    answered = sum(task.done() for task in clients)
    print(f"{args.settle:g} s after {args.clients} {args.mode} clients: {worker_state(pid)}; {answered} answered")
    print(f"a normal request meanwhile: {await normal_request(url)}")
    await asyncio.sleep(max(0.0, args.hold - (time.monotonic() - started)))
    answers = Counter(task.result() for task in clients if task.done())
    print(f"after {args.hold:g} s: {worker_state(pid)}; answers: {dict(answers) or 'none'}")
    for task in clients:
        task.cancel()
    await asyncio.gather(*clients, return_exceptions=True)
    await asyncio.sleep(1.0)
    print(f"clients gone: {worker_state(pid)}; a normal request: {await normal_request(url)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["stalled", "complete", "trickle", "headers"])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--mb", type=float, default=19.0, help="each body's size (the default limit is 20)")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds before the first measurement")
    parser.add_argument("--hold", type=float, default=75.0, help="seconds the clients hold on (the deadline is 60)")
    parser.add_argument("--server-nofile", type=int, help="the server's limit on open descriptors")
    parser.add_argument("--serve-port", type=int, help=argparse.SUPPRESS)  # set in the child process
    args = parser.parse_args()
    if args.serve_port:
        serve(args.serve_port, args.server_nofile)
        return
    port = free_port()
    command = [sys.executable, __file__, args.mode, "--serve-port", str(port)]
    server = subprocess.Popen(command + (["--server-nofile", str(args.server_nofile)] if args.server_nofile else []))
    try:
        wait_until_up(f"http://{HOST}:{port}", server)
        asyncio.run(pressure(args, port, server.pid))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
