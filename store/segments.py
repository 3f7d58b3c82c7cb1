"""The `segments` artifact: segment catalogue, member lists, per-customer memberships and
deltas, published as one version by `touchpoint segment` and read by the API.

Per version (data keys, see `store.keys`):
- `catalogue` — JSON list of {name, family, title, description, rule, size}
- `m:NAME:CHUNK` — members in fixed chunks of `CHUNK` ids, `\\n`-joined: a page is one or
  two GETs whatever the offset, and a full export streams chunk by chunk
- `d:NAME:entered` / `d:NAME:exited` — `\\n`-joined ids versus the previous version
- `cs:BUCKET` — hashes of customer id -> the customer's segment names (`;`-joined), the
  customer in bucket `crc32(id) % CUSTOMER_BUCKETS`. Why not one key per customer: a 1M
  customer run would cost 1M commands (most of the publish time); 4,096 HSETs carry the
  same data, and a lookup is still one HGET. Each bucket key lands on its own cluster slot.
Outside versions: `g:segments:sizes`, a capped list of {version, built_at, sizes} so size
history outlives the versions themselves. No pandas here: lists and dicts in, bytes out.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import redis

from store.config import StoreConfig
from store.keys import Keys
from store.versions import ArtifactReader, Release, Versions

ARTIFACT = "segments"
CHUNK = 10_000
CUSTOMER_BUCKETS = 4096
SIZE_HISTORY = 200  # runs kept in the size history


@dataclass(frozen=True)
class SegmentRelease:
    """What one segmentation run publishes (plain Python, ids as strings)."""

    catalogue: list[dict[str, Any]]
    members: Mapping[str, Sequence[str]]
    customer_segments: Iterable[tuple[str, str]]
    deltas: Mapping[str, tuple[Sequence[str], Sequence[str]]]  # name -> (entered, exited)
    previous: str | None
    meta: dict[str, Any]


def chunk_key(name: str, chunk: int) -> str:
    return f"m:{name}:{chunk}"


def bucket_key(customer_id: str) -> str:
    return f"cs:{zlib.crc32(customer_id.encode()) % CUSTOMER_BUCKETS}"


def publish_segments(client: redis.Redis, config: StoreConfig, data: SegmentRelease) -> str:
    """Write a new version, switch to it atomically, then append its sizes to the history."""
    versions = Versions(client, config)
    meta = {**data.meta, "previous": data.previous}
    version = versions.publish(ARTIFACT, lambda release: _write(release, data), meta=meta)
    built = (versions.meta(ARTIFACT, version) or {}).get("built_at")
    entry = {
        "version": version,
        "built_at": built,
        "sizes": {row["name"]: row["size"] for row in data.catalogue},
    }
    key = Keys(config.namespace).global_("segments:sizes")
    pipe = client.pipeline(transaction=False)
    pipe.lpush(key, orjson.dumps(entry))
    pipe.ltrim(key, 0, SIZE_HISTORY - 1)
    pipe.execute()
    return version


def _write(release: Release, data: SegmentRelease) -> None:
    release.set(release.key("catalogue"), orjson.dumps(data.catalogue))
    for name, ids in data.members.items():
        for chunk, start in enumerate(range(0, len(ids), CHUNK)):
            release.set(release.key(chunk_key(name, chunk)), "\n".join(ids[start : start + CHUNK]))
    for name, (entered, exited) in data.deltas.items():
        release.set(release.key(f"d:{name}:entered"), "\n".join(entered))
        release.set(release.key(f"d:{name}:exited"), "\n".join(exited))
    buckets: dict[str, dict[str, bytes | str]] = {}
    for customer_id, names in data.customer_segments:
        buckets.setdefault(bucket_key(customer_id), {})[customer_id] = names
    for key, mapping in buckets.items():
        release.hset(release.key(key), mapping)


def _split(raw: bytes | str | None) -> list[str]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    return text.split("\n") if text else []


def read_live_members(
    client: redis.Redis, config: StoreConfig
) -> tuple[str | None, dict[str, list[str]]]:
    """The live version and its member lists (what the next run diffs against)."""
    keys = Keys(config.namespace)
    version = Versions(client, config).live(ARTIFACT)
    if version is None:
        return None, {}
    raw = client.get(keys.data(ARTIFACT, version, "catalogue"))
    if raw is None:
        return None, {}  # live pointer outlived its data: treat as no previous version
    members: dict[str, list[str]] = {}
    for row in orjson.loads(raw):
        chunks = -(-int(row["size"]) // CHUNK)
        names = [keys.data(ARTIFACT, version, chunk_key(row["name"], c)) for c in range(chunks)]
        values = client.mget(names) if names else []
        members[row["name"]] = [i for v in values for i in _split(v)]  # type: ignore[union-attr]
    return version, members


class SegmentReader(ArtifactReader):
    """Async reads for the API; every call takes the version explicitly so a client paging
    through one version keeps reading that version after a newer one goes live."""

    ARTIFACT = ARTIFACT

    def _key(self, version: str, name: str) -> str:
        return self.keys.data(ARTIFACT, version, name)

    async def catalogue(self, version: str) -> list[dict[str, Any]] | None:
        """None when the version's data is gone (expired)."""
        raw = await self.client.get(self._key(version, "catalogue"))
        return orjson.loads(raw) if raw else None

    async def size_history(self) -> list[dict[str, Any]]:
        raw = await self.client.lrange(self.keys.global_("segments:sizes"), 0, -1)
        return [orjson.loads(r) for r in raw]

    async def page(self, version: str, name: str, offset: int, limit: int) -> list[str] | None:
        """Members [offset, offset + limit) in their stored order; None if the data expired."""
        first, last = offset // CHUNK, (offset + limit - 1) // CHUNK
        keys = [self._key(version, chunk_key(name, c)) for c in range(first, last + 1)]
        values = await self.client.mget(keys)
        if values[0] is None:
            return None
        ids = [i for v in values for i in _split(v)]
        start = offset - first * CHUNK
        return ids[start : start + limit]

    async def stream(self, version: str, name: str, size: int) -> AsyncIterator[list[str]]:
        """Every member, one chunk at a time (never the whole list in memory)."""
        for chunk in range(-(-size // CHUNK)):
            raw = await self.client.get(self._key(version, chunk_key(name, chunk)))
            if raw is None:
                raise LookupError(f"segments version {version} expired during the export")
            yield _split(raw)

    async def all_members(self, version: str, name: str, size: int) -> list[str]:
        return [i async for chunk in self.stream(version, name, size) for i in chunk]

    async def delta(self, version: str, name: str) -> tuple[list[str], list[str]] | None:
        pipe = self.client.pipeline(transaction=False)
        pipe.exists(self._key(version, f"d:{name}:entered"))
        pipe.get(self._key(version, f"d:{name}:entered"))
        pipe.get(self._key(version, f"d:{name}:exited"))
        exists, entered, exited = await pipe.execute()
        return (_split(entered), _split(exited)) if exists else None

    async def customer_segments(self, version: str, customer_id: str) -> list[str] | None:
        raw = await self.client.hget(self._key(version, bucket_key(customer_id)), customer_id)
        text = raw.decode() if isinstance(raw, bytes) else raw
        return None if text is None else [s for s in text.split(";") if s]
