"""The web service: ``handocr serve`` (FastAPI on uvicorn; extra ``handocr[serve]``).

Endpoints:

- ``POST /v1/read``: multipart ``file`` (an image or a PDF), optional form fields ``charset``
  (as ``--charset``), ``kind`` (as ``--kind``: ``all``, ``handwritten`` or ``printed``),
  ``lexicon`` (a shipped lexicon, as ``--lexicon``: ``names``, ``words-en``, ``words-de``; a
  file path is refused, 422: a client must not name the server's files),
  ``format`` (``json``, ``text``, ``hocr``, ``tsv``, ``alto``, ``page``, ``pdf``) and ``dpi``
  (PDF rendering); returns the reading in that format.
- ``GET /v1/models``: the loaded members (name, tag, sha256) and the reading options.
- ``GET /healthz``: ``{"status": "ok"}``.
- ``GET /``: a page to drop or pick a scan and see the overlay (boxes coloured by confidence,
  each word outlined in its kind's colour, each character's alternatives on hover; a filter by
  kind) and the text, and a canvas to write characters with
  the mouse and see the ensemble's votes.
- ``/docs``, ``/openapi.json``: the OpenAPI description (FastAPI's).

With an API key (:attr:`ServiceConfig.api_key`, ``$HANDOCR_API_KEY``), every request but
``/healthz``, the page ``/`` and the OpenAPI description must carry ``Authorization: Bearer
<key>``: one without it, or with another key, is answered 401 (``WWW-Authenticate: Bearer``)
before its body is read; keys are compared in constant time (:func:`hmac.compare_digest`), and
the OpenAPI description declares the bearer scheme. Without a key the service is open (``handocr
serve`` allows that only on a loopback address, or with ``--no-auth``).

The :class:`~handocr.Recognizer` loads once at start-up. Readings run in worker threads, at most
``concurrency`` at a time (a semaphore that each reading thread holds until it ends: ONNX
Runtime and OpenCV release the GIL); a request not answered within ``timeout`` seconds
(waiting for a slot included) gets 503 and its reading stops at its next page. Uploads must
state their ``Content-Length`` (411 otherwise); over ``max_upload_mb`` they are refused 413
before the body is read. Every error is JSON ``{"code", "message"}``
with ``code`` the :class:`handocr.errors.ExitCode` name and the HTTP status of
:data:`HTTP_STATUS`; the pixel limit (``$HANDOCR_MAX_PIXELS``) is checked before any image is
decoded or any PDF page rendered at the requested dpi.
"""

# no `from __future__ import annotations`: FastAPI reads the route annotations at runtime

import contextlib
import hmac
import os
import threading
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from handocr.errors import (
    ExitCode,
    HandocrError,
    ImageTooLargeError,
    OptionError,
    UnreadableImageError,
)

__all__ = ["HTTP_STATUS", "ServiceConfig", "create_app"]

HTTP_STATUS = {
    ExitCode.USAGE: 422,
    ExitCode.BAD_INPUT: 400,
    ExitCode.BAD_WEIGHTS: 500,
    ExitCode.FAILURE: 500,
    ExitCode.MISSING_EXTRA: 500,
}
"""HTTP status of each exit code (docs/errors.md); a file that is not an image or PDF is 415,
an upload or image over the limits 413."""


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Limits of the service.

    Attributes
    ----------
    max_upload_mb : float
        Largest upload, megabytes (10**6 bytes).
    timeout : float
        Seconds a reading may take before the request is answered 503.
    concurrency : int
        Readings run at the same time (others wait for a slot).
    api_key : str or None
        The key every request but ``/healthz``, ``/`` and the OpenAPI description must send as
        ``Authorization: Bearer <key>``; None: the service is open. Printable ASCII without
        spaces (what a header carries). Left out of ``repr``.

    Raises
    ------
    OptionError
        An API key that is empty or not printable ASCII without spaces.
    """

    max_upload_mb: float = 20.0
    timeout: float = 60.0
    concurrency: int = 2
    api_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        key = self.api_key
        if key is not None and (not key or not all("!" <= c <= "~" for c in key)):
            raise OptionError(
                "the API key must be printable ASCII without spaces (it travels in a header), "
                "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )

    @classmethod
    def from_env(cls) -> "ServiceConfig":
        """Read the ``HANDOCR_*`` settings; unset ones keep their defaults.

        ``HANDOCR_MAX_UPLOAD_MB``, ``HANDOCR_TIMEOUT``, ``HANDOCR_CONCURRENCY``, and
        ``HANDOCR_API_KEY`` (unset or empty: no key, the service is open).

        Raises
        ------
        OptionError
            A limit that is not a positive number, or a bad API key.
        """
        default = cls()
        try:
            limits = (
                float(os.environ.get("HANDOCR_MAX_UPLOAD_MB", default.max_upload_mb)),
                float(os.environ.get("HANDOCR_TIMEOUT", default.timeout)),
                int(os.environ.get("HANDOCR_CONCURRENCY", default.concurrency)),
            )
        except ValueError as err:
            raise OptionError(f"bad service setting: {err}") from err
        cfg = cls(*limits, api_key=os.environ.get("HANDOCR_API_KEY") or None)
        if cfg.max_upload_mb <= 0 or cfg.timeout <= 0 or cfg.concurrency < 1:
            raise OptionError("service limits must be positive")
        return cfg


def _status(err: HandocrError) -> int:
    if isinstance(err, ImageTooLargeError):
        return 413
    if isinstance(err, UnreadableImageError):
        return 415
    return HTTP_STATUS.get(err.exit_code, 500)


def create_app(config: ServiceConfig | None = None, recognizer: Any = None) -> Any:
    """Build the FastAPI application (uvicorn's factory: ``handocr.service:create_app``).

    Parameters
    ----------
    config : ServiceConfig, optional
        Default :meth:`ServiceConfig.from_env`.
    recognizer : Recognizer, optional
        Default a :class:`handocr.Recognizer` with default options, loaded at start-up.

    Raises
    ------
    MissingExtraError
        FastAPI is not installed (``pip install "handocr[serve]"``).
    """
    from handocr.errors import MissingExtraError, require_extra

    require_extra("handocr serve", ("fastapi", "multipart", "uvicorn"), extra="serve")
    try:
        from fastapi import FastAPI
    except ImportError as err:  # pragma: no cover - require_extra found them
        raise MissingExtraError(
            'handocr serve needs FastAPI: pip install "handocr[serve]"'
        ) from err

    from handocr.api import Recognizer
    from handocr.version import __version__

    cfg = config or ServiceConfig.from_env()
    rec = recognizer or Recognizer()

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:  # the models load once, before the first request
        _ = rec.ensemble
        _ = rec.verifier
        yield

    app = FastAPI(
        title="handocr",
        version=__version__,
        description="Reads handprinted text from scanned pages (docs/cli.md, docs/errors.md).",
        lifespan=lifespan,
    )
    guarded = _add_admission(app, cfg)
    _add_info_routes(app, rec, guarded)
    _add_read_route(app, rec, cfg, guarded)
    return app


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Any:
    """Return the JSON error answer ``{"code", "message"}``."""
    from fastapi.responses import JSONResponse

    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def _too_large(cfg: ServiceConfig) -> Any:
    return _error(413, "TOO_LARGE", f"uploads are limited to {cfg.max_upload_mb:g} MB")


def _refusal(request: Any, key: bytes | None, open_paths: set[str | None]) -> Any:
    """Return the 401 answer to a request without the key, or None when it may pass."""
    from fastapi.security.utils import get_authorization_scheme_param

    path, root = request.scope["path"], request.scope.get("root_path", "")
    if key is None or path.removeprefix(root) in open_paths:
        return None
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() != "bearer" or not token:
        return _error(
            401,
            "UNAUTHORIZED",
            "this service needs an API key: send the header Authorization: Bearer <key>",
            {"WWW-Authenticate": "Bearer"},
        )
    # bytes, not str: compare_digest refuses non-ASCII str (a header is read as latin-1)
    if not hmac.compare_digest(token.encode("utf-8"), key):
        return _error(
            401,
            "UNAUTHORIZED",
            "the API key is wrong",
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return None


def _add_admission(app: Any, cfg: ServiceConfig) -> list[Any]:
    """Add the middleware for the API key and the upload limits, and the error handler.

    Returns the dependencies of the guarded routes (the bearer scheme, for the OpenAPI
    description only).
    """
    from fastapi import Request, Security
    from fastapi.security import HTTPBearer

    # The API key: checked here, before any body is read, on every path but the open ones (a
    # route added later is guarded too). The routes' Security(bearer) only declares the scheme
    # in the OpenAPI description (auto_error=False: it refuses nothing itself).
    key = cfg.api_key.encode("ascii") if cfg.api_key else None
    bearer = HTTPBearer(
        auto_error=False,
        description="the service's API key (handocr serve --api-key-file or $HANDOCR_API_KEY)",
    )
    open_paths = {"/", "/healthz", app.openapi_url, app.docs_url, app.redoc_url}
    open_paths.add(app.swagger_ui_oauth2_redirect_url)
    limit_bytes = int(cfg.max_upload_mb * 1_000_000)

    @app.middleware("http")
    async def admit(request: Request, call_next: Any) -> Any:
        # the key first: 401 before 411 or 413
        if (refused := _refusal(request, key, open_paths)) is not None:
            return refused
        length = request.headers.get("content-length")
        if request.method == "POST" and length is None:  # a body must say its size up front
            return _error(411, "LENGTH_REQUIRED", "uploads need a Content-Length header")
        if length is not None and length.isdigit() and int(length) > limit_bytes:
            return _too_large(cfg)
        return await call_next(request)

    @app.exception_handler(HandocrError)
    async def handocr_error(request: Request, err: HandocrError) -> Any:
        return _error(_status(err), err.exit_code.name, str(err))

    return [Security(bearer)] if key else []


def _add_info_routes(app: Any, rec: Any, guarded: list[Any]) -> None:
    """Add ``/healthz``, ``/v1/models`` and the page ``/``."""
    from fastapi.responses import HTMLResponse

    from handocr.formats import FORMATS
    from handocr.version import __version__

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """Liveness: the service answers."""
        return {"status": "ok", "version": __version__}

    @app.get("/v1/models", dependencies=guarded)
    def models() -> dict[str, Any]:
        """Return the members read with, and the reading options."""
        o = rec.options
        return {
            "models": [m.to_dict() for m in rec.loaded_models],
            "options": {"voting": o.voting, "cascade": str(o.cascade), "dpi": o.dpi},
            "formats": list(FORMATS),
        }

    page = resources.files("handocr").joinpath("web/index.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return page


def _render(
    reader: Any,
    data: bytes,
    format: str,
    slots: threading.BoundedSemaphore,
    cfg: ServiceConfig,
    cancel: threading.Event,
) -> bytes:
    """Read ``data`` in a worker thread, holding a slot, and render it in ``format``.

    Raises
    ------
    TimeoutError
        No slot came free within the timeout, or ``cancel`` was set (the request was
        answered 503): the reading stops at its next page.
    """
    from handocr.formats import FORMATS, render_bytes
    from handocr.result import Document

    if not slots.acquire(timeout=cfg.timeout):
        raise TimeoutError("no reading slot came free")
    try:
        pages: list[Document] = []
        images: list[bytes] = []

        def hook(page: Any, image: Any) -> None:
            if cancel.is_set():  # the request was answered 503: stop reading
                raise TimeoutError("abandoned")

        keep = FORMATS[format].needs_images
        for result in reader.read_inputs([data], errors="raise", on_page=hook, images=keep):
            if result.document is not None:
                pages.append(result.document)
                images += result.images or ()
        doc = Document.concat(pages, reader.loaded_models)
        return render_bytes(doc, format, images, dpi=reader.options.dpi)
    finally:
        slots.release()


def _add_read_route(app: Any, rec: Any, cfg: ServiceConfig, guarded: list[Any]) -> None:
    """Add ``POST /v1/read``: readings in worker threads, at most ``cfg.concurrency`` at once."""
    import anyio
    from fastapi import File, Form, UploadFile
    from fastapi.responses import Response

    from handocr.formats import FORMATS
    from handocr.lexicon import SHIPPED

    limit_bytes = int(cfg.max_upload_mb * 1_000_000)
    # readings running at once: held by the reading thread itself until it ends, so a request
    # answered 503 frees its slot only when its reading has stopped (at the next page)
    slots = threading.BoundedSemaphore(cfg.concurrency)

    @app.post("/v1/read", dependencies=guarded)
    async def read(
        file: UploadFile = File(..., description="an image or a PDF"),  # noqa: B008
        charset: str | None = Form(
            None, description="digits, upper, letters, alnum, or characters"
        ),
        kind: str | None = Form(None, description="which words: all, handwritten or printed"),
        lexicon: str | None = Form(None, description="a shipped lexicon: " + ", ".join(SHIPPED)),
        format: str = Form("json", description=", ".join(FORMATS)),
        dpi: int | None = Form(None, description="PDF rendering resolution"),
    ) -> Any:
        """Read one uploaded image or PDF; the result in ``format``."""
        if format not in FORMATS:
            return _error(422, "USAGE", f"format must be one of {', '.join(FORMATS)}")
        if lexicon and lexicon not in SHIPPED:
            return _error(422, "USAGE", f"lexicon must be one of {', '.join(SHIPPED)}")
        data = bytearray()
        while chunk := await file.read(1 << 20):
            data += chunk
            if len(data) > limit_bytes:
                return _too_large(cfg)
        if not data:
            return _error(400, "BAD_INPUT", "the uploaded file is empty")
        changes: dict[str, Any] = {}
        if charset:
            changes["charset"] = charset
        if kind:
            changes["kind"] = kind
        if lexicon:
            changes["lexicon"] = lexicon
        if dpi is not None:
            changes["dpi"] = dpi
        reader = rec.with_options(**changes) if changes else rec
        cancel = threading.Event()
        try:
            with anyio.fail_after(cfg.timeout):
                body = await anyio.to_thread.run_sync(
                    _render, reader, bytes(data), format, slots, cfg, cancel, abandon_on_cancel=True
                )
        except TimeoutError:
            cancel.set()
            return _error(503, "TIMEOUT", f"the request took longer than {cfg.timeout:g} s")
        return Response(body, media_type=FORMATS[format].media_type)
