"""`touchpoint serve`: the HTTP API under uvicorn (default) or granian (`--server`)."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from jobs.common import DataDir, setup_logging
from store.config import StoreConfig
from store.embedded import EmbeddedRedis

APP_FACTORY = "api.app:create_app"


class HttpServer(StrEnum):
    """The ASGI server `touchpoint serve` runs the app under."""

    uvicorn = "uvicorn"
    granian = "granian"


def serve(
    data: DataDir = Path("data"),
    host: Annotated[
        str, typer.Option(envvar="TOUCHPOINT_HOST", help="Address to bind.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="TOUCHPOINT_PORT", help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    server: Annotated[
        HttpServer,
        typer.Option(
            envvar="TOUCHPOINT_SERVER",
            help="HTTP server: uvicorn, or granian (the `granian` extra). Either one respawns"
            " a worker that dies.",
        ),
    ] = HttpServer.uvicorn,
    as_json: Annotated[
        bool, typer.Option("--json", help="Log JSON lines on stderr, on a terminal too.")
    ] = False,
) -> None:
    """Serve the API (uses TOUCHPOINT_REDIS_URL, else the data directory's embedded Redis)."""
    os.environ["TOUCHPOINT_DATA_DIR"] = str(data)
    setup_logging(json_lines=as_json)
    if not StoreConfig().redis_url:  # a server that cannot start: say so before the HTTP one
        EmbeddedRedis(data).check()
    if server is HttpServer.granian:
        run_granian(host=host, port=port, workers=workers)
        return
    import uvicorn

    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
    )


def run_granian(*, host: str, port: int, workers: int) -> None:
    """The app under granian's ASGI interface; a worker that dies is started again (uvicorn's
    supervisor does that by itself with `--workers` > 1)."""
    try:
        from granian import Granian
        from granian.constants import Interfaces
    except ImportError:
        typer.echo("granian is not installed: pip install 'touchpoint[granian]'", err=True)
        raise typer.Exit(2) from None
    Granian(
        APP_FACTORY,
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        respawn_failed_workers=True,
        respawn_interval=0.5,
        log_access=False,
    ).serve()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
