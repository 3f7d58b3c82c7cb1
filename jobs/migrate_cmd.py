"""`touchpoint migrate-keys`: rename the keys of an older layout (`store.key_migration`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jobs.common import DataDir, JsonFlag, report


def migrate_keys(
    data: DataDir = Path("data"),
    dry_run: Annotated[bool, typer.Option(help="List the keys to rename; change nothing.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Move the A/B experiments' keys and the case streams to their Redis Cluster hash tags
    (run once after upgrading, with the API and workers stopped; running it again is safe)."""
    from contracts.errors import Conflict
    from store.client import connect
    from store.config import StoreConfig
    from store.key_migration import migrate
    from store.keys import Keys

    config = StoreConfig(data_dir=data)
    with connect(config) as client:
        result = migrate(client, Keys(config.namespace), dry_run=dry_run)
    rows: dict[str, object] = {
        "to rename" if dry_run else "renamed": len(result.renamed),
        "conflicts": len(result.conflicts),
    }
    report("touchpoint migrate-keys", rows, as_json=as_json)
    if result.conflicts:
        names = ", ".join(f"{old} -> {new}" for old, new in result.conflicts[:5])
        raise Conflict(f"{len(result.conflicts)} keys left: their new name is taken ({names})")


def register(app: typer.Typer) -> None:
    app.command("migrate-keys")(migrate_keys)
