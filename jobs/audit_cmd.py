"""`touchpoint audit list`, and `audited`: how CLI commands record to the audit trail.

A state-changing command (`keys create|revoke|rotate`, `models activate|rollback`,
`experiments apply`, the publish of `train` and `run`) runs inside
`audited(data, action, target)`, which appends one entry (`store.audit`) when it ends:
`ok`, `refused` (its input was refused: exit code 2) or `failed`. Who: `cli:<the OS user>`.
The list reads the trail in Redis and the entries `touchpoint ingest` drained to
`DATA/audit/`, each entry once.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from redis.exceptions import RedisError
from rich.console import Console
from rich.table import Table

from contracts.errors import InvalidInput, NotFound
from contracts.requests import PAGE_MAX
from jobs.common import DataDir, JsonFlag, console
from store.audit import append, audit_entry, read
from store.client import connect
from store.config import StoreConfig
from store.keys import Keys

audit_app = typer.Typer(name="audit", help="The audit trail: who changed what.",
                        no_args_is_help=True)  # fmt: skip


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in this environment
        return "cli:unknown"


@contextmanager
def audited(data: Path, action: str, target: str) -> Iterator[dict[str, Any]]:
    """Record the command run inside as one entry; yields a dict the command may fill with
    details (never secrets)."""
    detail: dict[str, Any] = {}
    try:
        yield detail
    except Exception as exc:
        outcome = "refused" if isinstance(exc, InvalidInput | NotFound) else "failed"
        _record(data, action, target, outcome, {**detail, "error": str(exc)})
        raise
    _record(data, action, target, "ok", detail)


def _record(data: Path, action: str, target: str, outcome: str, detail: dict[str, Any]) -> None:
    entry = audit_entry(
        who=cli_actor(), action=action, target=target, outcome=outcome, detail=detail
    )
    config = StoreConfig(data_dir=data)
    try:
        with connect(config) as client:
            append(client, Keys(config.namespace), entry)
    except (RedisError, OSError) as exc:
        console.print(f"[yellow]warning:[/] audit entry not recorded: {exc}")


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"--since: not an ISO 8601 date or time: {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def drained(data: Path, since: datetime | None) -> list[dict[str, Any]]:
    """The entries `touchpoint ingest` wrote to `DATA/audit/`, from `since`."""
    import pyarrow.parquet as pq

    out = []
    for path in sorted((data / "audit").glob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            if since is None or row["at"] >= since:
                out.append({**row, "at": row["at"].isoformat(timespec="milliseconds")})
    return out


@audit_app.command("list")
def list_command(
    since: Annotated[
        str | None, typer.Option(help="From this ISO 8601 date or time (UTC without a zone).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=PAGE_MAX, help="Entries at most.")] = 1000,
    data: DataDir = Path("data"),
    as_json: JsonFlag = False,
) -> None:
    """The audit trail, oldest first: in Redis and drained to DATA/audit/."""
    start = _since(since)
    config = StoreConfig(data_dir=data)
    with connect(config) as client:
        live = read(client, Keys(config.namespace), since=start, limit=limit)
    seen = {e["audit_id"] for e in live}
    merged = [e for e in drained(data, start) if e["audit_id"] not in seen] + live
    merged.sort(key=lambda e: e["at"])
    rows = [{k: e.get(k) for k in ("at", "who", "action", "target", "outcome", "detail")}
            for e in merged[:limit]]  # fmt: skip
    if as_json:
        sys.stdout.write(orjson.dumps(rows).decode() + "\n")
        return
    table = Table(title="audit trail")
    for column in ("at", "who", "action", "target", "outcome", "detail"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row[c] or "") for c in ("at", "who", "action", "target", "outcome",
                                                     "detail")))  # fmt: skip
    Console(width=200).print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
