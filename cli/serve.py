"""``handocr serve``: the web page and the HTTP API."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Optional

import typer
from handocr_cli.common import (
    Verbose,
    configure_cli_logging,
    log,
    need_extra,
)

from handocr.errors import ExitCode, OptionError


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # another host name: it may resolve to any interface
        return False


def usage_error(message: str) -> typer.Exit:
    """Log ``message`` and return the exit with the ``USAGE`` code (2)."""
    log.error("%s", message)
    return typer.Exit(code=int(ExitCode.USAGE))


def api_key_of(
    ctx: typer.Context, host: str, api_key: str | None, api_key_file: Path | None, no_auth: bool
) -> str | None:
    """Return the key the service requires (None: open); exit 2 where the choice is unclear.

    The command line beats the environment: ``--api-key-file`` or ``--no-auth`` overrides
    ``$HANDOCR_API_KEY``; given on the command line together, they are a usage error.
    """
    # by name: typer 0.29 vendors click, whose ParameterSource is then not click's
    from_env = getattr(ctx.get_parameter_source("api_key"), "name", None) == "ENVIRONMENT"
    if api_key is not None and not from_env and (api_key_file is not None or no_auth):
        raise usage_error("give one of --api-key, --api-key-file and --no-auth")
    if api_key_file is not None and no_auth:
        raise usage_error("give one of --api-key-file and --no-auth")
    if no_auth:
        if api_key is not None:
            log.warning("--no-auth: $HANDOCR_API_KEY is ignored")
        return None
    if api_key_file is not None:
        try:
            api_key = api_key_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as err:
            raise usage_error(f"cannot read the API key from {api_key_file}: {err}") from None
        if not api_key:
            raise usage_error(f"the API key file {api_key_file} is empty")
    if api_key is None and not is_loopback(host):
        raise usage_error(
            f"--host {host} lets in anyone who can reach the port, and the pages sent are "
            "people's forms: give an API key that clients send as 'Authorization: Bearer KEY' "
            "(--api-key-file FILE or $HANDOCR_API_KEY; make one with python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'), or pass --no-auth to serve it open on purpose, "
            "or listen on 127.0.0.1"
        )
    return api_key


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="server processes, each with its models")] = 1,
    max_upload_mb: Annotated[float, typer.Option(min=0.001, help="largest upload, MB")] = 20.0,
    timeout: Annotated[
        float, typer.Option(min=0.001, help="seconds per reading before 503")
    ] = 60.0,
    concurrency: Annotated[int, typer.Option(min=1, help="readings at once per process")] = 2,
    api_key: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            envvar="HANDOCR_API_KEY",
            show_envvar=True,
            help="require 'Authorization: Bearer KEY' on the API (/healthz, the page and /docs "
            "stay open); prefer $HANDOCR_API_KEY or --api-key-file, as a command line shows in ps",
        ),
    ] = None,
    api_key_file: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            exists=True,
            dir_okay=False,
            help="read the API key from this file (whitespace stripped)",
        ),
    ] = None,
    no_auth: Annotated[
        bool,
        typer.Option(
            "--no-auth",
            help="serve a non-loopback --host without an API key: anyone who can reach the port "
            "can read with it",
        ),
    ] = False,
    verbose: Verbose = 0,
) -> None:
    """Serve the web page and the HTTP API (POST /v1/read, GET /v1/models, GET /healthz).

    OpenAPI documentation at /docs. Needs the serve extra: pip install "handocr[serve]".
    On an address other than loopback, an API key (or --no-auth) is required.
    """
    configure_cli_logging(verbose)
    import os

    from handocr.service import ServiceConfig

    key = api_key_of(ctx, host, api_key, api_key_file, no_auth)
    try:  # a key a header cannot carry fails here, before the models load
        ServiceConfig(max_upload_mb, timeout, concurrency, api_key=key)
    except OptionError as err:
        raise usage_error(str(err)) from None
    if key is None and not is_loopback(host):
        log.warning(
            "WARNING: serving %s:%d with --no-auth: NO API KEY, anyone who can reach this port "
            "can upload pages and read them",
            host,
            port,
        )

    need_extra("handocr serve", verbose, ("fastapi", "multipart", "uvicorn"), "serve")
    import uvicorn

    os.environ["HANDOCR_MAX_UPLOAD_MB"] = str(max_upload_mb)
    os.environ["HANDOCR_TIMEOUT"] = str(timeout)
    os.environ["HANDOCR_CONCURRENCY"] = str(concurrency)
    if key is None:
        os.environ.pop("HANDOCR_API_KEY", None)
    else:
        os.environ["HANDOCR_API_KEY"] = key
    uvicorn.run(
        "handocr.service:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning" if verbose == 0 else "info",
    )
