"""Token buckets in Redis: the rate limits every API replica shares.

One Lua script takes tokens from one bucket (a hash `{t: tokens, ts: ms}` under
`Keys.rate_bucket`): it refills the bucket for the time passed since it was last touched,
at `rate` tokens a second up to `burst`, then takes `cost` tokens if there are enough. The
clock is Redis' own (`TIME`), so replicas with skewed clocks still share one bucket fairly.
A bucket expires once it would be full again, so idle clients cost no memory.

A request checks one or two buckets (its API key's, its address'): one script call each,
sent together in one write on the hot-path connection (`store.resp`) — one round trip, and
each call names one key, so it stays valid on Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from redis.exceptions import NoScriptError

from store.resp import Command, RespConnection, script_sha

# KEYS[1] = the bucket; ARGV = rate (tokens a second), burst (capacity), cost.
# Returns {1 if taken else 0, milliseconds until `cost` tokens are there (0 if taken),
# whole tokens left}.
TAKE_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local held = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(held[1]) or burst
local since = now - (tonumber(held[2]) or now)
if since > 0 then tokens = math.min(burst, tokens + since * rate / 1000) end
local taken, wait = 0, 0
if tokens >= cost then
  tokens = tokens - cost
  taken = 1
else
  wait = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return {taken, wait, math.floor(tokens)}
"""
TAKE_SHA = script_sha(TAKE_SCRIPT)


class Bucket(NamedTuple):
    """One bucket to take from: its Redis key, its refill rate (tokens a second), its size."""

    key: str
    rate: float
    burst: int


class Verdict(NamedTuple):
    """What one bucket said: taken, or how long until it would be (seconds, rounded up)."""

    taken: bool
    retry_after_ms: int
    left: int

    @property
    def retry_after(self) -> int:
        """Whole seconds, at least 1, as the `Retry-After` header wants them."""
        return max(1, -(-self.retry_after_ms // 1000))


def take_commands(buckets: Sequence[Bucket], cost: int = 1) -> list[Command]:
    """The script calls taking `cost` from each bucket (for `RespConnection.submit`)."""
    return [("EVALSHA", TAKE_SHA, 1, b.key, repr(b.rate), b.burst, cost) for b in buckets]


async def verdicts(conn: RespConnection, buckets: Sequence[Bucket], replies: list[Any],
                   cost: int = 1) -> list[Verdict]:  # fmt: skip
    """The replies of `take_commands` as verdicts; after a NOSCRIPT (a restarted or flushed
    server) the script is registered and the calls sent again. Raises a Redis error."""
    if any(isinstance(r, NoScriptError) for r in replies):
        await conn.execute("SCRIPT", "LOAD", TAKE_SCRIPT)
        replies = await conn.execute_many(take_commands(buckets, cost))
    out = []
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
        taken, wait, left = reply
        out.append(Verdict(bool(taken), int(wait), int(left)))
    return out


async def take(conn: RespConnection, buckets: Sequence[Bucket], cost: int = 1) -> list[Verdict]:
    """Take `cost` tokens from each bucket (one round trip); a verdict per bucket."""
    if not buckets:
        return []
    replies = await conn.execute_many(take_commands(buckets, cost))
    return await verdicts(conn, buckets, replies, cost)
