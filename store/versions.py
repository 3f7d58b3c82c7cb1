"""Versioned publishing: write a whole batch output under a new version, then switch to it.

Data keys are written with plain pipelines (no MULTI): they are invisible to readers until
the one atomic switch of the `live` pointer, which happens only after every write succeeded
and the version is marked complete. A publish that dies half-way leaves the previous version
serving; its keys are deleted (`Versions.discard`) or, if even that fails, expire with their
TTL (every data key is written with one). Versions beyond `keep` are expired after a
grace period so in-flight readers can finish.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson
import redis
import redis.asyncio as aioredis

from contracts.errors import NotFound
from store.config import StoreConfig
from store.keys import Keys

RETIRE_GRACE_SECONDS = 3600
FLUSH_EVERY = 2000

# Switch only if the version finished writing; then push it on the history list. One script,
# so the check and the switch are a single atomic step (all keys share one hash tag).
_SWITCH = """
local meta = redis.call('GET', KEYS[3])
if not meta then return redis.error_reply('unknown version ' .. ARGV[1]) end
if not string.find(meta, '"status":"complete"', 1, true) then
  return redis.error_reply('version ' .. ARGV[1] .. ' is not complete')
end
local previous = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('LREM', KEYS[2], 0, ARGV[1])
redis.call('LPUSH', KEYS[2], ARGV[1])
return previous
"""


class VersionError(NotFound):
    """A version is unknown, incomplete or cannot be activated."""


def new_version() -> str:
    """Sortable and unique: UTC time to the second plus random bits."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


@dataclass
class Release:
    """One version being written. Buffered writes go out every `flush_every` commands (one
    pipeline, bounded: a Spark executor's partition opens its own on the same version)."""

    client: redis.Redis
    keys: Keys
    artifact: str
    version: str
    ttl: int
    written: int = 0
    flush_every: int = FLUSH_EVERY
    _pipe: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._pipe = self.client.pipeline(transaction=False)

    def key(self, name: str) -> str:
        return self.keys.data(self.artifact, self.version, name)

    def customer_key(self, customer_id: str, name: str) -> str:
        return self.keys.customer_data(self.artifact, self.version, customer_id, name)

    def set(self, key: str, value: bytes | str) -> None:
        self._pipe.set(key, value, ex=self.ttl)
        self._count()

    def hset(self, key: str, mapping: dict[str, bytes | str]) -> None:
        if not mapping:
            return
        self._pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
        self._pipe.expire(key, self.ttl)
        self._count(len(mapping))

    def rpush(self, key: str, values: list[bytes | str]) -> None:
        if not values:
            return
        self._pipe.rpush(key, *values)
        self._pipe.expire(key, self.ttl)
        self._count(len(values))

    def flush(self) -> None:
        self._pipe.execute()

    def _count(self, n: int = 1) -> None:
        self.written += n
        if len(self._pipe) >= self.flush_every:
            self.flush()


class Versions:
    """Publish, read and switch versions of one kind of batch output (an artifact)."""

    def __init__(self, client: redis.Redis, config: StoreConfig | None = None) -> None:
        self.client = client
        self.config = config or StoreConfig()
        self.keys = Keys(self.config.namespace)
        self._switch = client.register_script(_SWITCH)

    def publish(
        self,
        artifact: str,
        write: Callable[[Release], None],
        *,
        meta: dict[str, Any] | None = None,
    ) -> str:
        """Write a new version with `write(release)` and make it live; returns the version."""
        version = new_version()
        started = time.time()
        info: dict[str, Any] = {
            "version": version,
            "artifact": artifact,
            "status": "writing",
            "started_at": _iso(started),
            **(meta or {}),
        }
        ttl = self.config.version_ttl_seconds
        self._put_meta(artifact, version, info, ttl)
        release = Release(self.client, self.keys, artifact, version, ttl)
        try:
            write(release)
            release.flush()
        except BaseException:
            self.discard(artifact, version, info)
            raise
        info.update(status="complete", built_at=_iso(time.time()), keys_written=release.written)
        self._put_meta(artifact, version, info, ttl)
        self.activate(artifact, version)
        return version

    def activate(self, artifact: str, version: str) -> str | None:
        """Atomically make `version` live (also used for rollback); returns the previous one."""
        keys = [
            self.keys.live(artifact),
            self.keys.versions(artifact),
            self.keys.meta(artifact, version),
        ]
        try:
            previous = self._switch(keys=keys, args=[version])
        except redis.ResponseError as exc:
            raise VersionError(str(exc)) from exc
        self._refresh_ttl(artifact, version)
        self._retire_old(artifact)
        self.client.publish(self.keys.channel(artifact), version)
        return previous.decode() if isinstance(previous, bytes) else previous

    def discard(self, artifact: str, version: str, info: dict[str, Any]) -> None:
        """A version that failed to write: its data keys deleted, its meta marked `failed` for
        the grace period (what `meta` reports). Best effort: keys it cannot reach keep their
        TTL; the live pointer was never touched."""
        try:
            self._put_meta(artifact, version, {**info, "status": "failed"}, RETIRE_GRACE_SECONDS)
            pipe = self.client.pipeline(transaction=False)
            for key in self._data_keys(artifact, version):
                pipe.unlink(key)
                if len(pipe) >= FLUSH_EVERY:
                    pipe.execute()
            pipe.execute()
        except redis.RedisError:
            pass  # Redis gone: the version's keys expire with their TTL

    def live(self, artifact: str) -> str | None:
        value = self.client.get(self.keys.live(artifact))
        return value.decode() if isinstance(value, bytes) else None

    def history(self, artifact: str) -> list[dict[str, Any]]:
        """Metadata of every version still known, newest first."""
        names = [_text(v) for v in self.client.lrange(self.keys.versions(artifact), 0, -1)]
        metas = self.client.mget([self.keys.meta(artifact, v) for v in names]) if names else []
        return [orjson.loads(m) for m in metas if m]

    def meta(self, artifact: str, version: str) -> dict[str, Any] | None:
        raw = self.client.get(self.keys.meta(artifact, version))
        return orjson.loads(raw) if raw else None

    def rollback(self, artifact: str) -> str:
        """Switch back to the version live before the current one."""
        history = [m["version"] for m in self.history(artifact)]
        if len(history) < 2:
            raise VersionError(f"no earlier version of {artifact} to roll back to")
        target = history[1]
        self.activate(artifact, target)
        return target

    def _put_meta(self, artifact: str, version: str, info: dict[str, Any], ttl: int) -> None:
        self.client.set(self.keys.meta(artifact, version), orjson.dumps(info), ex=ttl)

    def _data_keys(self, artifact: str, version: str) -> Iterator[bytes]:
        yield from self.client.scan_iter(self.keys.data_pattern(artifact, version), count=2000)

    def _refresh_ttl(self, artifact: str, version: str) -> None:
        """A re-activated old version gets a full TTL again (its data was written earlier)."""
        ttl = self.config.version_ttl_seconds
        remaining = self.client.ttl(self.keys.meta(artifact, version))
        if isinstance(remaining, int) and remaining > ttl - 600:
            return  # just published: nothing to refresh
        self._expire_all(artifact, version, ttl)

    def _retire_old(self, artifact: str) -> None:
        """Versions beyond `keep` expire after a grace period; the list forgets them."""
        keep = self.config.keep_versions
        old = self.client.lrange(self.keys.versions(artifact), keep, -1)
        for raw in old:
            version = _text(raw)
            self._expire_all(artifact, version, RETIRE_GRACE_SECONDS)
        if old:
            self.client.ltrim(self.keys.versions(artifact), 0, keep - 1)

    def _expire_all(self, artifact: str, version: str, ttl: int) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.expire(self.keys.meta(artifact, version), ttl)
        for key in self._data_keys(artifact, version):
            pipe.expire(key, ttl)
            if len(pipe) >= FLUSH_EVERY:
                pipe.execute()
        pipe.execute()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


class ArtifactReader:
    """Async reads of one artifact's live version and its metadata, for the API; each
    artifact's reader (`ARTIFACT` set) adds the reads of its own data."""

    ARTIFACT: ClassVar[str]

    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    async def live_version(self) -> str | None:
        raw = await self.client.get(self.keys.live(self.ARTIFACT))
        return raw.decode() if isinstance(raw, bytes) else raw

    async def meta(self, version: str) -> dict[str, Any] | None:
        raw = await self.client.get(self.keys.meta(self.ARTIFACT, version))
        return orjson.loads(raw) if raw else None
