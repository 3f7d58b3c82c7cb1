"""What one API process holds: the Redis client and the live version's shared data.

Replicas keep nothing of their own that matters: the shared data is re-read from Redis
whenever the live version changes (polled every `refresh_seconds`). The last version
loaded stays in memory, so when Redis is unreachable the API still answers, degraded,
from the last-known popular lists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from api.settings import ApiSettings
from store.client import RedisEndpoint, async_client
from store.keys import Keys
from store.serving import ServingReader, SharedServing

log = logging.getLogger("touchpoint.api")


class ServingState:
    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.keys = Keys(settings.namespace)
        self.endpoint = RedisEndpoint(settings)
        self.client: aioredis.Redis | None = None
        self.reader: ServingReader | None = None
        self.shared: SharedServing | None = None
        self.redis_ok = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        url = await asyncio.to_thread(self.endpoint.open)
        self.client = async_client(url)
        self.reader = ServingReader(self.client, self.keys)
        await self.refresh()
        self._task = asyncio.create_task(self._refresh_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.client is not None:
            await self.client.aclose()
        await asyncio.to_thread(self.endpoint.close)

    async def refresh(self) -> None:
        """Load the live version's shared data if it changed; note whether Redis answers."""
        assert self.reader is not None
        try:
            live = await self.reader.live_version()
            if live is not None and (self.shared is None or self.shared.version != live):
                self.shared = await self.reader.load_shared(live)
                log.info("serving version %s loaded (%d items)", live, len(self.shared.items))
            self.redis_ok = True
        except (RedisError, OSError, LookupError) as exc:
            if self.redis_ok:
                log.warning("Redis unavailable, serving degraded: %s", exc)
            self.redis_ok = False

    def mark_unavailable(self, exc: Exception) -> None:
        if self.redis_ok:
            log.warning("Redis unavailable, serving degraded: %s", exc)
        self.redis_ok = False

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.refresh_seconds)
            await self.refresh()
