"""The post-answer writer on the hot connection, against a real redis-server."""

from __future__ import annotations

import asyncio

from api.services.impressions import ImpressionWriter
from store import counters
from store.attribution import record_served
from store.keys import Keys
from store.resp import CommandBuffer, RespConnection

KEYS = Keys("tp")
NOW = 1_700_000_000.0


def answer(customer_id: str, rec_id: str):
    """One answer's writes, as `api.recommend` queues them (plus a redemption: a plain
    HINCRBY next to the script, which must not be counted twice when the script is re-sent)."""

    def queue(pipe: CommandBuffer) -> None:
        counters.record_impressions(
            pipe, KEYS, customer_id, channel="web", shown=[("p1", "product"), ("o1", "offer")],
            windows=[7, 1], now=NOW,
        )  # fmt: skip
        record_served(pipe, rec_id, customer_id, ["p1", "o1"], keys=KEYS)
        counters.record_redemptions(pipe, KEYS, ["o1"])

    return queue


def test_the_writer_records_after_the_scripts_are_flushed(redis_client, redis_url):
    async def main():
        writer = ImpressionWriter(RespConnection(redis_url))
        redis_client.script_flush()
        await writer.add(answer("c1", "r1"))  # the script was never loaded
        redis_client.script_flush()  # as after a restart
        await asyncio.gather(*(writer.add(answer(f"c{i}", f"r{i}")) for i in (1, 2, 3)))
        writer.conn.close()

    asyncio.run(main())
    for customer_id, shows in (("c1", b"2"), ("c2", b"1"), ("c3", b"1")):
        for days in (1, 7):
            key = f"tp:c:{{{customer_id}}}:freq:{days}d:{int(NOW // 86400) // days}"
            assert redis_client.hgetall(key) == {
                b"i:p1": shows, b"i:o1": shows, b"c:web:product": shows, b"c:web:offer": shows
            }  # fmt: skip
    assert redis_client.hget(counters.redeemed_key(KEYS), "o1") == b"4"
    assert redis_client.hget(KEYS.recommendation("r3", "served"), "customer") == b"c3"
