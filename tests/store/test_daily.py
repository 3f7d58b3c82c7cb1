"""Daily totals (`store.daily`) on a real Redis: grouped by UTC day and channel, with a TTL."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from store import daily
from store.answers import Answer
from store.keys import Keys

KEYS = Keys()
MIDNIGHT = 1_700_006_400.0  # 2023-11-15T00:00:00Z


def test_answers_count_per_utc_day_and_channel(redis_client, redis_url):
    shown = [("p1", "product")]
    answers = [
        Answer("c1", "web", shown, "r1", MIDNIGHT - 1, (7,)),
        Answer("c2", "web", shown, "r2", MIDNIGHT, (7,)),
        Answer("c3", "app", shown, "r3", MIDNIGHT + 60, (7,)),
        Answer("c4", "app", [], "r4", MIDNIGHT + 60, (7,)),  # showed nothing: not counted
    ]
    pipe = redis_client.pipeline(transaction=False)
    daily.queue_served(pipe, KEYS, answers)
    pipe.execute()
    days = daily.last_days(3, MIDNIGHT + 60)
    assert days == ["2023-11-13", "2023-11-14", "2023-11-15"]

    async def read():
        client = aioredis.Redis.from_url(redis_url)
        try:
            return await daily.read_days(client, KEYS, daily.SERVED, days)
        finally:
            await client.aclose()

    assert asyncio.run(read()) == [{}, {"web": 1}, {"web": 1, "app": 1}]
    ttl = redis_client.ttl(daily.daily_key(KEYS, daily.SERVED, "2023-11-15"))
    assert 0 < ttl <= daily.DAYS_KEPT * 86400
