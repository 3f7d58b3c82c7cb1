"""Experiments in Redis: definitions, exposures, attributed conversions, per-customer rows.

Keys (namespace `tp`, see `ExperimentKeys`; formerly `tp:g:exp:…`, renamed by
`touchpoint migrate-keys`, `store.key_migration`):
- `tp:{exp}:defs` hash key -> definition JSON; `tp:{exp}:defs:rev` bumps on every change so
  API replicas re-read definitions only when they changed (one slot: one MULTI)
- `tp:{exp:KEY}:{variant,first,exposures,conversions,revenue,pre}` hashes customer -> value
  (one experiment's tables share its slot on Redis Cluster):
  the per-customer rows the statistics need (variant and first exposure are set once: results
  are by first-exposure variant, intention to treat)
- `tp:c:{CUSTOMER}:exp:last` hash experiment -> "variant|ts" of the last exposure
- `tp:c:{CUSTOMER}:exp:rec:RID` hash experiment -> "variant|ts" of one served response
- `tp:c:{CUSTOMER}:exp:evt:EVENT` marker so a conversion event re-sent is counted once
The per-customer keys share the customer's hash tag: a conversion reads them in one round
trip and writes in a second. Which experiments a conversion counts for (window, clock skew,
conversion types) is decided by `experiments.attribution`; this module reads and writes.
The sync class serves the CLI, the async one the API.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis

from experiments.attribution import MAX_WINDOW_SECONDS, ConversionEvent, attributed
from experiments.errors import ExperimentNotFound
from experiments.model import Experiment, parse_experiment
from store.keys import Keys

SEEN_TTL_SECONDS = 7 * 24 * 3600
ROW_FIELDS = ("variant", "first", "exposures", "conversions", "revenue", "pre")


@dataclass(frozen=True)
class ExperimentKeys:
    """Every experiments key string, built on the shared `Keys` layout."""

    keys: Keys

    def definitions(self) -> str:
        return self.keys.experiments("defs")

    def revision(self) -> str:
        return self.keys.experiments("defs:rev")

    def rows(self, experiment: str, name: str) -> str:
        return self.keys.experiment(experiment, name)

    def last(self, customer_id: str) -> str:
        return self.keys.customer(customer_id, "exp:last")

    def served(self, customer_id: str, recommendation_id: str) -> str:
        return self.keys.customer(customer_id, f"exp:rec:{recommendation_id}")

    def seen(self, customer_id: str, event_id: str) -> str:
        return self.keys.customer(customer_id, f"exp:evt:{event_id}")


@dataclass(frozen=True)
class Served:
    """One experiment under which a response was served."""

    experiment: str
    variant: str


@dataclass
class CustomerRows:
    """One row per exposed customer: the input of `experiments.results.analyse`."""

    customer_ids: list[str] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)
    first_exposure: list[float] = field(default_factory=list)
    exposures: list[int] = field(default_factory=list)
    conversions: list[int] = field(default_factory=list)
    revenue: list[float] = field(default_factory=list)
    pre_spend: list[float] = field(default_factory=list)  # NaN when unknown


def _queue_exposure(
    pipe: Any,
    k: ExperimentKeys,
    customer_id: str,
    served: Sequence[Served],
    recommendation_id: str | None,
    ts: float,
) -> None:
    stamp = {s.experiment: f"{s.variant}|{ts:.3f}" for s in served}
    for s in served:
        pipe.hsetnx(k.rows(s.experiment, "variant"), customer_id, s.variant)
        pipe.hsetnx(k.rows(s.experiment, "first"), customer_id, f"{ts:.3f}")
        pipe.hincrby(k.rows(s.experiment, "exposures"), customer_id, 1)
    pipe.hset(k.last(customer_id), mapping=stamp)
    pipe.expire(k.last(customer_id), MAX_WINDOW_SECONDS)
    if recommendation_id:
        pipe.hset(k.served(customer_id, recommendation_id), mapping=stamp)
        pipe.expire(k.served(customer_id, recommendation_id), MAX_WINDOW_SECONDS)


def _queue_save(pipe: Any, k: ExperimentKeys, experiments: Iterable[Experiment]) -> Any:
    """Queue replacing definitions and bumping the revision (MULTI: they move together)."""
    blobs = {e.key: e.model_dump_json() for e in experiments}
    if blobs:
        pipe.hset(k.definitions(), mapping=blobs)
    pipe.incr(k.revision())
    return pipe


def _queue_reads(pipe: Any, k: ExperimentKeys, events: Sequence[ConversionEvent]) -> Any:
    """Queue what attribution reads per event: the re-send marker, the last exposures, the
    exposures of the response the event names (1 to 3 commands, see `_attribute_all`)."""
    for event in events:
        if event.event_id:
            pipe.set(k.seen(event.customer_id, event.event_id), 1, nx=True, ex=SEEN_TTL_SECONDS)
        pipe.hgetall(k.last(event.customer_id))
        if event.recommendation_id:
            pipe.hgetall(k.served(event.customer_id, event.recommendation_id))
    return pipe


def _decode(raw: Mapping[bytes, bytes]) -> dict[str, float]:
    """experiment -> exposure time, from a `variant|ts` hash."""
    return {k.decode(): float(v.decode().rsplit("|", 1)[1]) for k, v in raw.items()}


def _attribute_all(
    events: Sequence[ConversionEvent], replies: list[Any], experiments: Mapping[str, Experiment]
) -> list[list[str]]:
    """Split one pipeline's replies by event (see `_queue_reads`) and ask
    `experiments.attribution` what each event counts for."""
    found: list[list[str]] = []
    answers = iter(replies)
    for event in events:
        fresh = next(answers) if event.event_id else True  # False: a re-sent event
        last = _decode(next(answers))
        via_rec = _decode(next(answers)) if event.recommendation_id else {}
        found.append(
            attributed(event, last=last, via_recommendation=via_rec, experiments=experiments)
            if fresh
            else []
        )
    return found


def _queue_conversions(
    pipe: Any, k: ExperimentKeys, events: Sequence[ConversionEvent], found: list[list[str]]
) -> Any:
    """Queue the counts of each event for the experiments it was attributed to."""
    for event, targets in zip(events, found, strict=True):
        for key in targets:
            pipe.hincrby(k.rows(key, "conversions"), event.customer_id, 1)
            if event.value:
                pipe.hincrbyfloat(k.rows(key, "revenue"), event.customer_id, event.value)
    return pipe


def _rows(tables: Mapping[str, Mapping[bytes, bytes]]) -> CustomerRows:
    rows = CustomerRows()
    for raw_id, raw_variant in tables["variant"].items():
        rows.customer_ids.append(raw_id.decode())
        rows.variants.append(raw_variant.decode())
        rows.first_exposure.append(float(tables["first"].get(raw_id, b"nan")))
        rows.exposures.append(int(tables["exposures"].get(raw_id, b"0")))
        rows.conversions.append(int(tables["conversions"].get(raw_id, b"0")))
        rows.revenue.append(float(tables["revenue"].get(raw_id, b"0")))
        rows.pre_spend.append(float(tables["pre"].get(raw_id, b"nan")))
    return rows


def _definitions(raw: Mapping[bytes, bytes]) -> dict[str, Experiment]:
    found = {}
    for key, blob in sorted(raw.items()):
        exp = parse_experiment(orjson.loads(blob), source=f"stored experiment {key.decode()!r}")
        found[exp.key] = exp
    return found


class ExperimentStore:
    """Synchronous access for the CLI and batch jobs."""

    def __init__(self, client: redis.Redis, keys: Keys | None = None) -> None:
        self.client = client
        self.k = ExperimentKeys(keys or Keys())

    def save(self, experiments: Iterable[Experiment]) -> int:
        """Store (replace) definitions; returns the new revision."""
        pipe = _queue_save(self.client.pipeline(transaction=True), self.k, experiments)
        return int(pipe.execute()[-1])

    def definitions(self) -> dict[str, Experiment]:
        return _definitions(self.client.hgetall(self.k.definitions()))  # type: ignore[arg-type]

    def get(self, key: str) -> Experiment:
        blob = self.client.hget(self.k.definitions(), key)
        if blob is None:
            raise ExperimentNotFound(key)
        return parse_experiment(orjson.loads(blob), source=f"stored experiment {key!r}")  # type: ignore[arg-type]

    def delete(self, key: str) -> None:
        """Remove a definition (with the revision bump, one MULTI), then its tracking data
        (one call in the experiment's own slot): nothing serves it once the first is done."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(self.k.definitions(), key)
        pipe.incr(self.k.revision())
        pipe.execute()
        self.client.delete(*(self.k.rows(key, name) for name in ROW_FIELDS))

    def record_exposure(
        self,
        *,
        customer_id: str,
        served: Sequence[Served],
        recommendation_id: str | None,
        timestamp: float,
    ) -> None:
        """Record that `served` was shown: call only when something was actually served."""
        if not served:
            return
        pipe = self.client.pipeline(transaction=False)
        _queue_exposure(pipe, self.k, customer_id, served, recommendation_id, timestamp)
        pipe.execute()

    def record_conversions(
        self, events: Sequence[ConversionEvent], experiments: Mapping[str, Experiment]
    ) -> list[list[str]]:
        """Attribute a batch in two round trips (all reads, then all writes)."""
        replies = _queue_reads(self.client.pipeline(transaction=False), self.k, events).execute()
        found = _attribute_all(events, replies, experiments)
        writes = _queue_conversions(self.client.pipeline(transaction=False), self.k, events, found)
        if len(writes):
            writes.execute()
        return found

    def save_pre_spend(self, key: str, spend: Mapping[str, float]) -> None:
        """Pre-experiment spend per customer (the CUPED covariate); replaces the previous one."""
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self.k.rows(key, "pre"))
        if spend:
            mapping = {c: repr(float(v)) for c, v in spend.items() if math.isfinite(v)}
            pipe.hset(self.k.rows(key, "pre"), mapping=mapping)  # type: ignore[arg-type]
        pipe.execute()

    def customer_rows(self, key: str) -> CustomerRows:
        """Every exposed customer's row; HSCAN, so a large experiment never blocks Redis."""
        tables = {
            name: dict(self.client.hscan_iter(self.k.rows(key, name), count=5000))
            for name in ROW_FIELDS
        }
        return _rows(tables)  # type: ignore[arg-type]


class AsyncExperimentStore:
    """The same operations for the API (asyncio client)."""

    def __init__(self, client: aioredis.Redis, keys: Keys | None = None) -> None:
        self.client = client
        self.k = ExperimentKeys(keys or Keys())

    async def revision(self) -> int:
        raw = await self.client.get(self.k.revision())
        return int(raw or 0)

    async def definitions(self) -> dict[str, Experiment]:
        raw: dict[bytes, bytes] = await self.client.hgetall(self.k.definitions())  # type: ignore[assignment]
        return _definitions(raw)

    async def save(self, experiments: Iterable[Experiment]) -> int:
        pipe = _queue_save(self.client.pipeline(transaction=True), self.k, experiments)
        return int((await pipe.execute())[-1])

    async def record_exposure(
        self,
        *,
        customer_id: str,
        served: Sequence[Served],
        recommendation_id: str | None,
        timestamp: float,
    ) -> None:
        if not served:
            return
        pipe = self.client.pipeline(transaction=False)
        _queue_exposure(pipe, self.k, customer_id, served, recommendation_id, timestamp)
        await pipe.execute()

    async def record_conversions(
        self, events: Sequence[ConversionEvent], experiments: Mapping[str, Experiment]
    ) -> list[list[str]]:
        """Attribute a batch in two round trips (all reads, then all writes)."""
        reads = _queue_reads(self.client.pipeline(transaction=False), self.k, events)
        found = _attribute_all(events, await reads.execute(), experiments)
        writes = _queue_conversions(self.client.pipeline(transaction=False), self.k, events, found)
        if len(writes):
            await writes.execute()
        return found

    async def customer_rows(self, key: str) -> CustomerRows:
        tables: dict[str, dict[bytes, bytes]] = {}
        for name in ROW_FIELDS:
            table: dict[bytes, bytes] = {}
            async for field_, value in self.client.hscan_iter(self.k.rows(key, name), count=5000):
                table[field_] = value
            tables[name] = table
        return _rows(tables)
