"""What one API process holds: the Redis client and the live version's shared data.

Replicas keep nothing of their own that matters: the shared data is re-read from Redis
whenever the live version changes (polled every `refresh_seconds`). The last version
loaded stays in memory, so when Redis is unreachable the API still answers, degraded,
from the last-known popular lists. On a Redis Cluster a failed poll means one shard (the
live pointer's) failed: the loaded version keeps serving and only the answers whose own
reads fail degrade.

Next to the live version it holds up to `MAX_OTHERS` earlier serving versions that running
A/B variants name (`others`: serving version → shared data; `other_names`: each one's
serving version and registry model version → serving version). They are (re)loaded when the
experiment definitions change (`want`) and on each refresh while any is wanted; a version
publishing no longer keeps is dropped, and its variants then serve their fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from api.settings import ApiSettings
from store.client import RedisEndpoint, async_client
from store.cluster import is_cluster_url
from store.keys import Keys
from store.resp import RespConnection
from store.serving import ServingReader, SharedServing

if TYPE_CHECKING:
    from api.services.impressions import ImpressionWriter

log = logging.getLogger("touchpoint.api")
MAX_OTHERS = 3  # extra serving versions held in memory at most
STOP_SECONDS = 5.0  # the longest a shutdown waits for one step (refresh task, client close)


class ServingState:
    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.keys = Keys(settings.namespace)
        self.endpoint = RedisEndpoint(settings)
        self.client: aioredis.Redis | None = None  # redis-py: everything off the hot path
        # the hot path's own connection and its writes after the answer, made on first use
        # (`api.services.hot`, `api.services.impressions`)
        self.hot: RespConnection | None = None
        self.impressions: ImpressionWriter | None = None
        self.reader: ServingReader | None = None
        self.shared: SharedServing | None = None
        self.redis_ok = False
        self.cluster = False  # Redis Cluster (`redis+cluster://`): see `store.cases`
        self.live_unread = False  # on a cluster: the last refresh could not read the pointer
        self.wanted: frozenset[str] = frozenset()  # models the running variants name
        self.others: dict[str, SharedServing] = {}
        self.other_names: dict[str, str] = {}
        self._others_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        url = await asyncio.to_thread(self.endpoint.open)
        self.cluster = is_cluster_url(url)
        self.client = async_client(url)
        self.reader = ServingReader(self.client, self.keys)
        await self.refresh()
        self._task = asyncio.create_task(self._refresh_forever())

    async def stop(self) -> None:
        """After the impressions are flushed (`api.services.impressions.flushed`)."""
        if self.hot is not None:
            self.hot.close()
            self.hot = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=STOP_SECONDS)  # never a hung shutdown
        if self.client is not None:
            with contextlib.suppress(TimeoutError, RedisError, OSError):
                await asyncio.wait_for(self.client.aclose(), STOP_SECONDS)
        await asyncio.to_thread(self.endpoint.close)

    async def refresh(self) -> None:
        """Load the live version's shared data if it changed; note whether Redis answers."""
        assert self.reader is not None
        try:
            live = await self.reader.live_version()
            if live is not None and (self.shared is None or self.shared.version != live):
                self.shared = await self.reader.load_shared(live)
                log.info("serving version %s loaded (%d items)", live, len(self.shared.items))
            if self.wanted or self.others:
                await self.sync_others()
            self.redis_ok = True
            self.live_unread = False
        except (RedisError, OSError, LookupError) as exc:
            if self.cluster and self.shared is not None and not isinstance(exc, LookupError):
                # one shard (the live pointer's) failed, not the cluster: the version in
                # memory keeps serving and each customer's own read succeeds or degrades
                # alone (`api.services.session`), until the pointer is readable again
                if not self.live_unread:
                    log.warning("live version unreadable, %s keeps serving: %s",
                                self.shared.version, exc)  # fmt: skip
                self.live_unread = True
                return
            if self.redis_ok:
                log.warning("Redis unavailable, serving degraded: %s", exc)
            self.redis_ok = False

    async def want(self, models: Collection[str]) -> None:
        """The models running variants name changed: load the kept versions among them."""
        self.wanted = frozenset(models)
        if self.reader is not None and (self.wanted or self.others):
            await self.sync_others()

    async def kept_names(self) -> dict[str, str]:
        """Serving version and registry model version of every version publishing still
        keeps, except the live one → its serving version (newest first wins a name)."""
        assert self.reader is not None
        live = self.shared.version if self.shared is not None else None
        names: dict[str, str] = {}
        for meta in await self.reader.history():
            version = meta.get("version")
            if not version or version == live or meta.get("status") != "complete":
                continue
            for name in (version, meta.get("model_version")):
                if name:
                    names.setdefault(str(name), str(version))
        return names

    async def sync_others(self) -> None:
        """Hold exactly the wanted kept versions (at most `MAX_OTHERS`); drop the rest."""
        async with self._others_lock:
            kept = await self.kept_names()
            targets: list[str] = []
            for name in sorted(self.wanted):
                version = kept.get(name)
                if version is not None and version not in targets:
                    targets.append(version)
            if len(targets) > MAX_OTHERS:
                log.warning("variants name %d other versions; %d served", len(targets),
                            MAX_OTHERS)  # fmt: skip
                targets = targets[:MAX_OTHERS]
            loaded = {v: self.others[v] for v in targets if v in self.others}
            for version in targets:
                if version not in loaded:
                    try:
                        loaded[version] = await self._load(version)
                    except LookupError as exc:
                        log.warning("serving version %s not loaded: %s", version, exc)
            self.others = loaded
            self.other_names = {n: v for n, v in kept.items() if v in loaded}

    async def _load(self, version: str) -> SharedServing:
        assert self.reader is not None
        shared = await self.reader.load_shared(version)
        log.info("serving version %s loaded for A/B variants (%d items)", version,
                 len(shared.items))  # fmt: skip
        return shared

    def mark_unavailable(self, exc: Exception) -> None:
        if self.redis_ok:
            log.warning("Redis unavailable, serving degraded: %s", exc)
        self.redis_ok = False

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.refresh_seconds)
            await self.refresh()
