"""`platelab serve`: the HTTP API and its web page (the serve extra), its settings checked before a worker starts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from platelab.cli.common import PRIOR_HELP, fail, require_extra, usage_errors


def serve(
    host: Annotated[str, typer.Option(help="address to bind; keep loopback behind a reverse proxy")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="server processes")] = 1,
    api_key: Annotated[str | None, typer.Option(
        envvar="PLATELAB_API_KEY", help="key every /v1 request must carry (X-API-Key: KEY or Authorization: Bearer KEY)"
    )] = None,
    max_upload_mb: Annotated[float | None, typer.Option(
        min=0.01, envvar="PLATELAB_MAX_UPLOAD_MB", help="largest accepted request body \\[default: 20]")] = None,
    timeout: Annotated[float | None, typer.Option(
        min=0.1, envvar="PLATELAB_TIMEOUT", help="seconds a reading may take once the upload is in \\[default: 10]"
    )] = None,
    prior: Annotated[str | None, typer.Option(envvar="PLATELAB_PRIOR", help=PRIOR_HELP)] = None,
    candidates: Annotated[
        int | None,
        typer.Option(min=1, envvar="PLATELAB_CANDIDATES",
                     help="list up to N of each plate's most likely texts \\[default: 1]"),
    ] = None,
    watch: Annotated[
        Path | None, typer.Option(envvar="PLATELAB_WATCH", help="file of wanted plates: plates that may be one say so")
    ] = None,
    model: Annotated[Path | None, typer.Option(
        envvar="PLATELAB_MODEL", help="recognizer ONNX, e.g. a fine-tuned one (the bundled one by default)")] = None,
    detector: Annotated[Path | None, typer.Option(
        envvar="PLATELAB_DETECTOR", help="detector ONNX (the bundled one by default)")] = None,
    root_path: Annotated[str | None, typer.Option(
        envvar="PLATELAB_ROOT_PATH", help="path prefix a reverse proxy serves this under, e.g. /platelab (for "
        "/docs' Try it out)")] = None,
) -> None:
    """HTTP API (POST /v1/read, /v1/read/batch, GET /v1/models, /healthz) and a web page at / (serve extra)."""
    require_extra("serve")
    from platelab.api import Reader
    from platelab.serve.app import run_server
    from platelab.serve.settings import ServeSettings, checked_api_key, checked_root_path

    try:
        ServeSettings.from_env(workers=workers)
    except (TypeError, ValueError) as exc:
        fail(str(exc))  # it names the variable, or says it is one
    try:  # here, not as a traceback from run_server
        if api_key:
            checked_api_key(api_key)
    except ValueError as exc:
        fail(f"--api-key: {exc}")
    for option, limit in (("--max-upload-mb", max_upload_mb), ("--timeout", timeout)):
        if limit is not None and not math.isfinite(limit):  # typer takes "inf" as a number over any minimum
            fail(f"{option}: {limit} is not a finite number")
    try:
        if root_path is not None:
            checked_root_path(root_path)
    except ValueError as exc:
        fail(f"--root-path: {exc}")
    with usage_errors():
        # an unknown prior, a model that cannot be loaded or a broken watch list stops here, not in every worker
        Reader(detector=detector, recognizer=model, prior=prior)
        if watch is not None:
            from platelab.predict.watch import WatchList

            WatchList.load(watch)
    run_server(host, port, workers, api_key, max_upload_mb, timeout, prior, candidates, watch, model, detector,
               root_path)
