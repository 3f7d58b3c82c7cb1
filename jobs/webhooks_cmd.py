"""`touchpoint webhooks dead|replay`: the dead-letter list, and sending its deliveries again."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from contracts.errors import InvalidInput, NotFound
from jobs.common import DataDir, JsonFlag, console
from store.webhooks import WebhookStore

webhooks_app = typer.Typer(
    name="webhooks", help="Dead webhook deliveries: list and replay.", no_args_is_help=True
)


@contextmanager
def _store(data: Path) -> Iterator[WebhookStore]:
    from store.client import connect
    from store.config import StoreConfig
    from store.keys import Keys

    config = StoreConfig(data_dir=data)
    with connect(config) as client:
        yield WebhookStore(client, Keys(config.namespace))


def _when(epoch: float | None) -> str:
    return "" if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


@webhooks_app.command("dead")
def dead(data: DataDir = Path("data"), as_json: JsonFlag = False) -> None:
    """Deliveries that failed every attempt, oldest first."""
    with _store(data) as store:
        records = store.dead_letters()
    if as_json:
        sys.stdout.write(orjson.dumps(records).decode() + "\n")
        return
    table = Table(title=f"dead webhook deliveries ({len(records)})")
    for column in ("id", "kind", "case", "endpoint", "attempts", "last error", "dead at"):
        table.add_column(column)
    for r in records:
        event = r["event"]
        table.add_row(
            r["id"],
            event.get("kind", ""),
            str(event.get("case", {}).get("case_id", "")),
            r["endpoint"],
            str(r["attempt"]),
            str(r.get("error") or ""),
            _when(r.get("dead_at")),
        )
    Console().print(table)


@webhooks_app.command("replay")
def replay(
    ids: Annotated[
        list[str] | None, typer.Argument(help="Delivery ids (or event ids) from `webhooks dead`.")
    ] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="Replay every dead delivery.")] = False,
    data: DataDir = Path("data"),
    as_json: JsonFlag = False,
) -> None:
    """Put dead deliveries back on the retry schedule, due now; the worker sends them with a
    fresh count of attempts and the same Idempotency-Key."""
    if bool(ids) == replay_all:
        raise InvalidInput("give delivery ids or --all (not both)")
    with _store(data) as store:
        moved = store.replay(None if replay_all else ids)
    if ids and not moved:
        raise NotFound(f"no dead delivery with id {', '.join(ids)}")
    if as_json:
        sys.stdout.write(orjson.dumps({"replayed": moved}).decode() + "\n")
        return
    console.print(f"{len(moved)} deliver{'y' if len(moved) == 1 else 'ies'} scheduled again")
    for delivery_id in moved:
        sys.stdout.write(delivery_id + "\n")


def register(app: typer.Typer) -> None:
    app.add_typer(webhooks_app)
