"""The token-bucket script on a real Redis: burst, refusal with the wait, expiry, no clock
of ours (Redis' TIME)."""

from __future__ import annotations

import asyncio

from store.keys import Keys
from store.ratelimit import Bucket, take
from store.resp import RespConnection

KEYS = Keys()


def run(coro):
    return asyncio.run(coro)


async def _take_all(url: str, bucket: Bucket, n: int, cost: int = 1):
    conn = RespConnection(url)
    try:
        return [(await take(conn, [bucket], cost))[0] for _ in range(n)]
    finally:
        conn.close()


def test_a_burst_is_taken_then_refused_with_the_time_to_the_next_token(redis_url, redis_client):
    bucket = Bucket(KEYS.rate_bucket("k:abc", "*"), rate=0.1, burst=3)  # a token every 10 s
    found = run(_take_all(redis_url, bucket, 5))
    assert [v.taken for v in found] == [True, True, True, False, False]
    assert [v.left for v in found[:3]] == [2, 1, 0]
    refused = found[3]
    assert 5_000 < refused.retry_after_ms <= 10_000 and refused.retry_after <= 10
    ttl = redis_client.pttl(bucket.key)
    assert 10_000 < ttl <= 31_000  # expires once it would be full again (3 tokens, +1 s)


def test_a_cost_larger_than_the_tokens_left_is_refused_and_takes_nothing(redis_url):
    bucket = Bucket(KEYS.rate_bucket("a:127.0.0.1", "*"), rate=0.01, burst=5)
    taken, refused, small = run(_take_all_costs(redis_url, bucket, [3, 3, 2]))
    assert taken.taken and not refused.taken and small.taken and small.left == 0
    assert 90_000 < refused.retry_after_ms <= 100_000  # 1 token short at one per 100 s


async def _take_all_costs(url: str, bucket: Bucket, costs: list[int]):
    conn = RespConnection(url)
    try:
        return [(await take(conn, [bucket], cost))[0] for cost in costs]
    finally:
        conn.close()


def test_buckets_are_separate_and_the_script_reloads_after_a_flush(redis_url, redis_client):
    a = Bucket(KEYS.rate_bucket("k:a", "*"), rate=0.01, burst=1)
    b = Bucket(KEYS.rate_bucket("k:b", "*"), rate=0.01, burst=1)
    assert [v.taken for v in run(_take_all(redis_url, a, 2))] == [True, False]
    redis_client.script_flush()  # as after a restart: NOSCRIPT, then loaded again
    assert [v.taken for v in run(_take_all(redis_url, b, 2))] == [True, False]
