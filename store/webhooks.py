"""The webhook worker's state in Redis, all in the case-events stream's slot.

- the stream `tp:{cases}:s:case-events:stream`, read through consumer group `webhooks`;
- `…:x:hooks:retry` (sorted set delivery id → due time) and `…:x:hooks:deliveries` (hash
  delivery id → JSON): the retry schedule;
- `…:x:hooks:dead` (hash delivery id → JSON): the dead-letter list;
- `…:x:hooks:due` (sorted set case id → due time) and `…:x:hooks:cases` (hash case id → JSON
  of the case as last seen on the stream): open cases not yet reported overdue;
  `…:x:hooks:overdue:CASE` marks a case reported (so `case.overdue` is emitted once).

At-least-once: a stream entry is acknowledged in the same MULTI that records what became of
each of its deliveries (done, moved to the retry schedule, or dead-lettered), never before;
a retry is leased (its due time pushed `lease` seconds ahead) while it is tried, so a worker
killed mid-attempt leaves it due again when the lease runs out.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import redis

from store.case_events import CASE_EVENTS, MAXLEN, case_event
from store.keys import Keys

GROUP = "webhooks"
OVERDUE_MARK_TTL = 180 * 24 * 3600  # a case is reported overdue once within half a year

# KEYS: retry zset, deliveries hash; ARGV: now, lease, count. Leases up to `count` due retries.
_LEASE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), id)
  local record = redis.call('HGET', KEYS[2], id)
  if record then out[#out + 1] = record else redis.call('ZREM', KEYS[1], id) end
end
return out
"""
# KEYS: stream, mark, due zset, cases hash; ARGV: case id, entry JSON, maxlen, mark ttl.
_OVERDUE = """
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[4]) then
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'd', ARGV[2])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class StreamEntry:
    stream_id: str
    entry: dict[str, Any] | None  # None: trimmed before it was read


class WebhookStore:
    """What the worker and `touchpoint webhooks` read and write (synchronous client)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self.stream = keys.stream(CASE_EVENTS)
        self.retry = keys.stream_state(CASE_EVENTS, "hooks:retry")
        self.deliveries = keys.stream_state(CASE_EVENTS, "hooks:deliveries")
        self.dead = keys.stream_state(CASE_EVENTS, "hooks:dead")
        self.due = keys.stream_state(CASE_EVENTS, "hooks:due")
        self.cases = keys.stream_state(CASE_EVENTS, "hooks:cases")

    def ensure_group(self) -> None:
        """The group starts at the stream's beginning: events queued before the first worker
        ran are delivered too."""
        try:
            self.client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read(
        self, consumer: str, count: int, *, pending: bool, block_ms: int = 0
    ) -> list[StreamEntry]:
        """Entries this consumer was given but never acknowledged (`pending`), else new ones."""
        reply: Any = self.client.xreadgroup(
            GROUP,
            consumer,
            {self.stream: "0" if pending else ">"},
            count=count,
            block=None if pending or block_ms <= 0 else block_ms,
        )
        items: list[Any] = reply[0][1] if reply else []
        return [_entry(raw_id, fields) for raw_id, fields in items]

    def claim_stale(self, consumer: str, idle_ms: int, count: int) -> list[StreamEntry]:
        """Take over entries another (dead) consumer left unacknowledged for `idle_ms`."""
        reply: Any = self.client.xautoclaim(
            self.stream, GROUP, consumer, min_idle_time=idle_ms, start_id="0-0", count=count
        )
        return [_entry(raw_id, fields) for raw_id, fields in reply[1] if fields is not None]

    def settle(
        self,
        stream_id: str,
        *,
        later: Sequence[tuple[dict[str, Any], float]],
        dead: Sequence[dict[str, Any]],
        cases: Iterable[tuple[dict[str, Any], float | None]] = (),
    ) -> None:
        """Acknowledge one entry and, in the same MULTI, schedule the deliveries to retry
        (`later`: record, due time), dead-letter the hopeless ones and note the case's due
        time (None: no longer open)."""
        pipe = self.client.pipeline(transaction=True)
        for record, due in later:
            pipe.hset(self.deliveries, record["id"], orjson.dumps(record))
            pipe.zadd(self.retry, {record["id"]: due})
        for record in dead:
            pipe.hset(self.dead, record["id"], orjson.dumps(record))
        for case, due_at in cases:
            self._note_case(pipe, case, due_at)
        pipe.xack(self.stream, GROUP, stream_id)
        pipe.execute()

    def _note_case(self, pipe: Any, case: dict[str, Any], due_at: float | None) -> None:
        case_id = str(case["case_id"])
        if due_at is None:
            pipe.zrem(self.due, case_id)
            pipe.hdel(self.cases, case_id)
        else:
            pipe.zadd(self.due, {case_id: due_at})
            pipe.hset(self.cases, case_id, orjson.dumps(case))

    def lease_retries(self, now: float, lease: float, count: int) -> list[dict[str, Any]]:
        raw: Any = self.client.eval(_LEASE, 2, self.retry, self.deliveries, now, lease, count)
        return [orjson.loads(r) for r in raw]

    def retry_settled(self, record: dict[str, Any], *, due: float | None, dead: bool) -> None:
        """After a retry: done (`due` None, not `dead`), due again at `due`, or dead."""
        pipe = self.client.pipeline(transaction=True)
        if due is not None:
            pipe.hset(self.deliveries, record["id"], orjson.dumps(record))
            pipe.zadd(self.retry, {record["id"]: due})
        else:
            pipe.zrem(self.retry, record["id"])
            pipe.hdel(self.deliveries, record["id"])
            if dead:
                pipe.hset(self.dead, record["id"], orjson.dumps(record))
        pipe.execute()

    def dead_letters(self) -> list[dict[str, Any]]:
        """Every dead delivery, oldest death first."""
        records = [orjson.loads(v) for v in self.client.hvals(self.dead)]  # type: ignore[union-attr]
        return sorted(records, key=lambda r: (r.get("dead_at", 0), r["id"]))

    def replay(self, ids: Sequence[str] | None, *, now: float | None = None) -> list[str]:
        """Move dead deliveries (all when `ids` is None; an id may be a delivery id or an event
        id) back to the retry schedule, due now, with a fresh count of attempts."""
        now = time.time() if now is None else now
        wanted = None if ids is None else set(ids)
        moved: list[str] = []
        with self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(self.dead)
                    chosen = [
                        r
                        for r in self.dead_letters()
                        if wanted is None or r["id"] in wanted or r["event"]["event_id"] in wanted
                    ]
                    pipe.multi()
                    for record in chosen:
                        fresh = {**record, "attempt": 0, "replayed_at": now}
                        fresh.pop("dead_at", None)
                        pipe.hdel(self.dead, record["id"])
                        pipe.hset(self.deliveries, record["id"], orjson.dumps(fresh))
                        pipe.zadd(self.retry, {record["id"]: now})
                    pipe.execute()
                    moved = [r["id"] for r in chosen]
                    break
                except redis.WatchError:
                    continue
        return moved

    def scheduled(self) -> int:
        return int(self.client.zcard(self.retry))  # type: ignore[arg-type]

    def overdue_cases(self, now: float, count: int) -> list[dict[str, Any]]:
        """Cases whose due time passed while still open (as last seen on the stream)."""
        ids: Any = self.client.zrangebyscore(self.due, "-inf", now, start=0, num=count)
        if not ids:
            return []
        raw: Any = self.client.hmget(self.cases, ids)
        return [orjson.loads(r) for r in raw if r is not None]

    def emit_overdue(self, case: dict[str, Any]) -> bool:
        """Append `case.overdue` for `case` unless it was reported already; True if appended."""
        case_id = str(case["case_id"])
        entry = case_event("case.overdue", case)
        mark = self.keys.stream_state(CASE_EVENTS, f"hooks:overdue:{case_id}")
        keys = (self.stream, mark, self.due, self.cases)
        args = (case_id, orjson.dumps(entry), MAXLEN, OVERDUE_MARK_TTL)
        return bool(self.client.eval(_OVERDUE, 4, *keys, *args))


def _entry(raw_id: bytes, fields: dict[bytes, bytes] | None) -> StreamEntry:
    payload = (fields or {}).get(b"d")
    return StreamEntry(raw_id.decode(), orjson.loads(payload) if payload else None)
