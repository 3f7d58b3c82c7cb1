"""Erasure speed at scale: one customer and 10,000 customers erased from a large published
data set, beside baselines from the same run.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python bench/erase_speed.py
        [--customers 200000] [--batch 10000] [--events-per-customer 5]

Set-up (timed, the first baseline): a throwaway redis-server; a `serving` version published
with recs, profile, history and consumed items for every customer (`store.serving`), a
`segments` version with memberships and member lists (`store.segments`), live recent events
and a latest answer for one customer in ten; a data directory with `customers.parquet` and
`events.parquet`. Then `jobs.erasure.erase` (Redis, data directory, tombstones) for one
customer and for a batch. The second baseline: one plain SCAN of the whole keyspace (the
walk an erasure of any size makes once), and a SCAN+DEL of the batch's own customer keys.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import redis

from bench._redis import start_redis
from jobs.erasure import erase
from store.config import StoreConfig
from store.feedback import record_latest
from store.keys import Keys
from store.recent import RecentEvent, append_events
from store.segments import SegmentRelease, publish_segments
from store.serving import ServingBundle, write_serving
from store.versions import Versions

ITEMS = 5000
SEGMENTS = ("Champions", "Loyal", "At Risk", "New", "Hibernating")


def customer_ids(n: int) -> list[str]:
    return [f"C{i:07d}" for i in range(n)]


def publish(client: redis.Redis, config: StoreConfig, ids: list[str]) -> float:
    rng = np.random.default_rng(1)
    items = [{"item_id": f"P{i:05d}", "kind": "product"} for i in range(ITEMS)]

    def ranked(k: int) -> tuple[np.ndarray, np.ndarray]:
        return rng.integers(0, ITEMS, k).astype(np.uint32), rng.random(k).astype(np.float32)

    bundle = ServingBundle(
        items=items, popular={"global": ranked(100)},
        customer_recs=((c, ranked(50)) for c in ids),
        customer_profiles=((c, {"customer_id": c, "loyalty_tier": "gold"}) for c in ids),
        customer_history=((c, ranked(10)) for c in ids),
        customer_consumed=((c, ranked(5)) for c in ids),
    )  # fmt: skip
    started = time.perf_counter()
    Versions(client, config).publish("serving", lambda r: write_serving(r, bundle))
    members = {name: ids[i :: len(SEGMENTS)] for i, name in enumerate(SEGMENTS)}
    publish_segments(client, config, SegmentRelease(
        catalogue=[{"name": n, "size": len(m)} for n, m in members.items()],
        members=members,
        customer_segments=((c, SEGMENTS[i % len(SEGMENTS)]) for i, c in enumerate(ids)),
        deltas={n: (m[:1000], []) for n, m in members.items()}, previous=None, meta={},
    ))  # fmt: skip
    keys = Keys(config.namespace)
    pipe = client.pipeline(transaction=False)
    for c in ids[::10]:
        append_events(pipe, keys, c, [RecentEvent("P00001", "view", 1_700_000_000)])
        record_latest(pipe, keys, {"customer_id": c, "survey": "nps", "score": 9,
                                   "timestamp": "2026-01-01T00:00:00Z"})  # fmt: skip
        if len(pipe) > 5000:
            pipe.execute()
    pipe.execute()
    return time.perf_counter() - started


def write_tables(data: Path, ids: list[str], per_customer: int) -> float:
    started = time.perf_counter()
    data.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"customer_id": ids}), data / "customers.parquet")
    owners = np.repeat(np.array(ids), per_customer)
    events = pa.table({
        "event_id": [f"E{i:010d}" for i in range(len(owners))],
        "customer_id": owners, "item_id": ["P00001"] * len(owners),
        "type": ["view"] * len(owners),
        "timestamp": pa.array(np.full(len(owners), 1_700_000_000_000), pa.timestamp("ms", "UTC")),
    })  # fmt: skip
    pq.write_table(events, data / "events.parquet")
    return time.perf_counter() - started


def scan_all(client: redis.Redis) -> tuple[float, int]:
    started = time.perf_counter()
    n = sum(1 for _ in client.scan_iter(count=5000))
    return time.perf_counter() - started, n


def scan_del(client: redis.Redis, keys: Keys, ids: list[str]) -> float:
    """Baseline: SCAN the keyspace once and DEL every key tagged with one of `ids`."""
    wanted, started = set(ids), time.perf_counter()
    doomed = [k for k in client.scan_iter(match=f"{keys.namespace}:*c:{{*", count=5000)
              if keys.tagged_customer(k.decode()) in wanted]  # fmt: skip
    pipe = client.pipeline(transaction=False)
    for k in doomed:
        pipe.delete(k)
    pipe.execute()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--events-per-customer", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tp-erase-bench-"))
    process, url = start_redis(work)
    try:
        client = redis.Redis.from_url(url, socket_timeout=600)
        config = StoreConfig(redis_url=url, data_dir=work / "data")
        keys = Keys(config.namespace)
        ids = customer_ids(args.customers)
        published = publish(client, config, ids)
        tables = write_tables(config.data_dir, ids, args.events_per_customer)
        size = client.dbsize()
        print(f"customers {args.customers:,}; Redis keys {size:,}; "
              f"events rows {args.customers * args.events_per_customer:,}")  # fmt: skip
        print(f"baseline: publish serving + segments + live keys {published:.1f} s; "
              f"write the two tables {tables:.1f} s")  # fmt: skip
        walk, seen = scan_all(client)
        print(f"baseline: one SCAN of the whole keyspace ({seen:,} keys) {walk:.2f} s")
        for label, chosen in (("1 customer", ids[1:2]), (f"{args.batch:,} customers",
                                                         ids[2 : 2 + args.batch])):  # fmt: skip
            started = time.perf_counter()
            done = erase(client, keys, config.data_dir, chosen)
            total = time.perf_counter() - started
            print(
                f"erase {label}: {total:.2f} s (Redis {done.redis_seconds:.2f} s, data directory "
                f"{done.files_seconds:.2f} s; Redis keys deleted {done.redis.keys:,}, "
                f"segment versions {done.redis.segment_versions}, "
                f"file rows removed {done.files.removed:,})",
                flush=True,
            )
        other = ids[2 + args.batch : 2 + 2 * args.batch]
        print(f"baseline: plain SCAN+DEL of {len(other):,} customers' keys "
              f"{scan_del(client, keys, other):.2f} s")  # fmt: skip
    finally:
        process.terminate()
        process.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
