"""Intake streams: events, feedback (and follow-up cases) appended by the API, drained by
`touchpoint ingest`.

Appending is idempotent by record id: one Lua script sets a `seen` mark (SET NX with a TTL)
and appends to the stream only when the mark was new, so a retried batch is never counted
twice, not even when two replicas receive the same retry at once. Marks live in the
stream's hash slot, so the script stays valid on Redis Cluster.

Draining uses a consumer group: entries are delivered, written to a partition file by the
job, and acknowledged only then; entries read but not acknowledged (a crash) are delivered
again to the next run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis

from store.keys import Keys

EVENTS = "events"
FEEDBACK = "feedback"
CASES = "cases"  # appended by the case store (`store.cases`), not by `append`
STREAMS = (EVENTS, FEEDBACK, CASES)
GROUP = "ingest"
CONSUMER = "ingest"
DEFAULT_SEEN_TTL = 7 * 24 * 3600
DEFAULT_MAXLEN = 1_000_000
LOCK_SECONDS = 300  # refreshed after every batch

# KEYS[1] = stream, KEYS[2..] = seen marks; ARGV[1] = mark TTL, ARGV[2] = MAXLEN,
# ARGV[3..] = payloads (same order as the marks). Returns 1 per appended record, 0 per duplicate.
_APPEND = """
local out = {}
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'd', ARGV[i + 1])
    out[i - 1] = 1
  else
    out[i - 1] = 0
  end
end
return out
"""


@dataclass(frozen=True)
class Record:
    """One record to append: its idempotency id and its JSON-ready fields."""

    id: str
    fields: dict[str, Any]


async def append(
    client: aioredis.Redis | aioredis.client.Pipeline,
    keys: Keys,
    stream: str,
    records: Sequence[Record],
    *,
    seen_ttl: int = DEFAULT_SEEN_TTL,
    maxlen: int = DEFAULT_MAXLEN,
) -> list[bool]:
    """Append the records not seen before; returns, per record, whether it was new."""
    if not records:
        return []
    marks = [keys.seen(stream, r.id) for r in records]
    payloads = [orjson.dumps(r.fields) for r in records]
    flags = await client.eval(  # type: ignore[misc]
        _APPEND, 1 + len(marks), keys.stream(stream), *marks, seen_ttl, maxlen, *payloads
    )
    return [bool(f) for f in flags]


@dataclass(frozen=True)
class Entry:
    """One delivered stream entry; `fields` is None when the entry was trimmed before ingest."""

    stream_id: str
    fields: dict[str, Any] | None


class StreamReader:
    """The consumer-group side of one stream, for the ingest job (synchronous client)."""

    def __init__(self, client: redis.Redis, keys: Keys, stream: str) -> None:
        self.client = client
        self.keys = keys
        self.stream = stream
        self.key = keys.stream(stream)

    def ensure_group(self) -> None:
        """Create the group at the start of the stream (and the stream itself) if missing."""
        try:
            self.client.xgroup_create(self.key, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read(self, count: int, *, pending: bool) -> list[Entry]:
        """Up to `count` entries: first those delivered earlier but never acknowledged
        (`pending=True`), then new ones."""
        reply = self.client.xreadgroup(
            GROUP, CONSUMER, {self.key: "0" if pending else ">"}, count=count
        )
        entries: list[Entry] = []
        items: list[Any] = reply[0][1] if reply else []  # type: ignore[index,assignment]
        for raw_id, raw_fields in items:
            payload = (raw_fields or {}).get(b"d")
            fields = orjson.loads(payload) if payload else None
            entries.append(Entry(raw_id.decode(), fields))
        return entries

    def ack(self, stream_ids: Sequence[str]) -> None:
        if stream_ids:
            self.client.xack(self.key, GROUP, *stream_ids)

    def trim_before(self, stream_id: str) -> None:
        """Drop acknowledged entries older than `stream_id` (approximate, cheap)."""
        self.client.xtrim(self.key, minid=stream_id, approximate=True)

    def backlog(self) -> int:
        """Entries not yet delivered to the group plus those delivered but unacknowledged."""
        groups = {g["name"].decode(): g for g in self.client.xinfo_groups(self.key)}  # type: ignore[union-attr]
        group = groups.get(GROUP)
        if group is None:
            return int(self.client.xlen(self.key))  # type: ignore[arg-type]
        lag = group.get("lag")
        return int(group["pending"]) + int(lag if lag is not None else 0)

    def lock(self, token: str, *, force: bool = False) -> bool:
        """One ingest per stream at a time: concurrent runs would write the same partitions.
        `force` takes over a lock left behind by a run that died."""
        key = self.keys.stream_lock(self.stream)
        return bool(self.client.set(key, token, nx=not force, ex=LOCK_SECONDS))

    def keep_lock(self) -> None:
        """Extend the lock while a long drain is still making progress."""
        self.client.expire(self.keys.stream_lock(self.stream), LOCK_SECONDS)

    def unlock(self, token: str) -> None:
        # Release only our own lock (it may have expired and been taken by another run).
        self.client.eval(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end"
            " return 0",
            1,
            self.keys.stream_lock(self.stream),
            token,
        )
