"""The dashboard's shared state in Redis: the secret that signs its sessions.

Actions taken in the dashboard go to the audit trail (`store.audit`), like every other
state-changing call.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from store.keys import Keys


def secret_key(keys: Keys) -> str:
    """The random secret signing dashboard sessions, shared by every API replica."""
    return keys.global_("ui:secret")


async def shared_secret(client: aioredis.Redis, keys: Keys, candidate: bytes) -> bytes:
    """The secret already stored, else `candidate` (stored once: the first replica wins)."""
    await client.set(secret_key(keys), candidate, nx=True)
    stored = await client.get(secret_key(keys))
    return stored if isinstance(stored, bytes) and stored else candidate
