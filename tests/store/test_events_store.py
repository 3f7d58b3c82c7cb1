"""Intake streams in a real Redis: idempotent appends (also under races), cap, redelivery."""

from __future__ import annotations

import asyncio

import orjson
import redis.asyncio as aioredis

from store import events as intake
from store.keys import Keys

KEYS = Keys()


def records(ids) -> list[intake.Record]:
    return [intake.Record(f"e{i}", {"event_id": f"e{i}", "n": i}) for i in ids]


def run_append(redis_url: str, *batches: list[intake.Record], **kwargs) -> list[list[bool]]:
    """Send the batches concurrently over separate connections, like replicas would."""

    async def go() -> list[list[bool]]:
        clients = [aioredis.Redis.from_url(redis_url) for _ in batches]
        try:
            sends = [
                intake.append(c, KEYS, "events", b, **kwargs)
                for c, b in zip(clients, batches, strict=True)
            ]
            return await asyncio.gather(*sends)
        finally:
            for c in clients:
                await c.aclose()

    return asyncio.run(go())


def test_concurrent_retries_of_one_batch_are_counted_once(redis_url, redis_client):
    batch = records(range(200))
    results = run_append(redis_url, batch, batch, batch, batch)
    accepted = [sum(flags) for flags in results]
    assert sum(accepted) == 200
    # each record was taken by exactly one of the four senders
    assert all(sum(r[i] for r in results) == 1 for i in range(200))
    ids = [orjson.loads(f[b"d"])["event_id"] for _, f in redis_client.xrange(KEYS.stream("events"))]
    assert sorted(ids) == sorted(f"e{i}" for i in range(200))


def test_stream_is_capped_approximately(redis_url, redis_client):
    for start in range(0, 2000, 500):
        run_append(redis_url, records(range(start, start + 500)), maxlen=100)
    length = redis_client.xlen(KEYS.stream("events"))
    assert 100 <= length < 2000


def test_marks_carry_the_ttl(redis_url, redis_client):
    run_append(redis_url, records([1]), seen_ttl=120)
    assert 0 < redis_client.ttl(KEYS.seen("events", "e1")) <= 120


def test_unacknowledged_entries_are_delivered_again(redis_url, redis_client):
    run_append(redis_url, records(range(5)))
    reader = intake.StreamReader(redis_client, KEYS, "events")
    reader.ensure_group()
    reader.ensure_group()  # idempotent
    first = reader.read(3, pending=False)
    assert [e.fields["n"] for e in first] == [0, 1, 2]
    again = reader.read(10, pending=True)
    assert [e.stream_id for e in again] == [e.stream_id for e in first]
    reader.ack([first[0].stream_id])
    assert [e.fields["n"] for e in reader.read(10, pending=True)] == [1, 2]
    assert reader.backlog() == 4  # two pending + two never delivered


def test_entry_trimmed_after_delivery_comes_back_without_fields(redis_url, redis_client):
    run_append(redis_url, records(range(2)))
    reader = intake.StreamReader(redis_client, KEYS, "events")
    reader.ensure_group()
    delivered = reader.read(10, pending=False)
    redis_client.xdel(KEYS.stream("events"), delivered[0].stream_id)
    again = reader.read(10, pending=True)
    assert again[0].fields is None and again[1].fields == {"event_id": "e1", "n": 1}


def test_lock_is_exclusive_until_released_or_broken(redis_client):
    a = intake.StreamReader(redis_client, KEYS, "events")
    assert a.lock("one") and not a.lock("two")
    a.unlock("two")  # not the holder: no effect
    assert not a.lock("three")
    assert a.lock("four", force=True)
    a.unlock("four")
    assert a.lock("five")
