"""Live recent events: packed records in a capped, expiring list on a real Redis."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from store.keys import Keys
from store.recent import (
    RecentEvent,
    RecentEventError,
    append_events,
    decode,
    pack_event,
    recent_key,
    unpack_event,
)

KEYS = Keys("tp")


def test_a_record_round_trips_with_unicode_ids():
    event = RecentEvent(
        item_id="sku-é-42", type="add_to_cart", timestamp=1_700_000_000, channel="app"
    )
    assert unpack_event(pack_event(event)) == event


@pytest.mark.parametrize(
    "event",
    [
        RecentEvent("i1", "teleport", 1, "web"),
        RecentEvent("i1", "click", 1, "fax"),
        RecentEvent("i1", "click", -5, "web"),
        RecentEvent("", "click", 1, "web"),
    ],
)
def test_bad_events_are_refused_with_a_domain_error(event):
    with pytest.raises(RecentEventError):
        pack_event(event)


def test_list_is_newest_first_capped_and_expiring(redis_client):
    events = [RecentEvent(f"i{n}", "click", 1000 + n, "web") for n in range(8)]
    pipe = redis_client.pipeline(transaction=False)
    append_events(pipe, KEYS, "c1", reversed(events[:5]), cap=6, ttl=60)
    append_events(pipe, KEYS, "c1", events[5:], cap=6, ttl=60)
    pipe.execute()
    key = KEYS.customer("c1", "recent")
    got = decode(redis_client.lrange(key, 0, -1))
    assert [e.item_id for e in got] == ["i7", "i6", "i5", "i4", "i3", "i2"]
    assert 0 < redis_client.ttl(key) <= 60


def test_async_pipelined_read_decodes_what_was_appended(redis_url, redis_client):
    pipe = redis_client.pipeline(transaction=False)
    append_events(pipe, KEYS, "c2", [RecentEvent("x", "purchase", 5, "store")])
    pipe.execute()

    async def piped():
        client = aioredis.Redis.from_url(redis_url)
        try:
            p = client.pipeline(transaction=False)
            p.lrange(recent_key(KEYS, "c2"), 0, -1)
            (raw,) = await p.execute()
            return decode(raw)
        finally:
            await client.aclose()

    assert asyncio.run(piped()) == [RecentEvent("x", "purchase", 5, "store")]


def test_unknown_customer_has_no_recent_events_and_garbage_is_skipped(redis_client):
    assert decode(None) == []
    assert decode([b"\x01"]) == []
