"""Publishing from Spark executors (`--engine spark`): the per-customer keys are written by
the partitions, in parallel, the shared keys by the driver, and the version goes live by the
same atomic switch as the pandas engine's (`store.versions.Versions.publish`) only after every
partition reported all its customers written.

Parity by construction: a partition runs the pandas engine's own per-customer functions
(`jobs.publish.slice_candidates`, `slice_history`, `slice_consumed`, `recsys.served.
published_block`) on its slice of customers and writes them with `store.serving.
write_customers` through a `store.versions.Release` of the version being published: one
pipeline per partition, flushed every `FLUSH_EVERY` commands, keys from `store.keys`. What is
the same for every customer (the model without its customer factors, the catalogue map,
similar items, categories, the rules) is broadcast; what is each customer's (their row of the
matrix, of what they have, their factor vector, their profile) rides in the rows.

A failed partition fails the Spark job: the driver raises `SparkPublishFailed`, the previous
version keeps serving and `Versions.publish` deletes the partial version's keys (each is
written with the version's TTL, so none outlives it even when that delete cannot run).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pyarrow as pa
import redis
import scipy.sparse as sp

from contracts.errors import Conflict, TouchpointError
from jobs.publish import Prepared, Trained, slice_candidates, slice_consumed, slice_history
from recsys.business_rules import Rules
from recsys.models.base import Recommender
from recsys.models.factor import FactorModel
from recsys.served import published_block
from store.client import sync_client
from store.config import StoreConfig
from store.keys import Keys
from store.serving import ARTIFACT, ServingBundle, write_customers, write_shared
from store.versions import FLUSH_EVERY, Release, Versions

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

REPORT = "partition int, customers long, modelled long, profiles long, keys long"


class SparkPublishFailed(Conflict):
    """A partition failed or reported fewer customers than it was given: nothing switched."""


class PartitionFailed(TouchpointError, RuntimeError):
    """Raised inside a partition on purpose (`fail_partition`, the test seam)."""


@dataclass(frozen=True)
class Target:
    """Where a partition writes: plain values, so executors open their own connection."""

    url: str
    namespace: str
    version: str
    ttl: int
    flush_every: int = FLUSH_EVERY


@dataclass(frozen=True)
class Shared:
    """What every partition needs, broadcast once (item-sized, never customer-sized)."""

    model: Recommender  # a factor model without its customer factors (they ride in the rows)
    slim: bool  # True: customer factors come from the rows
    to_catalogue: np.ndarray
    similar: tuple[np.ndarray, np.ndarray] | None
    categories: np.ndarray
    rules: Rules
    model_records: list[dict[str, Any]]


def customer_table(
    trained: Trained, prepared: Prepared, profiles: dict[str, bytes], slim: bool
) -> pa.Table:
    """One row per customer: the model's customers in order (their matrix row, what they
    have, their factors), then the customers with a profile only (`row` -1)."""
    x, consumed = trained.interactions.matrix.tocsr(), prepared.consumed.tocsr()
    n = x.shape[0]
    ids = [str(c) for c in trained.interactions.customers.ids(np.arange(n))]
    known = set(ids)
    extra = [c for c in profiles if c not in known]
    none = np.zeros(len(extra), np.int32)

    def lists(offsets: np.ndarray, values: np.ndarray, dtype: Any) -> pa.ListArray:
        ends = np.concatenate([offsets, offsets[-1] + np.cumsum(none)]).astype(np.int32)
        return pa.ListArray.from_arrays(pa.array(ends), pa.array(values.astype(dtype)))

    rank = trained.model.user_factors.shape[1] if slim else 0  # type: ignore[attr-defined]
    factors = trained.model.user_factors.ravel() if slim else np.zeros(0)  # type: ignore[attr-defined]
    every = np.arange(n + 1, dtype=np.int64) * rank
    all_ids = ids + extra
    return pa.table(
        {
            "customer_id": pa.array(all_ids, pa.string()),
            "row": pa.array(np.concatenate([np.arange(n), np.full(len(extra), -1)]), pa.int64()),
            "hist_idx": lists(x.indptr, x.indices, np.int32),
            "hist_val": lists(x.indptr, x.data, np.float32),
            "consumed_idx": lists(consumed.indptr, consumed.indices, np.int32),
            "consumed_val": lists(consumed.indptr, consumed.data, np.float32),
            "factors": lists(every, factors, np.float32),
            "profile": pa.array([profiles.get(c) for c in all_ids], pa.binary()),
        }
    )


def _csr(batch: pa.RecordBatch, prefix: str, rows: np.ndarray, n_items: int) -> sp.csr_matrix:
    """The `prefix`'s list columns of `rows` as a CSR matrix (rows × n_items)."""
    index = batch.column(f"{prefix}_idx").take(pa.array(rows))
    value = batch.column(f"{prefix}_val").take(pa.array(rows))
    offsets = np.asarray(index.offsets, np.int64)
    offsets = offsets - offsets[0]
    flat_idx = np.asarray(index.flatten(), np.int32)
    flat_val = np.asarray(value.flatten(), np.float32)
    return sp.csr_matrix((flat_val, flat_idx, offsets), shape=(len(rows), n_items))


def write_batch(release: Release, batch: pa.RecordBatch, shared: Shared) -> tuple[int, int]:
    """Compute and queue one Arrow batch's customers' keys; (modelled, profiles) written."""
    ids = np.asarray(batch.column("customer_id").to_pylist(), object)
    modelled = np.flatnonzero(np.asarray(batch.column("row")) >= 0)
    n_items = len(shared.to_catalogue)
    x = _csr(batch, "hist", modelled, n_items)
    consumed = _csr(batch, "consumed", modelled, n_items)
    model, users = shared.model, np.asarray(batch.column("row"))[modelled]
    if shared.slim:  # this slice's customer factors, indexed 0..n-1
        model = copy.copy(shared.model)
        flat = np.asarray(batch.column("factors").take(pa.array(modelled)).flatten(), np.float32)
        rank = shared.model.user_factors.shape[1]  # type: ignore[attr-defined]
        model.user_factors = flat.reshape(len(modelled), rank)  # type: ignore[attr-defined]
        model.n_users, users = len(modelled), np.arange(len(modelled))
    blocked = published_block(consumed, shared.rules, shared.model_records)
    profiles = [(str(c), orjson.loads(p)) for c, p in zip(ids, batch.column("profile").to_pylist(),
                strict=True) if p is not None]  # fmt: skip
    mine = ids[modelled]
    write_customers(
        release,
        ServingBundle(
            items=[], popular={}, customer_profiles=profiles,
            customer_recs=slice_candidates(model, x, blocked, users, mine, shared.to_catalogue,
                                           shared.similar, shared.categories),
            customer_history=slice_history(x, mine, shared.to_catalogue),
            customer_consumed=slice_consumed(consumed, mine, shared.to_catalogue),
        ),
    )  # fmt: skip
    return len(modelled), len(profiles)


def write_partition(
    batches: Iterator[pa.RecordBatch], shared: Any, target: Target, fail_partition: int | None
) -> Iterator[pa.RecordBatch]:
    """`mapInArrow`: one partition's customers written through one bounded pipeline; yields
    one report row (customers, modelled, profiles, keys) once everything is flushed."""
    from pyspark import TaskContext

    context = TaskContext.get()
    partition = context.partitionId() if context is not None else -1
    client = sync_client(target.url)
    release = Release(client, Keys(target.namespace), ARTIFACT, target.version, target.ttl,
                      flush_every=target.flush_every)  # fmt: skip
    customers = modelled = profiles = 0
    try:
        for batch in batches:
            m, p = write_batch(release, batch, shared.value)
            customers, modelled, profiles = customers + batch.num_rows, modelled + m, profiles + p
            if partition == fail_partition:  # the test seam: fail after a partial write
                release.flush()
                raise PartitionFailed(f"partition {partition} failed on purpose (fail_partition)")
        release.flush()
    finally:
        client.close()
    counts = [partition, customers, modelled, profiles, release.written]
    names = ["partition", "customers", "modelled", "profiles", "keys"]
    types = [pa.int32(), *[pa.int64()] * 4]
    yield pa.record_batch([pa.array([v], t) for v, t in zip(counts, types, strict=True)], names)


def publish_from_spark(
    session: SparkSession,
    client: redis.Redis,
    url: str,
    config: StoreConfig,
    *,
    trained: Trained,
    prepared: Prepared,
    profiles: dict[str, bytes],
    meta: dict[str, Any],
    fail_partition: int | None = None,
) -> str:
    """Publish a serving version with the per-customer keys written by Spark's partitions;
    returns the version, live once every partition succeeded. `url`: the Redis the executors
    connect to (the driver's, as a plain string; `redis+cluster://` works the same);
    `fail_partition`: a test seam, that partition raises after a partial write."""
    slim = isinstance(trained.model, FactorModel)
    model = trained.model
    if slim:  # the customer factors travel in the rows, not in the broadcast
        model = copy.copy(trained.model)
        model.user_factors = np.zeros((0, trained.model.user_factors.shape[1]), np.float32)  # type: ignore[attr-defined]
    shared = Shared(model, slim, prepared.to_catalogue, prepared.shared.similar,
                    prepared.categories, prepared.rules, prepared.model_records)  # fmt: skip
    table = customer_table(trained, prepared, profiles, slim)
    expected = {"customers": table.num_rows, "modelled": trained.interactions.matrix.shape[0],
                "profiles": len(profiles)}  # fmt: skip
    frame = session.createDataFrame(table)
    broadcast = session.sparkContext.broadcast(shared)
    versions = Versions(client, config)

    def write(release: Release) -> None:
        write_shared(release, prepared.shared)
        release.flush()
        target = Target(url, config.namespace, release.version, release.ttl)
        job = frame.mapInArrow(
            lambda batches: write_partition(batches, broadcast, target, fail_partition), REPORT
        )
        try:
            reports = job.collect()
        except Exception as exc:  # the Spark job failed: no switch
            raise SparkPublishFailed(
                f"publishing from Spark failed ({_reason(exc)}); serving version "
                f"{versions.live(ARTIFACT) or '(none)'} stays live"
            ) from exc
        written = {name: sum(int(r[name]) for r in reports) for name in expected}
        if written != expected:
            raise SparkPublishFailed(
                f"partitions wrote {written}, expected {expected}; serving version "
                f"{versions.live(ARTIFACT) or '(none)'} stays live"
            )
        release.written += sum(int(r["keys"]) for r in reports)

    try:
        return versions.publish(ARTIFACT, write, meta={**meta, "engine": "spark"})
    finally:
        broadcast.unpersist()


_RAISED = re.compile(r"^(?:[a-z_]\w*\.)*[A-Z]\w*: \S")  # `pkg.mod.SomeError: message`
_JVM = ("org.", "java.", "scala.", "py4j.", "SQLSTATE")


def _reason(exc: Exception) -> str:
    """The Python error that failed a task, out of Spark's wrapped report (the last line
    of the worker's traceback), else the report's first line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    raised = [line for line in lines if _RAISED.match(line) and not line.startswith(_JVM)]
    return raised[-1] if raised else (lines[0] if lines else type(exc).__name__)
