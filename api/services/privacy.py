"""Data rights over HTTP: erase a customer, hand over what is held about them, and keep an
erased customer's new events and answers out.

Erasure runs `store.erase.erase_customers` on a synchronous client in a worker thread (it
walks the keyspace and the streams; the event loop keeps serving). The data directory is not
the API's to rewrite: `touchpoint ingest` applies the new tombstones to it before it writes
anything (`jobs.erasure.apply_tombstones`), and `touchpoint erase` does both at once.

An erased customer's events and survey answers posted later are dropped (202, counted as
`erased`, never appended): a client retrying a refusal forever would be worse, and their
ids leave no trace. The check is one HMGET of keyed hashes (`contracts.tombstones`) per
batch, with the erasure key read once per process.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from redis.exceptions import RedisError

from api.problems import Unavailable
from api.services.audit import record_audit
from api.state import ServingState
from contracts.errors import NotFound
from contracts.tombstones import configured_key, id_hash
from store.client import sync_client
from store.erase import erase_customers
from store.export import export_customer

_KEYS: weakref.WeakKeyDictionary[ServingState, bytes] = weakref.WeakKeyDictionary()


class CustomerRecord(Protocol):
    customer_id: str


Record = TypeVar("Record", bound=CustomerRecord)


def _url(state: ServingState) -> str:
    if state.client is None or state.endpoint.url is None:
        raise Unavailable("Redis is not connected")
    return state.endpoint.url


def _erase(url: str, state: ServingState, customer_id: str) -> dict[str, Any]:
    client = sync_client(url)
    try:
        done = erase_customers(client, state.keys, [customer_id])
    finally:
        client.close()
    return {"tombstone": done.tombstones[0], **done.counts()}


async def erase(state: ServingState, customer_id: str, *, who: str) -> dict[str, Any]:
    """Erase one customer from Redis and record the tombstone; audited by its hash."""
    url = _url(state)
    try:
        done = await asyncio.to_thread(_erase, url, state, customer_id)
    except (RedisError, OSError) as exc:
        state.mark_unavailable(exc)
        raise Unavailable("the erasure could not finish; retry (erasing is idempotent)") from None
    stone = done.pop("tombstone")
    await record_audit(state, who=who, action="customers.erase", target=stone, outcome="ok",
                       detail=done)  # fmt: skip
    return {"erased": True, "tombstone": stone, "removed": done,
            "data_directory": "rewritten by the next `touchpoint ingest`"}  # fmt: skip


def _export(url: str, state: ServingState, customer_id: str) -> dict[str, Any] | None:
    client = sync_client(url)
    try:
        return export_customer(client, state.keys, customer_id)
    finally:
        client.close()


async def export(state: ServingState, customer_id: str) -> dict[str, Any]:
    """Everything Redis holds about the customer; NotFound when it holds nothing."""
    url = _url(state)
    try:
        document = await asyncio.to_thread(_export, url, state, customer_id)
    except (RedisError, OSError) as exc:
        state.mark_unavailable(exc)
        raise Unavailable("customer data is unavailable right now; retry shortly") from None
    if document is None:
        raise NotFound(f"nothing is held about customer {customer_id!r}")
    return document


async def _erasure_key(state: ServingState) -> bytes | None:
    key = configured_key() or _KEYS.get(state)
    if key is None and state.client is not None:
        raw = await state.client.get(state.keys.erasure_key())
        if isinstance(raw, bytes):
            key = _KEYS[state] = raw  # never changes once made: read once
    return key


async def drop_erased(state: ServingState, records: Sequence[Record]) -> tuple[list[Record], int]:
    """The records whose customer is not erased, and how many were dropped."""
    if state.client is None or not records:
        return list(records), 0
    try:
        key = await _erasure_key(state)
        if key is None:
            return list(records), 0  # nobody was ever erased
        distinct = sorted({r.customer_id for r in records})
        found = await state.client.hmget(state.keys.tombstones(),
                                         [id_hash(key, c) for c in distinct])  # fmt: skip
    except (RedisError, OSError) as exc:
        state.mark_unavailable(exc)
        raise Unavailable("records could not be checked; retry with the same ids") from None
    erased = {c for c, hit in zip(distinct, found, strict=True) if hit is not None}
    kept = [r for r in records if r.customer_id not in erased]
    return kept, len(records) - len(kept)
