"""Facts the dashboard reads from the batch's files in the data directory: events per day
(the events tables) and the RFM grid and lifecycle funnel (`segments.parquet`).

Read with Arrow, only the columns needed, in a worker thread, and cached until a file
changes (path, size and mtime), so a page pays the read once per batch, not per request.
Nothing here runs when the files are missing: the pages then say so.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from contracts.errors import DataError
from contracts.tables import table_files

DAYS_SHOWN = 90  # the events plot's last days
SEGMENTS_FILE = "segments.parquet"  # written by `touchpoint segment` (jobs.pipeline)
LIFECYCLE_ORDER = ("prospect", "new", "active", "reactivated", "lapsing", "churned")

_cache: dict[tuple[str, str], tuple[tuple[Any, ...], Any]] = {}
_lock = threading.RLock()


def _stamp(files: list[Path]) -> tuple[Any, ...]:
    return tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)


def _cached(kind: str, data_dir: Path, files: list[Path], compute: Callable[[], Any]) -> Any:
    stamp = _stamp(files)
    key = (kind, str(data_dir))
    with _lock:  # one read per change, however many pages ask at once
        hit = _cache.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        value = compute()
        _cache[key] = (stamp, value)
        return value


def _read(path: Path, columns: list[str]) -> pa.Table:
    if path.suffix == ".csv":
        options = pacsv.ConvertOptions(include_columns=columns, include_missing_columns=True)
        return pacsv.read_csv(path, convert_options=options)
    present = set(pq.read_schema(path).names)
    return pq.read_table(path, columns=[c for c in columns if c in present])


def _day_counts(path: Path) -> dict[tuple[int, str], int]:
    """Events of one file per (UTC day number, type)."""
    table = _read(path, ["timestamp", "type"])
    stamps = table["timestamp"]
    if not pa.types.is_timestamp(stamps.type):
        stamps = pc.strptime(stamps, format="%Y-%m-%dT%H:%M:%S", unit="s", error_is_null=True)
    days = pc.divide(pc.cast(pc.cast(stamps, pa.timestamp("s")), pa.int64()), 86400)
    types = pc.cast(table["type"], pa.string())
    grouped = pa.table({"d": days, "t": types}).group_by(["d", "t"]).aggregate([("d", "count")])
    columns = (grouped[c].to_pylist() for c in ("d", "t", "d_count"))
    return {(d, t): n for d, t, n in zip(*columns, strict=True) if d is not None}


def _events_per_day(files: list[Path]) -> dict[str, Any]:
    """Events per UTC day and type over the last `DAYS_SHOWN` days of the data. Counted per
    file and cached per file: a new ingest partition costs only its own read."""
    counts: dict[tuple[int, str], int] = {}
    for path in files:
        per_file = _cached("events-file", path, [path], partial(_day_counts, path))
        for key, n in per_file.items():
            counts[key] = counts.get(key, 0) + n
    if not counts:
        return {"days": [], "series": {}, "total": 0}
    last = max(d for d, _ in counts)
    days = list(range(last - DAYS_SHOWN + 1, last + 1))
    types = sorted({t for _, t in counts})
    series = {t: [counts.get((d, t), 0) for d in days] for t in types}
    return {"days": [d * 86400 for d in days], "series": series,
            "total": sum(counts.values())}  # fmt: skip


async def events_per_day(data_dir: Path) -> dict[str, Any] | None:
    """`{days: [epoch seconds], series: {type: [counts]}, total}`; None without events."""
    try:
        files = table_files(data_dir, "events")
    except DataError:
        return None
    if not files:
        return None
    return await asyncio.to_thread(_events_per_day, files)


def _segment_facts(path: Path) -> dict[str, Any]:
    table = _read(path, ["r_score", "f_score", "monetary", "lifecycle_stage"])
    grid_n = [[0] * 5 for _ in range(5)]  # [recency 5..1][frequency 1..5]
    grid_revenue = [[0.0] * 5 for _ in range(5)]
    if "r_score" in table.column_names and "f_score" in table.column_names:
        keys = pa.table({"r": table["r_score"], "f": table["f_score"],
                         "m": pc.fill_null(table["monetary"], 0.0)})  # fmt: skip
        grouped = keys.group_by(["r", "f"]).aggregate([("m", "count"), ("m", "sum")])
        for r, f, n, m in zip(*(grouped[c].to_pylist() for c in ("r", "f", "m_count", "m_sum")),
                              strict=True):  # fmt: skip
            if r and f and 1 <= r <= 5 and 1 <= f <= 5:
                grid_n[5 - r][f - 1] = int(n)
                grid_revenue[5 - r][f - 1] = float(m)
    stages: dict[str, int] = {}
    if "lifecycle_stage" in table.column_names:
        counted = pc.value_counts(pc.cast(table["lifecycle_stage"], pa.string()))
        for row in counted.to_pylist():
            if row["values"]:
                stages[row["values"]] = int(row["counts"])
    known = [s for s in LIFECYCLE_ORDER if s in stages]
    ordered = known + sorted(set(stages) - set(LIFECYCLE_ORDER))
    return {
        "rfm_counts": grid_n,
        "rfm_revenue": grid_revenue,
        "lifecycle": [{"stage": s, "customers": stages[s]} for s in ordered],
        "customers": table.num_rows,
    }


async def segment_facts(data_dir: Path) -> dict[str, Any] | None:
    """RFM grid (rows recency 5→1, columns frequency 1→5: customers and revenue) and the
    lifecycle stages in funnel order; None before the first `touchpoint segment`."""
    path = Path(data_dir) / SEGMENTS_FILE
    if not path.is_file():
        return None
    return await asyncio.to_thread(_cached, "segments", data_dir, [path],
                                   lambda: _segment_facts(path))  # fmt: skip
