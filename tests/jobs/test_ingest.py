"""`touchpoint ingest` against a real Redis: streams → Parquet partitions, exactly once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import orjson
import pandas as pd
import pyarrow.parquet as pq
import pytest
import redis.asyncio as aioredis
from typer.testing import CliRunner

from contracts.tables import load_table
from jobs.cli import build_app
from jobs.ingest import IngestBusy, ingest
from store import events as intake
from store.keys import Keys

KEYS = Keys()
ROOT = Path(__file__).resolve().parents[2]


def event(n: int, **overrides: object) -> dict:
    fields = {
        "event_id": f"e{n}",
        "customer_id": f"c{n % 4}",
        "item_id": f"i{n % 7}",
        "type": "purchase" if n % 5 == 0 else "view",
        "channel": "app",
        "timestamp": f"2026-02-01T10:{n % 60:02d}:00.000000Z",
        "order_id": "",
        "quantity": 1 + n % 3,
        "value": float(n),
        "recommendation_id": "",
    }
    fields.update(overrides)
    return fields


def put(redis_url: str, stream: str, records: list[dict], key: str = "event_id") -> list[bool]:
    """Append through the same idempotent script the API uses."""

    async def go() -> list[bool]:
        client = aioredis.Redis.from_url(redis_url)
        try:
            batch = [intake.Record(r[key], r) for r in records]
            return await intake.append(client, KEYS, stream, batch)
        finally:
            await client.aclose()

    return asyncio.run(go())


def partition_ids(data_dir: Path, table: str = "events") -> list[str]:
    """Every id in every partition file, duplicates included (the loader would hide them)."""
    key = "event_id" if table == "events" else "response_id"
    ids: list[str] = []
    for path in sorted((data_dir / table).glob("*.parquet")):
        ids += pq.read_table(path, columns=[key]).column(key).to_pylist()
    return ids


def test_ingest_writes_partitions_the_loader_reads(redis_url, redis_client, tmp_path):
    put(redis_url, "events", [event(n) for n in range(25)])
    [events, feedback, _cases] = ingest(redis_client, KEYS, tmp_path, batch=10)
    assert (events.read, events.written, events.duplicates) == (25, 25, 0)
    assert len(events.files) == 3 and feedback.read == 0
    assert all(Path(f).name.startswith("part-") for f in events.files)
    frame = load_table(tmp_path, "events")
    assert sorted(frame["event_id"]) == sorted(f"e{n}" for n in range(25))
    row = frame.set_index("event_id").loc["e7"]
    assert row["customer_id"] == "c3" and row["channel"] == "app" and row["quantity"] == 2
    assert row["timestamp"] == pd.Timestamp("2026-02-01T10:07:00Z")
    assert row["value"] == 7.0


def test_second_run_writes_nothing_and_new_events_get_a_new_partition(
    redis_url, redis_client, tmp_path
):
    put(redis_url, "events", [event(n) for n in range(5)])
    ingest(redis_client, KEYS, tmp_path)
    [again, _, _cases] = ingest(redis_client, KEYS, tmp_path)
    assert (again.read, again.written) == (0, 0)
    put(redis_url, "events", [event(n) for n in range(5, 8)])
    [more, _, _cases] = ingest(redis_client, KEYS, tmp_path)
    assert more.written == 3
    assert sorted(partition_ids(tmp_path)) == sorted(f"e{n}" for n in range(8))
    assert len(list((tmp_path / "events").glob("*.parquet"))) == 2


def test_event_resent_after_its_mark_expired_is_not_written_twice(
    redis_url, redis_client, tmp_path
):
    put(redis_url, "events", [event(1), event(2)])
    ingest(redis_client, KEYS, tmp_path)
    redis_client.delete(KEYS.seen("events", "e1"))  # as if its TTL had run out
    assert put(redis_url, "events", [event(1)]) == [True]
    [result, _, _cases] = ingest(redis_client, KEYS, tmp_path)
    assert (result.read, result.duplicates, result.written) == (1, 1, 0)
    assert sorted(partition_ids(tmp_path)) == ["e1", "e2"]


def test_ids_in_the_base_table_are_not_ingested_again(redis_url, redis_client, tmp_path):
    (tmp_path / "events.csv").write_text(
        "event_id,customer_id,item_id,type,timestamp\ne1,c1,i1,view,2026-01-01T00:00:00Z\n"
    )
    put(redis_url, "events", [event(1), event(2)])
    [result, _, _cases] = ingest(redis_client, KEYS, tmp_path)
    assert (result.written, result.duplicates) == (1, 1)
    assert partition_ids(tmp_path) == ["e2"]


def crash_after_first_write(redis_url: str, data_dir: Path, batch: int) -> int:
    """Run ingest in a child process that dies (os._exit) right after its first durable
    partition write, before the acknowledgement."""
    code = (
        "import os, sys, redis\n"
        "from pathlib import Path\n"
        "from jobs.ingest import ingest\n"
        "from store.keys import Keys\n"
        "client = redis.Redis.from_url(sys.argv[1])\n"
        "ingest(client, Keys(), Path(sys.argv[2]), batch=int(sys.argv[3]),\n"
        "       on_written=lambda *a: os._exit(9))\n"
    )
    args = [sys.executable, "-c", code, redis_url, str(data_dir), str(batch)]
    return subprocess.run(args, cwd=ROOT, timeout=60).returncode


@pytest.mark.parametrize("rerun_batch", [10, 4, 25])
def test_kill_between_write_and_ack_does_not_duplicate(
    redis_url, redis_client, tmp_path, rerun_batch
):
    put(redis_url, "events", [event(n) for n in range(30)])
    assert crash_after_first_write(redis_url, tmp_path, 10) == 9
    written = list((tmp_path / "events").glob("*.parquet"))
    assert len(written) == 1 and len(partition_ids(tmp_path)) == 10  # written, never acked
    assert redis_client.xpending(KEYS.stream("events"), "ingest")["pending"] == 10

    [result, _, _cases] = ingest(redis_client, KEYS, tmp_path, batch=rerun_batch, break_lock=True)
    ids = partition_ids(tmp_path)
    assert sorted(ids) == sorted(f"e{n}" for n in range(30))  # each exactly once
    assert result.written == 20 and result.duplicates == 10
    assert redis_client.xpending(KEYS.stream("events"), "ingest")["pending"] == 0


def test_crashed_run_holds_the_lock_until_broken(redis_url, redis_client, tmp_path):
    put(redis_url, "events", [event(1)])
    assert crash_after_first_write(redis_url, tmp_path, 10) == 9
    with pytest.raises(IngestBusy):
        ingest(redis_client, KEYS, tmp_path)
    [result, _, _cases] = ingest(redis_client, KEYS, tmp_path, break_lock=True)
    assert result.duplicates == 1 and partition_ids(tmp_path) == ["e1"]


def test_feedback_stream_lands_in_the_feedback_table(redis_url, redis_client, tmp_path):
    responses = [
        {
            "response_id": f"f{n}",
            "customer_id": "c1",
            "survey": "nps",
            "score": n,
            "comment": "ok",
            "channel": "web",
            "touchpoint": "checkout",
            "timestamp": "2026-02-01T10:00:00.000000Z",
        }
        for n in range(11)
    ]
    put(redis_url, "feedback", responses, key="response_id")
    [_, result, _cases] = ingest(redis_client, KEYS, tmp_path)
    assert result.written == 11
    frame = load_table(tmp_path, "feedback")
    assert sorted(frame["score"].tolist()) == list(range(11))
    assert set(frame["touchpoint"]) == {"checkout"}


def test_cli_reports_counts_as_json(redis_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    put(redis_url, "events", [event(n) for n in range(3)])
    result = CliRunner().invoke(build_app(), ["ingest", "--data", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.stdout.strip().splitlines()[-1])
    assert summary["events written"] == 3 and summary["feedback written"] == 0
