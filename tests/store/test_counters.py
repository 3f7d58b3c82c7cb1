"""Impression windows and redemption counts on a real Redis."""

from __future__ import annotations

import asyncio

import pytest

from store.counters import (
    DAY,
    decode_redeemed,
    decode_window,
    queue_read_redeemed,
    queue_read_windows,
    record_impressions,
    record_redemptions,
    window_key,
)
from store.keys import Keys
from store.resp import CommandBuffer, RespConnection

KEYS = Keys("tp")
NOW = 1_700_000_000.0


def read_windows(client, customer_id, windows, now=NOW):
    pipe = client.pipeline(transaction=False)
    queued = queue_read_windows(pipe, KEYS, customer_id, windows, now)
    return {d: decode_window(d, raw) for d, raw in zip(queued, pipe.execute(), strict=True)}


def test_impressions_count_per_item_and_per_channel_kind_in_every_window(redis_client):
    for channel in ("email", "email", "web"):
        pipe = redis_client.pipeline(transaction=False)
        record_impressions(
            pipe, KEYS, "c1", channel=channel, shown=[("o1", "offer"), ("p1", "product")],
            windows=[7, 1], now=NOW,
        )  # fmt: skip
        pipe.execute()
    windows = read_windows(redis_client, "c1", [1, 7])
    for days in (1, 7):
        assert windows[days].item("o1") == 3 and windows[days].item("nope") == 0
        assert windows[days].channel_kind("email", "offer") == 2
        assert windows[days].channel_kind("web", "product") == 1
    ttl = redis_client.ttl(window_key(KEYS, "c1", 7, NOW))
    assert 7 * DAY < ttl <= 8 * DAY


def send_buffer(redis_url, buffer):
    """What the API's writer does: load the buffer's scripts, send its commands."""

    async def main():
        conn = RespConnection(redis_url)
        loads = [("SCRIPT", "LOAD", text) for text in buffer.scripts.values()]
        replies = await conn.execute_many(loads + buffer.commands)
        conn.close()
        return replies

    replies = asyncio.run(main())
    assert not [r for r in replies if isinstance(r, Exception)]


@pytest.mark.parametrize("via", ["redis-py pipeline", "command buffer"])
def test_one_script_call_writes_what_one_hincrby_per_field_wrote(redis_client, redis_url, via):
    """Fields, counts and TTLs as the former HINCRBY per item, per (channel, kind), EXPIRE per
    window; written out by hand here (a repeated item counts twice)."""
    shown = [("p1", "product"), ("o1", "offer"), ("p1", "product"), ("p:2", "product")]
    for channel in ("email", "web"):
        if via == "command buffer":
            buffer = CommandBuffer()
            record_impressions(buffer, KEYS, "c:1", channel=channel, shown=shown,
                               windows=[30, 1, 7, 7], now=NOW)  # fmt: skip
            assert len(buffer.commands) == 1
            send_buffer(redis_url, buffer)
        else:
            pipe = redis_client.pipeline(transaction=False)
            record_impressions(pipe, KEYS, "c:1", channel=channel, shown=shown,
                               windows=[30, 1, 7, 7], now=NOW)  # fmt: skip
            assert len(pipe.command_stack) == 1
            pipe.execute()
    day = int(NOW // 86400)
    expected = {b"i:p1": b"4", b"i:o1": b"2", b"i:p:2": b"2", b"c:email:product": b"3",
                b"c:email:offer": b"1", b"c:web:product": b"3", b"c:web:offer": b"1"}  # fmt: skip
    for days in (1, 7, 30):
        key = f"tp:c:{{c:1}}:freq:{days}d:{day // days}"
        assert redis_client.hgetall(key) == expected
        assert (days + 1) * 86400 - 60 < redis_client.ttl(key) <= (days + 1) * 86400
    assert sorted(redis_client.keys("*")) == sorted(
        f"tp:c:{{c:1}}:freq:{d}d:{day // d}".encode() for d in (1, 7, 30)
    )


def test_item_ids_reach_their_fields_byte_for_byte(redis_client):
    """The ids travel as one JSON argument: quotes, backslashes, non-ASCII and digits-only
    ids must still name the field `i:<id>` exactly as the readers spell it."""
    ids = ['say "hi"', "back\\slash", "café-ü", "007", "a b", "[1]"]
    pipe = redis_client.pipeline(transaction=False)
    record_impressions(pipe, KEYS, "c1", channel="web", shown=[(i, "product") for i in ids],
                       windows=[7], now=NOW)  # fmt: skip
    pipe.execute()
    fields = redis_client.hgetall(window_key(KEYS, "c1", 7, NOW))
    assert fields == {**{f"i:{i}".encode(): b"1" for i in ids}, b"c:web:product": b"6"}
    assert read_windows(redis_client, "c1", [7])[7].items == dict.fromkeys(ids, 1)


def test_nothing_shown_or_no_window_queues_nothing():
    buffer = CommandBuffer()
    record_impressions(buffer, KEYS, "c1", channel="web", shown=[], windows=[7], now=NOW)
    record_impressions(buffer, KEYS, "c1", channel="web", shown=[("p", "product")], windows=[])
    assert buffer.commands == []


def test_a_new_window_starts_from_zero(redis_client):
    pipe = redis_client.pipeline(transaction=False)
    record_impressions(
        pipe, KEYS, "c1", channel="web", shown=[("x", "product")], windows=[7], now=NOW
    )
    pipe.execute()
    later = NOW + 7 * DAY
    assert read_windows(redis_client, "c1", [7], later)[7].item("x") == 0
    assert read_windows(redis_client, "c2", [7])[7].items == {}


def test_redemptions_accumulate_per_offer(redis_client):
    pipe = redis_client.pipeline(transaction=False)
    record_redemptions(pipe, KEYS, ["o1", "o1", "o2"])
    queue_read_redeemed(pipe, KEYS)
    *_, raw = pipe.execute()
    assert decode_redeemed(raw) == {"o1": 2, "o2": 1}
