"""`touchpoint serve`: the HTTP API under uvicorn."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from jobs.common import DataDir, setup_logging
from store.config import StoreConfig
from store.embedded import EmbeddedRedis


def serve(
    data: DataDir = Path("data"),
    host: Annotated[
        str, typer.Option(envvar="TOUCHPOINT_HOST", help="Address to bind.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="TOUCHPOINT_PORT", help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")] = 1,
    as_json: Annotated[
        bool, typer.Option("--json", help="Log JSON lines on stderr, on a terminal too.")
    ] = False,
) -> None:
    """Serve the API (uses TOUCHPOINT_REDIS_URL, else the data directory's embedded Redis)."""
    import uvicorn

    os.environ["TOUCHPOINT_DATA_DIR"] = str(data)
    setup_logging(json_lines=as_json)
    if not StoreConfig().redis_url:  # a server that cannot start: say so before uvicorn does
        EmbeddedRedis(data).check()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
