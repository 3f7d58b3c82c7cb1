"""Segment job speed at scale: wall time and peak memory of `touchpoint segment`, and the
per-customer RFM aggregation beside DuckDB's on the same Parquet file, in the same run.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/segment_speed.py [--customers 1000000]
        [--events-per-customer 20] [--data DIR]

Data comes from `touchpoint generate` (cached under bench/.cache/, never committed). Goals
(issue 3): aggregation within 2x of DuckDB; whole job under 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from segments.features import compute_features, rfm_aggregate

ROOT = Path(__file__).resolve().parent.parent
TOUCHPOINT = str(Path(sys.executable).with_name("touchpoint"))
STRING = pd.StringDtype("pyarrow")
RFM_COLUMNS = ["event_id", "customer_id", "type", "timestamp", "order_id", "value"]

DUCKDB_RFM = """
with buys as (
  select customer_id, timestamp, value,
         case when order_id is null or order_id = '' then event_id else order_id end as o
  from read_parquet('{events}') where type = 'purchase' and timestamp <= '{as_of}'::timestamptz
)
select customer_id,
       floor(epoch('{as_of}'::timestamptz - max(timestamp)) / 86400) as recency_days,
       count(distinct o) as frequency, sum(value) as monetary
from buys group by customer_id
"""


def ensure_data(data: Path, customers: int, per_customer: float) -> None:
    if (data / "events.parquet").exists():
        return
    cmd = [TOUCHPOINT, "generate", "--customers", str(customers), "--items", "5000",
           "--events-per-customer", str(per_customer), "--seed", "7", "--out", str(data),
           "--json"]  # fmt: skip
    print("generating:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def run_job(data: Path, output: Path) -> tuple[float, float, dict[str, object]]:
    """Wall seconds, peak RSS (GiB) and the job's JSON summary of `touchpoint segment`."""
    started = time.perf_counter()
    done = subprocess.run(
        [TOUCHPOINT, "segment", "--data", str(data), "--output", str(output), "--json"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    return wall, peak, json.loads(done.stdout.strip().splitlines()[-1])


def read_events(
    events_file: Path, columns: list[str], *, purchases_only: bool = False
) -> pd.DataFrame:
    """The columns in the canonical in-memory dtypes (what `contracts.tables` hands over);
    `purchases_only` pushes the `type = 'purchase'` filter into the reader, as DuckDB does."""
    filters = [("type", "==", "purchase")] if purchases_only else None
    table = pq.read_table(events_file, columns=columns, filters=filters)
    frame = table.to_pandas(types_mapper={pa.string(): STRING, pa.large_string(): STRING}.get)
    for col in ("type", "channel"):
        if col in frame:
            frame[col] = frame[col].astype("category")
    frame["timestamp"] = frame["timestamp"].astype("datetime64[ns, UTC]")
    return frame


def ours_rfm(events_file: Path, as_of: pd.Timestamp) -> tuple[float, pd.DataFrame]:
    """Like for like with DuckDB: read the same columns (purchase filter pushed down), then
    aggregate R, F and M."""
    started = time.perf_counter()
    events = read_events(events_file, RFM_COLUMNS, purchases_only=True)
    return time.perf_counter() - started, rfm_aggregate(events, as_of)


def ours_features(events_file: Path, as_of: pd.Timestamp) -> float:
    """Every feature of the product (channels, intervals, tenure…), for scale."""
    started = time.perf_counter()
    events = read_events(events_file, [*RFM_COLUMNS, "item_id", "channel"])
    customers = pd.DataFrame({"customer_id": pd.array([], dtype=STRING)})
    compute_features(customers=customers, events=events, as_of=as_of)
    return time.perf_counter() - started


def in_memory(events_file: Path, as_of: pd.Timestamp) -> tuple[float, float]:
    """Both engines on the same already-loaded 20M-row DataFrame (DuckDB scans it via Arrow)."""
    events = read_events(events_file, RFM_COLUMNS)
    started = time.perf_counter()
    rfm_aggregate(events, as_of)
    t_ours = time.perf_counter() - started
    con = duckdb.connect()
    con.execute("set threads to 2")
    con.register("events_df", events)
    query = DUCKDB_RFM.replace("read_parquet('{events}')", "events_df")
    started = time.perf_counter()
    con.sql(query.format(as_of=as_of.isoformat())).df()
    return t_ours, time.perf_counter() - started


def duck(events_file: Path, as_of: pd.Timestamp) -> tuple[float, pd.DataFrame]:
    con = duckdb.connect()
    con.execute("set threads to 2")
    started = time.perf_counter()
    frame = con.sql(DUCKDB_RFM.format(events=events_file, as_of=as_of.isoformat())).df()
    return time.perf_counter() - started, frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--events-per-customer", type=float, default=20.0)
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args()
    data = args.data or ROOT / "bench" / ".cache" / f"segment-{args.customers}"
    ensure_data(data, args.customers, args.events_per_customer)
    events_file = data / "events.parquet"
    n_events = duckdb.sql(f"select count(*) from read_parquet('{events_file}')").fetchall()[0][0]
    output = data.parent / f"segments-{args.customers}.parquet"

    wall, peak, summary = run_job(data, output)
    print("job:", summary, flush=True)
    as_of = pd.Timestamp(str(summary["as_of"]))
    t_duck, d = duck(events_file, as_of)
    print(f"duckdb: {t_duck:.2f} s", flush=True)
    t_ours, mine = ours_rfm(events_file, as_of)
    t_all = ours_features(events_file, as_of)
    mine = mine.set_index(mine["customer_id"].astype(str))
    theirs = d.set_index(d["customer_id"].astype(str)).reindex(mine.index)
    same = (
        len(mine) == len(d)
        and np.array_equal(mine["frequency"].to_numpy(), theirs["frequency"].to_numpy())
        and np.array_equal(mine["recency_days"].to_numpy(), theirs["recency_days"].to_numpy())
        and np.allclose(mine["monetary"].to_numpy(), theirs["monetary"].to_numpy())
    )
    print(f"\ndata: {data} — {args.customers:,} customers, {n_events:,} events (2 cores)")
    print(f"touchpoint segment (load + segment + write + publish): {wall:6.1f} s wall, "
          f"peak RSS {peak:.2f} GiB   goal < 60 s")  # fmt: skip
    for key in ("segment_seconds", "write_seconds", "publish_seconds", "seconds"):
        print(f"  {key:<18} {summary.get(key)}")
    print(f"per-customer RFM aggregation, from {events_file.name} (read + aggregate):")
    print(f"  duckdb                {t_duck:6.2f} s")
    print(f"  touchpoint            {t_ours:6.2f} s   ratio {t_ours / t_duck:.2f}x (goal <= 2x); "
          f"identical results for {len(mine):,} purchasers: {same}")  # fmt: skip
    print(f"  touchpoint, all features (channels, intervals, tenure...): {t_all:6.2f} s")
    mem_ours, mem_duck = in_memory(events_file, as_of)
    print("per-customer RFM aggregation on the same loaded DataFrame (no file read):")
    print(f"  duckdb {mem_duck:6.2f} s   touchpoint {mem_ours:6.2f} s   "
          f"ratio {mem_ours / mem_duck:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
