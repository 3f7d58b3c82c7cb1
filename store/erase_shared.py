"""Erasure from what many customers share: segment versions, follow-up cases, webhook state.

Segments (`store.segments`), in every version still kept: the customers' fields of the
membership buckets go; each segment they were in has its member list re-chunked from the
first chunk that held one of them (order kept, so paging stays exact) and its catalogue size
lowered; every delta list naming them is rewritten. Writes keep the version's TTL.

Cases (`store.cases`): their cases' hashes, notes and every listing index entry; the webhook
worker's copies (`store.webhooks`: the open-case index, overdue marks, scheduled and dead
deliveries carrying the case) go too. The case store lives on one Redis (not a Cluster).
"""

from __future__ import annotations

from typing import Any

import orjson
import redis

from contracts.tombstones import CUSTOMER_FIELDS
from store.case_events import CASE_EVENTS
from store.cases import decode_case
from store.keys import Keys
from store.segments import ARTIFACT, CHUNK, bucket_key, chunk_key
from store.webhooks import WebhookStore

SCAN_COUNT = 5000
CASE_FIELDS = frozenset({"case_id"})


def _text(raw: bytes | str | None) -> str:
    return raw.decode() if isinstance(raw, bytes) else (raw or "")


def _versions(client: redis.Redis, keys: Keys) -> list[str]:
    kept = [_text(v) for v in client.lrange(keys.versions(ARTIFACT), 0, -1)]  # type: ignore[union-attr]
    live = _text(client.get(keys.live(ARTIFACT)))
    return sorted({*kept, *([live] if live else [])})


def holds(value: Any, ids: frozenset[str], fields: frozenset[str] = CUSTOMER_FIELDS) -> bool:
    """Whether a JSON value names one of `ids` in one of `fields`, at any depth (a string
    holding JSON, like an audit entry's `detail`, is read too)."""
    if isinstance(value, dict):
        for name, inner in value.items():
            if name in fields and isinstance(inner, str) and inner in ids:
                return True
            if holds(inner, ids, fields):
                return True
        return False
    if isinstance(value, list):
        return any(holds(v, ids, fields) for v in value)
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return holds(orjson.loads(value), ids, fields)
        except orjson.JSONDecodeError:
            return False
    return False


def erase_from_segments(client: redis.Redis, keys: Keys, ids: frozenset[str]) -> int:
    """Remove the customers from every kept segments version; how many versions changed."""
    changed = 0
    for version in _versions(client, keys):
        raw = client.get(keys.data(ARTIFACT, version, "catalogue"))
        if raw is None:
            continue  # expired
        catalogue: list[dict[str, Any]] = orjson.loads(raw)  # type: ignore[arg-type]
        buckets = {c: keys.data(ARTIFACT, version, bucket_key(c)) for c in ids}
        pipe = client.pipeline(transaction=False)
        for customer_id, bucket in buckets.items():
            pipe.hget(bucket, customer_id)
            pipe.hdel(bucket, customer_id)
        replies = pipe.execute()
        names = {n for raw_names in replies[::2] for n in _text(raw_names).split(";") if n}
        for row in catalogue:
            if row["name"] in names:
                row["size"] = _rechunk(client, keys, version, row["name"], int(row["size"]), ids)
        deltas = _rewrite_deltas(client, keys, version, [r["name"] for r in catalogue], ids)
        if names or deltas:
            client.set(keys.data(ARTIFACT, version, "catalogue"), orjson.dumps(catalogue),
                       keepttl=True)  # fmt: skip
            changed += 1
    return changed


def _rechunk(
    client: redis.Redis, keys: Keys, version: str, name: str, size: int, ids: frozenset[str]
) -> int:
    """Drop `ids` from one member list; re-chunk from the first chunk that held one. Returns
    the new size."""
    chunks = -(-size // CHUNK)
    names = [keys.data(ARTIFACT, version, chunk_key(name, c)) for c in range(chunks)]
    values = [_text(v).split("\n") if v else [] for v in client.mget(names)] if names else []
    first = next((i for i, ids_ in enumerate(values) if not ids.isdisjoint(ids_)), None)
    if first is None:
        return size
    rest = [m for chunk in values[first:] for m in chunk if m not in ids]
    pipe = client.pipeline(transaction=False)
    for offset, c in enumerate(range(first, chunks)):
        part = rest[offset * CHUNK : (offset + 1) * CHUNK]
        if part:
            pipe.set(names[c], "\n".join(part), keepttl=True)
        else:
            pipe.delete(names[c])
    pipe.execute()
    return first * CHUNK + len(rest)


def _rewrite_deltas(
    client: redis.Redis, keys: Keys, version: str, segments: list[str], ids: frozenset[str]
) -> int:
    names = [keys.data(ARTIFACT, version, f"d:{s}:{side}")
             for s in segments for side in ("entered", "exited")]  # fmt: skip
    if not names:
        return 0
    pipe = client.pipeline(transaction=False)
    rewritten = 0
    for name, raw in zip(names, client.mget(names), strict=True):
        members = _text(raw).split("\n") if raw else []
        if not ids.isdisjoint(members):
            pipe.set(name, "\n".join(m for m in members if m not in ids), keepttl=True)
            rewritten += 1
    pipe.execute()
    return rewritten


def case_ids_of(client: redis.Redis, keys: Keys, ids: frozenset[str]) -> list[str]:
    """The ids of every case (open or closed) of the customers, newest first."""
    listed: Any = client.zrange(keys.cases("ix:new:all"), 0, -1)
    all_ids = [_text(i) for i in listed]
    pipe = client.pipeline(transaction=False)
    for case_id in all_ids:
        pipe.hget(keys.cases(f"case:{case_id}"), "customer_id")
    owners = pipe.execute() if all_ids else []
    return [c for c, who in zip(all_ids, owners, strict=True) if _text(who) in ids]


def customer_cases(client: redis.Redis, keys: Keys, customer_id: str) -> list[dict[str, Any]]:
    """Every case of one customer with its notes (for the export)."""
    out = []
    for case_id in case_ids_of(client, keys, frozenset({customer_id})):
        pipe = client.pipeline(transaction=False)
        pipe.hgetall(keys.cases(f"case:{case_id}"))
        pipe.lrange(keys.cases(f"notes:{case_id}"), 0, -1)
        raw, notes = pipe.execute()
        case = decode_case(raw)
        if case is not None:
            out.append({**case, "notes": [orjson.loads(n) for n in notes]})
    return out


def erase_cases(client: redis.Redis, keys: Keys, ids: frozenset[str]) -> int:
    """Delete the customers' follow-up cases everywhere they are kept; how many."""
    doomed = case_ids_of(client, keys, ids)
    hooks = WebhookStore(client, keys)
    carried = _webhook_records(client, hooks, ids, frozenset(doomed))
    if not doomed and not carried:
        return 0
    indexes = list(client.scan_iter(match=keys.cases("ix:*"), count=SCAN_COUNT))
    pipe = client.pipeline(transaction=False)
    for case_id in doomed:
        pipe.delete(keys.cases(f"case:{case_id}"), keys.cases(f"notes:{case_id}"))
        pipe.delete(keys.stream_state(CASE_EVENTS, f"hooks:overdue:{case_id}"))
        for index in indexes:
            pipe.zrem(index, case_id)
    if doomed:
        pipe.zrem(hooks.due, *doomed)
        pipe.hdel(hooks.cases, *doomed)
    for table, record_id in carried:
        pipe.hdel(table, record_id)
        pipe.zrem(hooks.retry, record_id)
    pipe.execute()
    return len(doomed)


def _webhook_records(
    client: redis.Redis, hooks: WebhookStore, ids: frozenset[str], cases: frozenset[str]
) -> list[tuple[str, str]]:
    """(hash, delivery id) of the scheduled and dead deliveries about the customers."""
    found = []
    for table in (hooks.deliveries, hooks.dead, hooks.cases):
        for record_id, raw in client.hgetall(table).items():  # type: ignore[union-attr]
            record = orjson.loads(raw)
            if holds(record, ids) or holds(record, cases, CASE_FIELDS):
                found.append((table, _text(record_id)))
    return found
