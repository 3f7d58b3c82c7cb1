"""`touchpoint keys create|list|revoke`: API keys (only their hashes are stored)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import orjson
import redis
import typer
from rich.console import Console
from rich.table import Table

from jobs.common import DataDir, JsonFlag, console, report
from store.client import connect
from store.config import StoreConfig
from store.keys import Keys

keys_app = typer.Typer(name="keys", help="Create, list and revoke API keys.", no_args_is_help=True)


@contextmanager
def _open(data: Path) -> Iterator[tuple[redis.Redis, Keys]]:
    """The configured (or the data directory's embedded) Redis and the key builder."""
    config = StoreConfig(data_dir=data)
    with connect(config) as client:
        yield client, Keys(config.namespace)


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key.")],
    scopes: Annotated[
        str,
        typer.Option(
            "--scopes",
            help="Comma-separated: personalize:read, events:write, segments:read,"
            " experiments:admin, cases:write, dashboard (the /ui pages), admin.",
        ),
    ],
    data: DataDir = Path("data"),
    as_json: JsonFlag = False,
) -> None:
    """Create a key and print it once: it cannot be shown again."""
    from store.apikeys import create_key

    with _open(data) as (client, keys):
        record, secret = create_key(client, keys, name=name, scopes=scopes.split(","))
    if as_json:
        body = {"id": record.id, "name": record.name, "scopes": list(record.scopes), "key": secret}
        sys.stdout.write(orjson.dumps(body).decode() + "\n")
        return
    console.print(f"[bold]API key {record.id}[/] ({record.name}: {', '.join(record.scopes)})")
    console.print("[yellow]Store it now: it is shown only once.[/]")
    sys.stdout.write(secret + "\n")


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (8 hex digits, see `keys list`).")],
    data: DataDir = Path("data"),
    as_json: JsonFlag = False,
) -> None:
    """Revoke a key; running APIs stop accepting it within their key cache time (30 s)."""
    from store.apikeys import revoke_key

    with _open(data) as (client, keys):
        record = revoke_key(client, keys, key_id)
    report(
        "touchpoint keys revoke",
        {"id": record.id, "name": record.name, "revoked_at": record.revoked_at},
        as_json=as_json,
    )


@keys_app.command("list")
def list_keys(data: DataDir = Path("data"), as_json: JsonFlag = False) -> None:
    """Every key: id, name, scopes, created, revoked (never the secret)."""
    from store.apikeys import list_keys as stored_keys

    with _open(data) as (client, keys):
        records = stored_keys(client, keys)
    rows = [
        {
            "id": r.id,
            "name": r.name,
            "scopes": list(r.scopes),
            "created_at": r.created_at,
            "revoked_at": r.revoked_at,
        }
        for r in records
    ]
    if as_json:
        sys.stdout.write(orjson.dumps(rows).decode() + "\n")
        return
    table = Table(title="API keys")
    for column in ("id", "name", "scopes", "created", "revoked"):
        table.add_column(column)
    for r in records:
        table.add_row(r.id, r.name, ", ".join(r.scopes), r.created_at, r.revoked_at or "")
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
