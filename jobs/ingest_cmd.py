"""`touchpoint ingest`: drain the API's event, feedback and case streams into the data directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jobs.common import DataDir, JsonFlag, progress, report, setup_logging


def ingest(
    data: DataDir = Path("data"),
    batch: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="Stream entries per Parquet partition.")
    ] = 10_000,
    break_lock: Annotated[
        bool, typer.Option(help="Take over the lock of a crashed ingest (none may be running).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Write new events, feedback, case changes and audit entries to DIR/events/,
    DIR/feedback/, DIR/cases/ and DIR/audit/ as Parquet, exactly once."""
    from jobs.erasure import apply_tombstones, erased_test
    from jobs.ingest import DRAINED
    from jobs.ingest import ingest as run_ingest
    from store.client import connect
    from store.config import StoreConfig
    from store.events import StreamReader
    from store.keys import Keys

    setup_logging()
    config = StoreConfig(data_dir=data)
    keys = Keys(config.namespace)
    with connect(config) as client, progress() as bar:
        # erasures made through the API reach the data directory here, before new rows do
        rewritten = apply_tombstones(client, keys, data)
        tasks = {}
        for stream in DRAINED:
            reader = StreamReader(client, keys, stream)
            reader.ensure_group()
            tasks[stream] = bar.add_task(f"ingest {stream}", total=reader.backlog())

        def advance(stream: str, _path: Path, rows: int) -> None:
            bar.advance(tasks[stream], rows)

        results = run_ingest(
            client, keys, data, streams=DRAINED, batch=batch, on_written=advance,
            break_lock=break_lock, erased=erased_test(client, keys, data),
        )  # fmt: skip
    rows: dict[str, object] = {"data": str(data)}
    if rewritten is not None:
        rows["files rewritten for erasures"] = len(rewritten.files)
    for result in results:
        rows[f"{result.stream} read"] = result.read
        rows[f"{result.stream} written"] = result.written
        rows[f"{result.stream} duplicates"] = result.duplicates
        rows[f"{result.stream} lost (trimmed)"] = result.lost
        rows[f"{result.stream} erased customers' (dropped)"] = result.erased
        rows[f"{result.stream} partitions"] = len(result.files)
    report("touchpoint ingest", rows, as_json=as_json)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
