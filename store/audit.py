"""The dashboard's action log: who did what, newest first, in one capped Redis list.

`Keys.global_("ui:audit")` holds JSON entries `{at, who, action, target, detail}`; the
newest `KEPT` are kept. The log line of each action (`touchpoint.ui`) is the lasting record.
"""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis

from store.keys import Keys

KEPT = 500


def audit_key(keys: Keys) -> str:
    return keys.global_("ui:audit")


def secret_key(keys: Keys) -> str:
    """The random secret signing dashboard sessions, shared by every API replica."""
    return keys.global_("ui:secret")


async def append(client: aioredis.Redis, keys: Keys, entry: dict[str, Any]) -> None:
    pipe = client.pipeline(transaction=False)
    pipe.lpush(audit_key(keys), orjson.dumps(entry))
    pipe.ltrim(audit_key(keys), 0, KEPT - 1)
    await pipe.execute()


async def latest(client: aioredis.Redis, keys: Keys, count: int = 50) -> list[dict[str, Any]]:
    raw = await client.lrange(audit_key(keys), 0, count - 1)
    return [orjson.loads(r) for r in raw]


async def shared_secret(client: aioredis.Redis, keys: Keys, candidate: bytes) -> bytes:
    """The secret already stored, else `candidate` (stored once: the first replica wins)."""
    await client.set(secret_key(keys), candidate, nx=True)
    stored = await client.get(secret_key(keys))
    return stored if isinstance(stored, bytes) and stored else candidate
