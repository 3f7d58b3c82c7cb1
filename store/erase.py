"""Erasure in Redis: everything Touchpoint holds about some customers goes, then a tombstone.

What holds a customer, and how it goes (`erase_customers`):
- every key tagged with the customer (`…c:{ID}:…`: published `recs`, `profile`, `hist`,
  `consumed`, `why` of every live or kept version, recent events, counters and their logs,
  latest answers, open cases, survey state, experiment exposures): what serving reads is
  deleted by name first (they get non-personal answers at once), then a SCAN finds the rest;
- what recommendations served them (`r:{REC}:served` naming them) and its conversions;
- visitors merged into them (`store.identity`): the same person, erased with them;
- the entries of every stream naming them (events, feedback, cases, case-events, audit,
  consent, identities),
  deleted (XDEL) and acknowledged for every consumer group, so nothing re-delivers them;
- segment buckets, member lists and deltas of every kept `segments` version
  (`store.erase_shared`), follow-up cases with their notes and indexes, and the webhook
  worker's copies of their cases;
- their fields of the experiments' per-customer rows (`store.experiment_store`).
Then the tombstone (`Keys.tombstones()`: keyed hash → erased_at, `contracts.tombstones`), and
an append-only file rewrite so the server's own files forget them too.

A batch of ids costs one walk of the keyspace and of each stream, whatever its size: one
customer costs about as much as 10,000 (`bench/erase_speed.py`). Synchronous client: the
CLI, and the API off its event loop.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import redis

from contracts.tombstones import configured_key, id_hash
from store import serving
from store.audit import AUDIT
from store.case_events import CASE_EVENTS, open_cases_key
from store.consent import CONSENT
from store.erase_shared import erase_cases, erase_from_segments, holds
from store.events import STREAMS
from store.experiment_store import ROW_FIELDS, ExperimentKeys
from store.feedback import feedback_key, touchpoint_feedback_key
from store.identity import IDENTITIES
from store.keys import Keys
from store.profile import LEGACY_CONSUMED, STRINGS
from store.recent import recent_key
from store.surveys import surveys_key

ERASE_STREAMS = (*STREAMS, CASE_EVENTS, AUDIT, CONSENT, IDENTITIES)
SCAN_COUNT = 5000
CHUNK = 1000  # commands per pipeline


@dataclass
class Erased:
    """What one erasure removed (counts only: never an id)."""

    customers: int = 0
    keys: int = 0
    stream_entries: int = 0
    served: int = 0
    segment_versions: int = 0
    cases: int = 0
    global_fields: int = 0
    tombstones: list[str] = field(default_factory=list)  # keyed hashes, new ones first

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if isinstance(v, int)}


def erasure_key(client: redis.Redis, keys: Keys, candidate: bytes | None = None) -> bytes:
    """The key of the tombstones' hashes: `TOUCHPOINT_ERASURE_KEY`, else the one kept in
    Redis (stored once from `candidate` or a new random key: the first writer wins)."""
    configured = configured_key()
    if configured is not None:
        return configured
    client.set(keys.erasure_key(), candidate or secrets.token_hex(32).encode(), nx=True)
    stored = client.get(keys.erasure_key())
    assert isinstance(stored, bytes)
    return stored


def tombstones(client: redis.Redis, keys: Keys) -> dict[str, str]:
    """Every tombstone in Redis: keyed hash → erased_at (ISO 8601)."""
    raw = client.hgetall(keys.tombstones())
    return {k.decode(): v.decode() for k, v in raw.items()}  # type: ignore[union-attr]


def erase_customers(client: redis.Redis, keys: Keys, customer_ids: Collection[str]) -> Erased:
    """Remove the customers from every place listed in the module docstring, then record
    their tombstones. Idempotent: erasing twice finds nothing the second time."""
    ids = frozenset(customer_ids)
    done = Erased(customers=len(ids))
    if not ids:
        return done
    key = erasure_key(client, keys)
    first = _delete(client, _served_first(client, keys, ids))  # non-personal answers from now on
    tagged, served = _walk(client, keys, ids)
    visitors = _merged_visitors(keys, ids, tagged)
    if visitors:  # a visitor merged into them (`store.identity`) is the same person
        ids |= visitors
        also_tagged, also_served = _walk(client, keys, visitors)
        tagged, served = tagged + also_tagged, served + also_served
    done.keys = first + _delete(client, tagged)
    done.served = _erase_served(client, served, ids)
    done.stream_entries = sum(_erase_stream(client, keys.stream(s), ids) for s in ERASE_STREAMS)
    done.segment_versions = erase_from_segments(client, keys, ids)
    done.cases = erase_cases(client, keys, ids)
    done.global_fields = _erase_global_fields(client, keys, ids)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    done.tombstones = [id_hash(key, c) for c in sorted(ids)]
    client.hset(keys.tombstones(), mapping={h: now for h in done.tombstones})
    forget_on_disk(client)
    return done


def _served_first(client: redis.Redis, keys: Keys, ids: frozenset[str]) -> list[str]:
    """The keys the serving path reads, by name (every kept serving version): deleted before
    the walk, which on a large keyspace takes a while."""
    raw: Any = client.lrange(keys.versions(serving.ARTIFACT), 0, -1)
    versions = {v.decode() for v in raw}
    names = []
    for customer_id in ids:
        names += [keys.customer_data(serving.ARTIFACT, v, customer_id, n)
                  for v in versions for n in (*STRINGS, LEGACY_CONSUMED)]  # fmt: skip
        names += [recent_key(keys, customer_id), feedback_key(keys, customer_id),
                  touchpoint_feedback_key(keys, customer_id), open_cases_key(keys, customer_id),
                  surveys_key(keys, customer_id)]  # fmt: skip
    return names


def _walk(client: redis.Redis, keys: Keys, ids: frozenset[str]) -> tuple[list[str], list[str]]:
    """One SCAN of the namespace: the keys tagged with the customers, and every
    `r:{REC}:served` (whose `customer` field says whose it is). One walk, not a MATCH walk per
    kind: walking the keyspace is the cost, whatever the pattern."""
    tagged, served = [], []
    served_prefix = keys.recommendation("", "")[: -len("}:")]
    for raw in client.scan_iter(match=f"{keys.namespace}:*", count=SCAN_COUNT):
        name = raw.decode()
        if keys.tagged_customer(name) in ids:
            tagged.append(name)
        elif name.startswith(served_prefix) and name.endswith("}:served"):
            served.append(name)
    return tagged, served


def _merged_visitors(keys: Keys, ids: frozenset[str], tagged: list[str]) -> frozenset[str]:
    """The visitor ids merged into these customers, from their `merged:VISITOR` marks."""
    found = set()
    for customer_id in ids:
        mark = keys.merged_from(customer_id, "")
        found |= {name[len(mark) :] for name in tagged if name.startswith(mark)}
    return frozenset(found - ids - {""})


def _delete(client: redis.Redis, names: list[str]) -> int:
    removed = 0
    for start in range(0, len(names), CHUNK):
        pipe = client.pipeline(transaction=False)
        for name in names[start : start + CHUNK]:
            pipe.delete(name)  # one key a command: keys of many slots (Redis Cluster)
        removed += sum(pipe.execute())
    return removed


def _erase_served(client: redis.Redis, names: list[str], ids: frozenset[str]) -> int:
    """What recommendations served these customers, and what those converted."""
    doomed: list[str] = []
    for start in range(0, len(names), CHUNK):
        chunk = names[start : start + CHUNK]
        pipe = client.pipeline(transaction=False)
        for name in chunk:
            pipe.hget(name, "customer")
        for name, who in zip(chunk, pipe.execute(), strict=True):
            if who is not None and who.decode() in ids:
                doomed += (name, name.removesuffix(":served") + ":conversions")
    _delete(client, doomed)
    return len(doomed) // 2


def _erase_stream(client: redis.Redis, stream: str, ids: frozenset[str]) -> int:
    """XDEL the entries naming the customers; acknowledge them for every group."""
    doomed: list[bytes] = []
    low = "-"
    while True:
        batch: Any = client.xrange(stream, low, "+", count=CHUNK)
        for entry_id, fields in batch:
            payload = (fields or {}).get(b"d")
            if payload and holds(orjson.loads(payload), ids):
                doomed.append(entry_id)
        if len(batch) < CHUNK:
            break
        low = "(" + batch[-1][0].decode()
    if not doomed:
        return 0
    groups = [g["name"] for g in client.xinfo_groups(stream)]  # type: ignore[union-attr]
    for start in range(0, len(doomed), CHUNK):
        chunk = doomed[start : start + CHUNK]
        pipe = client.pipeline(transaction=False)
        for group in groups:
            pipe.xack(stream, group, *chunk)
        pipe.xdel(stream, *chunk)
        pipe.execute()
    return len(doomed)


def _erase_global_fields(client: redis.Redis, keys: Keys, ids: frozenset[str]) -> int:
    """HDEL the ids from the experiments' per-customer rows (variant, first, exposures, …)."""
    rows = ExperimentKeys(keys)
    experiments: Any = client.hkeys(rows.definitions())
    pipe = client.pipeline(transaction=False)
    for name in experiments:
        for row in ROW_FIELDS:
            pipe.hdel(rows.rows(name.decode(), row), *ids)
    return sum(pipe.execute()) if experiments else 0


def forget_on_disk(client: redis.Redis) -> None:
    """Rewrite the server's append-only file (or snapshot) so its history drops what was
    deleted; started in the background, best effort (a rewrite already running will do)."""
    try:
        info = client.info("persistence")
        if not isinstance(info, dict) or "aof_enabled" not in info:
            return  # Redis Cluster: each primary's own files (a rewrite there is the operator's)
        if int(info.get("aof_enabled", 0)):
            client.bgrewriteaof()
        elif info.get("rdb_last_save_time") and client.config_get("save").get("save"):
            client.bgsave()
    except redis.ResponseError:
        pass  # a rewrite or save already in progress: it writes the erased state too
