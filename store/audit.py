"""The audit trail: who changed what, when, and how it went, as one Redis stream.

Every state-changing call (API keys, experiments, model activation and rollback, rules
reloads, and whatever other parts record: case changes, dashboard actions) appends one entry
to `tp:{s:audit}:stream` (`Keys.stream(AUDIT)`), from the API (`api.services.audit`) or the
CLI (`jobs.audit_cmd`). `touchpoint ingest` drains it to `DATA/audit/*.parquet` like the
events, but leaves the entries in Redis (up to `MAXLEN`, ~300 bytes each by MEMORY USAGE),
so `GET /v1/audit` and `touchpoint audit list` read the recent trail straight from here.

An entry (JSON, in the stream field `d`): `audit_id` (unique), `at` (ISO 8601, UTC), `who`
(an API key id, `cli:<user>`, `system:<part>`, or `anonymous` when the API runs open),
`action` (`keys.rotate`, `experiments.put`, …), `target`, `outcome` (`ok`, `refused`,
`failed`) and `detail` (text; JSON when given a mapping). Stream ids are millisecond times,
so a time range is an `XRANGE`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis

from store.keys import Keys

AUDIT = "audit"
MAXLEN = 1_000_000  # approximate trim: the oldest entries go first (they are in DATA/audit)
OUTCOMES = ("ok", "refused", "failed")
TEXT_MAX = 2000  # characters of `target` and of `detail` kept


def audit_entry(
    *, who: str, action: str, target: str, outcome: str, detail: Mapping[str, Any] | str | None
) -> dict[str, Any]:
    """A new entry (raises ValueError for an outcome not in `OUTCOMES`: a caller's bug)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown audit outcome {outcome!r}; known: {', '.join(OUTCOMES)}")
    if detail is None:
        text = ""
    elif isinstance(detail, str):
        text = detail
    else:
        text = orjson.dumps(detail, default=str).decode()
    return {
        "audit_id": uuid.uuid4().hex,
        "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "who": who,
        "action": action,
        "target": target[:TEXT_MAX],
        "outcome": outcome,
        "detail": text[:TEXT_MAX],
    }


def append(client: redis.Redis, keys: Keys, entry: Mapping[str, Any]) -> str:
    """Append an entry (synchronous client: the CLI and batch jobs); its stream id."""
    stream_id = client.xadd(_fields_key(keys), _fields(entry), maxlen=MAXLEN, approximate=True)
    return _text(stream_id)


async def append_async(client: aioredis.Redis, keys: Keys, entry: Mapping[str, Any]) -> str:
    """Append an entry (the API's client); its stream id."""
    stream_id = await client.xadd(
        _fields_key(keys), _fields(entry), maxlen=MAXLEN, approximate=True
    )
    return _text(stream_id)


def range_args(*, since: datetime | None, after: str | None) -> tuple[str, str]:
    """XRANGE bounds: from `since` (a time) or strictly after the stream id `after`."""
    if after:
        return f"({after}", "+"
    if since is None:
        return "-", "+"
    return str(max(0, int(since.timestamp() * 1000))), "+"  # ids start at the epoch


def read(
    client: redis.Redis, keys: Keys, *, since: datetime | None = None, after: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:  # fmt: skip
    """Entries from `since` (or after the stream id `after`), oldest first, at most `limit`;
    each carries its stream id as `id` (the cursor for the next page)."""
    low, high = range_args(since=since, after=after)
    return decode(client.xrange(_fields_key(keys), low, high, count=limit))


async def read_async(
    client: aioredis.Redis, keys: Keys, *, since: datetime | None = None, after: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:  # fmt: skip
    """`read` for the API's client."""
    low, high = range_args(since=since, after=after)
    return decode(await client.xrange(_fields_key(keys), low, high, count=limit))


async def latest_async(client: aioredis.Redis, keys: Keys, count: int = 50) -> list[dict[str, Any]]:
    """The newest `count` entries, newest first (the dashboard's operations page)."""
    return decode(await client.xrevrange(_fields_key(keys), "+", "-", count=count))


def decode(raw: Any) -> list[dict[str, Any]]:
    """XRANGE's reply → entries, each with its stream id as `id`."""
    out = []
    for stream_id, fields in raw or ():
        payload = (fields or {}).get(b"d")
        if payload:
            out.append({"id": _text(stream_id), **orjson.loads(payload)})
    return out


def _fields_key(keys: Keys) -> str:
    return keys.stream(AUDIT)


def _fields(entry: Mapping[str, Any]) -> dict[Any, Any]:
    return {"d": orjson.dumps(dict(entry))}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
