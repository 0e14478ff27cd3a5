"""The HTTP API and the web page: `create_app` builds the FastAPI app, `run_server` serves it with uvicorn."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import ipaddress
import json
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.types import ASGIApp, Receive, Scope, Send

from platelab.api import Reader
from platelab.io.decode import ImageDecodeError
from platelab.io.results import ImageResult, to_json_line
from platelab.predict.thresholds import WATCH_CANDIDATES
from platelab.predict.watch import WatchList
from platelab.serve.auth import require_api_key
from platelab.serve.pool import PlateReading, PoolFull, ReadPool
from platelab.serve.schemas import BATCH_BODY, IMAGE_BODY, BatchOut, ImageOut, ModelsOut, Problem
from platelab.serve.settings import ENV_NAMES, ServeSettings
from platelab.serve.upload import BodyReceiver, Upload, UploadsFull, read_uploads
from platelab.weights import model_card

log = logging.getLogger("platelab.serve")
T = TypeVar("T")
RETRY_AFTER_S = 1  # a few reads or uploads finish in a second, making room, without leaving the worker idle for long
ReaderFactory = Callable[[], PlateReading]

STATIC_DIR = Path(__file__).parent / "static"
PAGE_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
# The page loads nothing from elsewhere; photos are shown from blob: URLs made in the browser.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# /docs and /redoc run Swagger UI and ReDoc from the copies in the fastapi-offline package (serve extra), served from
# here rather than from a CDN: ALPR boxes are often kept off the internet. The pages name those files and the schema
# by relative URLs, so they also load under a path prefix (a mounted app, or a proxy: UnderPrefix).
DOCS_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
}
DOCS_ASSETS_ROUTE = "/docs-assets"
NO_FAVICON = "data:,"  # the default is FastAPI's logo on fastapi.tiangolo.com; a browser asks for no icon at all
# What each docs page needs beyond PAGE_HEADERS' policy, measured in Chromium: Swagger UI's page starts it with one
# inline script, allowed by its hash; ReDoc injects <style> elements of its own making (styled-components) and runs
# its search in a worker made from a blob: URL. Neither needs eval or another host (ReDoc's "API docs by Redocly" logo
# is an image on cdn.redoc.ly: refused, and the link's text stays).
SWAGGER_POLICY = ("default-src 'self'; script-src 'self' {scripts}; img-src 'self' data:; object-src 'none'; "
                  "base-uri 'none'; frame-ancestors 'none'")
REDOC_POLICY = ("default-src 'self'; style-src 'self' 'unsafe-inline'; worker-src blob:; img-src 'self' data:; "
                "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "missing or wrong API key (only when the server has one)"},
    408: {"model": Problem, "description": "the upload did not arrive whole within the server's receive timeout"},
    413: {"model": Problem, "description": "upload over the size limit, or too many images"},
    503: {"model": Problem, "description": "too many images waiting to be read, or too many uploads arriving; "
          "retry after Retry-After seconds"},
    504: {"model": Problem, "description": "reading took longer than the server's timeout"},
}


def create_app(settings: ServeSettings | None = None, reader_factory: ReaderFactory | None = None) -> FastAPI:
    """The app; reader_factory (default: the bundled models) is called once, at startup."""
    settings = settings or ServeSettings()
    watch = WatchList.load(Path(settings.watch)) if settings.watch else None
    # a watch list is matched on candidates, listed in the response only when asked for
    candidates = settings.candidates if settings.candidates > 1 or watch is None else WATCH_CANDIDATES
    make_reader = reader_factory or partial(Reader, detector=settings.detector, recognizer=settings.model,
                                           threads=settings.reader_threads, prior=settings.prior,
                                           candidates=candidates)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = ReadPool(make_reader(), settings.concurrent_reads, settings.max_pixels,
                                  settings.max_queued)
        try:
            yield
        finally:
            app.state.pool.close()

    # docs_url and redoc_url None: FastAPI's own pages load from a CDN. Its /docs/oauth2-redirect goes with them, on
    # purpose: that page only serves OAuth2 logins, and the API's keys are plain headers.
    app = FastAPI(title="platelab", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Reads licence plates in photos. The web page is at /.")
    if settings.root_path:
        app.add_middleware(UnderPrefix, prefix=settings.root_path)
    app.include_router(_api_router(settings, watch))
    app.include_router(_page_router())
    app.include_router(_docs_router(app.title))
    app.add_api_route("/healthz", healthz, methods=["GET"])
    # HEAD too, for probes that send it; one operation per path and method in the schema, so HEAD stays out of it
    app.add_api_route("/healthz", healthz, methods=["HEAD"], include_in_schema=False)
    return app


class UnderPrefix:
    """The app served under a path prefix (settings.root_path) by a reverse proxy, whether the proxy strips the prefix
    from the paths it forwards or passes it on.

    The prefix becomes the request's ASGI root_path, from which FastAPI names it as the schema's server, so Swagger
    UI's "Try it out" sends its requests under it. A path that arrives without it gets it back, as ASGI has a path
    include its root_path (Starlette's routing takes it off again, and request URLs stay right). uvicorn's own
    --root-path prepends the prefix to every path, so a proxy that passes it on would get 404s.
    """

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            if path != self.prefix and not path.startswith(self.prefix + "/"):
                scope = {**scope, "path": self.prefix + path}
                if scope.get("raw_path") is not None:
                    scope["raw_path"] = self.prefix.encode("ascii") + scope["raw_path"]
            scope = {**scope, "root_path": self.prefix}
        await self.app(scope, receive, send)


def create_app_from_env() -> FastAPI:
    """For uvicorn's worker processes: settings come from the environment (see settings.ENV_NAMES)."""
    return create_app(ServeSettings.from_env())


def _api_router(settings: ServeSettings, watch: WatchList | None) -> APIRouter:
    guard = [Depends(require_api_key(settings.api_key))] if settings.api_key else []
    router = APIRouter(prefix="/v1", dependencies=guard, responses=ERRORS)
    cards = json.dumps({"models": _model_cards(settings.model_paths)})
    receiver = BodyReceiver(settings.max_upload_bytes, settings.max_receiving_bytes, settings.receive_timeout_s)

    def shown(result: ImageResult) -> str:
        marked = result if watch is None else watch.marked_result(result)
        return to_json_line(marked if settings.candidates > 1 else marked.without_candidates())

    @router.post("/read", response_model=ImageOut, openapi_extra=IMAGE_BODY, responses={
        415: {"model": ImageOut, "description": "not an image"},
        422: {"model": ImageOut, "description": "empty, corrupt, truncated, too small or too large image"}})
    async def read(request: Request) -> Response:
        """One photo, as the multipart field `image` or a raw body with Content-Type image/*."""
        upload = _single_image(await _received(request, receiver, settings.max_batch_images))
        try:
            result = await _within(settings.timeout_s, request.app.state.pool.read(upload))
        except ImageDecodeError as exc:
            return _json(to_json_line(ImageResult(upload.filename, error=str(exc))), _decode_status(exc))
        return _json(shown(result))

    @router.post("/read/batch", response_model=BatchOut, openapi_extra=BATCH_BODY)
    async def read_batch(request: Request) -> Response:
        """Several photos as multipart fields `images`; a bad one gets an error entry, the rest are read."""
        uploads = await _received(request, receiver, settings.max_batch_images)
        images = _batch_images(uploads, settings.max_batch_images)
        results = await _within(settings.timeout_s, request.app.state.pool.read_each(images))
        return _json('{"results":[' + ",".join(shown(result) for result in results) + "]}")

    @router.get("/models", response_model=ModelsOut)
    async def models() -> Response:
        """The model cards of the models served (the bundled ones unless --model or --detector names others):
        training data, steps, validation figures, config."""
        return _json(cards)

    return router


def _page_router() -> APIRouter:
    """The web page: a few fixed files read once, so no request names a path on the server."""
    router = APIRouter(include_in_schema=False)
    for route, (file, media_type) in PAGE_FILES.items():
        content = (STATIC_DIR / file).read_bytes()
        router.add_api_route(route, _page_file(content, media_type), methods=["GET", "HEAD"])
    return router


def _docs_router(title: str) -> APIRouter:
    """/docs (Swagger UI) and /redoc with the files they run, read once; without fastapi-offline, both say in one
    line what to install."""
    router = APIRouter(include_in_schema=False)
    try:
        static = resources.files("fastapi_offline") / "static"
    except ModuleNotFoundError:
        from platelab.utils.extras import install_hint  # the hint a command whose extra is missing gives

        install_note = f"Swagger UI and ReDoc are not installed here (fastapi-offline): {install_hint('serve')}\n"
        for route in ("/docs", "/redoc"):
            router.add_api_route(route, _page_file(install_note.encode(), "text/plain; charset=utf-8", PAGE_HEADERS,
                                                   501), methods=["GET", "HEAD"])
        return router
    for name, media_type in DOCS_ASSETS.items():
        router.add_api_route(f"{DOCS_ASSETS_ROUTE}/{name}", _page_file((static / name).read_bytes(), media_type),
                             methods=["GET", "HEAD"])
    assets = DOCS_ASSETS_ROUTE.lstrip("/")
    swagger = get_swagger_ui_html(openapi_url="openapi.json", title=f"{title} - Swagger UI",
                                  swagger_js_url=f"{assets}/swagger-ui-bundle.js",
                                  swagger_css_url=f"{assets}/swagger-ui.css", swagger_favicon_url=NO_FAVICON)
    redoc = get_redoc_html(openapi_url="openapi.json", title=f"{title} - ReDoc",
                           redoc_js_url=f"{assets}/redoc.standalone.js", redoc_favicon_url=NO_FAVICON,
                           with_google_fonts=False)
    swagger_page, redoc_page = _in_english(bytes(swagger.body)), _in_english(bytes(redoc.body))
    swagger_policy = SWAGGER_POLICY.format(scripts=_inline_script_hashes(swagger_page))
    for route, page, policy in (("/docs", swagger_page, swagger_policy), ("/redoc", redoc_page, REDOC_POLICY)):
        router.add_api_route(route, _page_file(page, "text/html; charset=utf-8",
                                               {**PAGE_HEADERS, "Content-Security-Policy": policy}),
                             methods=["GET", "HEAD"])
    return router


def _in_english(page: bytes) -> bytes:
    """The page with its language named, for screen readers' voices (FastAPI's pages start with a bare <html>)."""
    return page.replace(b"<html>", b'<html lang="en">', 1)


def _inline_script_hashes(page: bytes) -> str:
    """CSP sources that allow each inline script of the page, and no other."""
    scripts = re.findall(rb"<script>(.*?)</script>", page, re.DOTALL)
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'" for script in scripts)


async def healthz() -> dict[str, str]:
    """Open even when the server has an API key: for load balancers and container health checks."""
    return {"status": "ok"}


def _page_file(content: bytes, media_type: str, headers: dict[str, str] = PAGE_HEADERS,
               status: int = 200) -> Callable[[], Awaitable[Response]]:
    async def serve() -> Response:
        return Response(content, status_code=status, media_type=media_type, headers=headers)

    return serve


def _model_cards(models: Sequence[Path]) -> list[dict[str, Any]]:
    """Each model served with the card beside it (`<model>.card.json`); None where it has none or it is unreadable."""
    cards = []
    for model in models:
        try:
            card = model_card(model)
        except (OSError, ValueError) as exc:
            log.warning("the model card of %s cannot be read: %s", model, exc)
            card = None
        cards.append({"name": model.stem, "card": card})
    return cards


def _single_image(uploads: Sequence[Upload]) -> Upload:
    images = [upload for upload in uploads if upload.field == "image"]
    if not images:
        raise HTTPException(422, "no image: send the multipart field 'image' or a raw image/* body")
    if len(images) > 1:
        raise HTTPException(422, "one image per request here; send several to /v1/read/batch as 'images'")
    return images[0]


def _batch_images(uploads: Sequence[Upload], limit: int) -> list[Upload]:
    images = [upload for upload in uploads if upload.field == "images"]
    if not images:
        raise HTTPException(422, "no images: send one or more multipart fields 'images'")
    if len(images) > limit:
        raise HTTPException(413, f"too many images ({len(images)}, limit {limit})")
    return images


async def _received(request: Request, receiver: BodyReceiver, max_images: int) -> list[Upload]:
    try:
        return await read_uploads(request, receiver, max_images)
    except UploadsFull as exc:
        raise _busy(exc) from None


async def _within(seconds: float, work: Awaitable[T]) -> T:
    try:
        return await asyncio.wait_for(work, seconds)
    except asyncio.TimeoutError:
        raise HTTPException(504, f"reading took longer than the limit of {seconds:g} s") from None
    except PoolFull as exc:
        raise _busy(exc) from None


def _busy(reason: PoolFull | UploadsFull) -> HTTPException:
    return HTTPException(503, f"busy: {reason}", headers={"Retry-After": str(RETRY_AFTER_S)})


def _decode_status(error: ImageDecodeError) -> int:
    return 415 if error.reason.startswith("not an image") else 422


def _json(body: str, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json")


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_server(host: str, port: int, workers: int, api_key: str | None, max_upload_mb: float | None = None,
               timeout_s: float | None = None, prior: str | None = None, candidates: int | None = None,
               watch: Path | None = None, model: Path | None = None, detector: Path | None = None,
               root_path: str | None = None) -> None:
    """Serve until interrupted. A setting given as None falls back to its environment variable (settings.ENV_NAMES),
    then its default; uvicorn trusts X-Forwarded-* only from the addresses in $FORWARDED_ALLOW_IPS (default:
    loopback)."""
    import uvicorn

    base = ServeSettings.from_env(workers=workers)
    settings = dataclasses.replace(base, api_key=api_key or base.api_key,
                                   max_upload_mb=max_upload_mb or base.max_upload_mb,
                                   timeout_s=timeout_s or base.timeout_s, prior=prior or base.prior,
                                   candidates=candidates or base.candidates,
                                   watch=str(watch.resolve()) if watch else base.watch,
                                   model=str(model.resolve()) if model else base.model,
                                   detector=str(detector.resolve()) if detector else base.detector,
                                   # "/" is a setting (no prefix), given to override the environment's
                                   root_path=base.root_path if root_path is None else root_path)
    if settings.api_key is None and not _is_loopback(host):
        log.warning("serving on %s without an API key: anyone who can reach it can use it", host)
    # worker processes rebuild the settings from here, so a setting now unset must not be left there either
    for variable in ENV_NAMES.values():
        os.environ.pop(variable, None)
    os.environ.update(settings.to_env())
    # no root_path for uvicorn: the app takes its prefix from the settings (UnderPrefix), and uvicorn's would add it
    # to paths that have it already
    uvicorn.run(f"{__name__}:create_app_from_env", factory=True, host=host, port=port, workers=workers,
                proxy_headers=True, server_header=False)
