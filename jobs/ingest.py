"""Drain the intake streams into the data directory as Parquet partitions, exactly once.

For each stream (`events`, `feedback`, `cases`) the job reads batches through a consumer group and,
per batch:
1. drops records whose id is already in the data directory (base table or a partition) —
   a record re-sent after its idempotency mark expired, or a batch re-read after a crash;
2. writes `DIR/<table>/part-<first stream id>-<last stream id>.parquet` durably (temporary
   file, fsync, `os.replace`, fsync of the directory);
3. only then acknowledges the batch.
A crash before 3 leaves the batch pending; the next run reads the pending entries first,
finds their ids already written (or rewrites the same file name), and acknowledges them —
so no record is lost and none is written twice. One ingest per stream runs at a time.

Consent changes (`store.consent`) and identity merges (`store.identity`) are drained the same
way to `DIR/consent/` and `DIR/identities/`, where the batch reads them (`contracts.people`).
The audit trail (`store.audit`) is drained the same way to `DIR/audit/`, but its entries
stay in Redis after they are written (the API and `touchpoint audit list` read it there).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import redis

from contracts.errors import Conflict, DataError
from contracts.schema import INTAKE_TABLES, Column, Table
from contracts.tables import arrow_schema
from jobs.atomic import replace_file
from store.audit import AUDIT
from store.consent import CONSENT
from store.events import STREAMS, Entry, StreamReader
from store.identity import IDENTITIES
from store.keys import Keys

DEFAULT_BATCH = 10_000
# every stream `touchpoint ingest` writes to the data directory
DRAINED = (*STREAMS, AUDIT, CONSENT, IDENTITIES)
KEPT_IN_REDIS = frozenset({AUDIT})  # drained, but not trimmed
OnWritten = Callable[[str, Path, int], None]
Erased = Callable[[str], bool]  # whether a customer id is tombstoned (`jobs.erasure`)


class IngestBusy(Conflict):
    """Another `touchpoint ingest` is draining the same stream."""


@dataclass
class StreamResult:
    """What one drain did to one stream."""

    stream: str
    read: int = 0
    written: int = 0
    duplicates: int = 0
    lost: int = 0  # trimmed from the stream (MAXLEN) before any ingest read them
    erased: int = 0  # of a customer erased since it was recorded: acknowledged, not written
    files: list[str] = field(default_factory=list)


def existing_ids(data_dir: Path, table: Table) -> set[str]:
    """Ids already in the data directory: `<table>.parquet|csv` and `<table>/*.parquet`."""
    key = table.key
    assert key is not None
    ids: set[str] = set()
    root = data_dir / table.name
    files = [data_dir / f"{table.name}.parquet", *sorted(root.glob("*.parquet"))]
    try:
        for path in files:
            if path.is_file():
                ids.update(pq.read_table(path, columns=[key]).column(key).to_pylist())
        csv_path = data_dir / f"{table.name}.csv"
        if csv_path.is_file() and csv_path.stat().st_size > 0:
            options = pacsv.ConvertOptions(include_columns=[key], column_types={key: pa.string()})
            ids.update(pacsv.read_csv(csv_path, convert_options=options).column(key).to_pylist())
    except (pa.ArrowException, OSError, KeyError) as exc:
        raise DataError(str(path), None, key, f"cannot read existing ids: {exc}") from exc
    return {str(i) for i in ids if i is not None}


def to_arrow(table: Table, records: list[dict[str, Any]]) -> pa.Table:
    """Stream payloads → an Arrow table with the contract's columns; absent fields get the
    contract default (a payload from an older API version still lands)."""
    columns = {c.name: [_value(c, r.get(c.name)) for r in records] for c in table.columns}
    return pa.table(columns, schema=arrow_schema(table, timestamp_unit="us"))


def _value(col: Column, value: Any) -> Any:
    if value is None:
        value = col.default
    if col.type == "timestamp" and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def write_partition(path: Path, data: pa.Table) -> None:
    """Durable and atomic (`jobs.atomic`): readers see the old file or the complete new one."""
    buffer = pa.BufferOutputStream()
    pq.write_table(data, buffer)
    replace_file(path, buffer.getvalue().to_pybytes())


def partition_path(data_dir: Path, table: Table, entries: list[Entry]) -> Path:
    # Named by stream id range: a batch re-read after a crash maps to the same file.
    first, last = entries[0].stream_id, entries[-1].stream_id
    return data_dir / table.name / f"part-{first}-{last}.parquet"


def drain(
    reader: StreamReader,
    data_dir: Path,
    table: Table,
    *,
    batch: int = DEFAULT_BATCH,
    on_written: OnWritten | None = None,
    trim: bool = True,
    erased: Erased | None = None,
) -> StreamResult:
    """Drain one stream: pending (delivered, never acknowledged) entries first, then new;
    `trim` drops what was written from the stream."""
    key = table.key
    assert key is not None
    result = StreamResult(reader.stream)
    known = existing_ids(data_dir, table)
    pending = True
    last_acked = ""
    while True:
        entries = reader.read(batch, pending=pending)
        if not entries:
            if pending:
                pending = False
                continue
            break
        result.read += len(entries)
        fresh: list[dict[str, Any]] = []
        for entry in entries:
            if entry.fields is None:
                result.lost += 1
            elif str(entry.fields.get(key)) in known:
                result.duplicates += 1
            elif erased is not None and erased(str(entry.fields.get("customer_id") or "")):
                result.erased += 1
            else:
                known.add(str(entry.fields[key]))
                fresh.append(entry.fields)
        if fresh:
            path = partition_path(data_dir, table, entries)
            data = to_arrow(table, fresh)
            if path.is_file():  # same range written before a crash; keep what it holds
                data = pa.concat_tables([pq.read_table(path, schema=data.schema), data])
            write_partition(path, data)
            result.written += len(fresh)
            result.files.append(str(path))
            if on_written is not None:
                on_written(reader.stream, path, len(fresh))
        reader.ack([e.stream_id for e in entries])
        reader.keep_lock()
        last_acked = entries[-1].stream_id
    if last_acked and trim:
        reader.trim_before(last_acked)
    return result


def ingest(
    client: redis.Redis,
    keys: Keys,
    data_dir: Path,
    *,
    streams: Iterable[str] = STREAMS,
    batch: int = DEFAULT_BATCH,
    on_written: OnWritten | None = None,
    break_lock: bool = False,
    erased: Erased | None = None,
) -> list[StreamResult]:
    """Drain every intake stream into `data_dir` (see the module docstring).

    `break_lock` takes over the lock of a run that died without releasing it (otherwise
    it expires on its own after a few minutes); use it only when no other ingest runs.
    `erased`: records of customers it names are acknowledged but never written.
    """
    results = []
    for stream in streams:
        reader = StreamReader(client, keys, stream)
        token = secrets.token_hex(8)
        if not reader.lock(token, force=break_lock):
            raise IngestBusy(
                f"another ingest is draining the {stream} stream (a crashed run's lock"
                " expires within minutes; --break-lock takes it over)"
            )
        try:
            reader.ensure_group()
            table, trim = INTAKE_TABLES[stream], stream not in KEPT_IN_REDIS
            results.append(
                drain(
                    reader,
                    data_dir,
                    table,
                    batch=batch,
                    on_written=on_written,
                    trim=trim,
                    erased=erased,
                )
            )
        finally:
            reader.unlock(token)
    return results
