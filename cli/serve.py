"""``handocr serve``: the web page and the HTTP API."""

from __future__ import annotations

from typing import Annotated

import typer
from handocr_cli.common import (
    Verbose,
    configure_cli_logging,
    need_extra,
)


def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="server processes, each with its models")] = 1,
    max_upload_mb: Annotated[float, typer.Option(min=0.001, help="largest upload, MB")] = 20.0,
    timeout: Annotated[
        float, typer.Option(min=0.001, help="seconds per reading before 503")
    ] = 60.0,
    concurrency: Annotated[int, typer.Option(min=1, help="readings at once per process")] = 2,
    verbose: Verbose = 0,
) -> None:
    """Serve the web page and the HTTP API (POST /v1/read, GET /v1/models, GET /healthz).

    OpenAPI documentation at /docs. Needs the serve extra: pip install "handocr[serve]".
    """
    configure_cli_logging(verbose)
    import os

    need_extra("handocr serve", verbose, ("fastapi", "multipart", "uvicorn"), "serve")
    import uvicorn

    os.environ["HANDOCR_MAX_UPLOAD_MB"] = str(max_upload_mb)
    os.environ["HANDOCR_TIMEOUT"] = str(timeout)
    os.environ["HANDOCR_CONCURRENCY"] = str(concurrency)
    uvicorn.run(
        "handocr.service:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning" if verbose == 0 else "info",
    )
