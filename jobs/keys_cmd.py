"""`touchpoint keys create|list|revoke|rotate`: API keys (only their hashes are stored).

Each change is recorded in the audit trail (`jobs.audit_cmd.audited`), never the secret.
Durations (`--expires-in`, `--overlap`) read `90d`, `12h`, `30m`, `45s` or plain seconds.
"""

from __future__ import annotations

import re
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

from contracts.errors import InvalidInput
from jobs.audit_cmd import audited
from jobs.common import DataDir, JsonFlag, console, report
from store.apikeys import ApiKey
from store.client import connect
from store.config import StoreConfig
from store.keys import Keys

keys_app = typer.Typer(
    name="keys", help="Create, list, revoke and rotate API keys.", no_args_is_help=True
)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str | None, option: str) -> float | None:
    """`90d`, `12h`, `30m`, `45s` or seconds → seconds (None when not given)."""
    if text is None:
        return None
    match = _DURATION.match(text)
    if match is None:
        raise InvalidInput(f"{option}: not a duration (like 90d, 12h, 30m, 45s): {text!r}")
    return float(match.group(1)) * _UNIT[match.group(2)]


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
    expires_in: Annotated[
        str | None, typer.Option(help="Refused after this long (90d, 12h…); default: never.")
    ] = None,
    data: DataDir = Path("data"),
    as_json: JsonFlag = False,
) -> None:
    """Create a key and print it once: it cannot be shown again."""
    from store.apikeys import create_key

    with audited(data, "keys.create", name) as detail, _open(data) as (client, keys):
        record, secret = create_key(
            client, keys, name=name, scopes=scopes.split(","),
            expires_in=duration(expires_in, "--expires-in"),
        )  # fmt: skip
        detail.update(id=record.id, scopes=list(record.scopes), expires_at=record.expires_at)
    _show_secret(record, secret, as_json=as_json)


def _show_secret(record: ApiKey, secret: str, *, as_json: bool, **extra: object) -> None:
    if as_json:
        body = {"id": record.id, "name": record.name, "scopes": list(record.scopes),
                "expires_at": record.expires_at, "key": secret, **extra}  # fmt: skip
        sys.stdout.write(orjson.dumps(body).decode() + "\n")
        return
    console.print(f"[bold]API key {record.id}[/] ({record.name}: {', '.join(record.scopes)})")
    for name, value in extra.items():
        console.print(f"{name}: {value}")
    console.print("[yellow]Store it now: it is shown only once.[/]")
    sys.stdout.write(secret + "\n")


@keys_app.command("rotate")
def rotate(
    key_id: Annotated[str, typer.Argument(help="The key to replace (see `keys list`).")],
    overlap: Annotated[
        str, typer.Option(help="How long the old key keeps working (0 = stop it now).")
    ] = "24h",
    expires_in: Annotated[
        str | None, typer.Option(help="The new key is refused after this long; default: never.")
    ] = None,
    data: DataDir = Path("data"),
    as_json: JsonFlag = False,
) -> None:
    """Replace a key by a new one with its name and scopes (printed once); the old one works
    until the overlap ends (running APIs see the change within their key cache time, 30 s)."""
    from store.apikeys import rotate_key

    with audited(data, "keys.rotate", key_id) as detail, _open(data) as (client, keys):
        old, new, secret = rotate_key(
            client, keys, key_id, overlap=duration(overlap, "--overlap") or 0.0,
            expires_in=duration(expires_in, "--expires-in"),
        )  # fmt: skip
        detail.update(new_id=new.id, old_expires_at=old.expires_at)
    _show_secret(new, secret, as_json=as_json, replaces=old.id, old_key_expires_at=old.expires_at)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (8 hex digits, see `keys list`).")],
    data: DataDir = Path("data"),
    as_json: JsonFlag = False,
) -> None:
    """Revoke a key; running APIs stop accepting it within their key cache time (30 s)."""
    from store.apikeys import revoke_key

    with audited(data, "keys.revoke", key_id), _open(data) as (client, keys):
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
            "expires_at": r.expires_at,
            "replaced_by": r.replaced_by,
        }
        for r in records
    ]
    if as_json:
        sys.stdout.write(orjson.dumps(rows).decode() + "\n")
        return
    table = Table(title="API keys")
    for column in ("id", "name", "scopes", "created", "revoked", "expires", "replaced by"):
        table.add_column(column)
    for r in records:
        table.add_row(r.id, r.name, ", ".join(r.scopes), r.created_at, r.revoked_at or "",
                      r.expires_at or "", r.replaced_by or "")  # fmt: skip
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
