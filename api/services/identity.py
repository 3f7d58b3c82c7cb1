"""Identity merge, `POST /v1/identities/merge`: a visitor who logs in becomes the customer.

The visitor's recent events, impression counts (in every frequency-cap window the rules
count) and A/B assignment move to the customer (`store.identity` says what moves and the
assignment rule), so the customer's next answer folds in the visitor's clicks; the merge is
streamed to the data directory so the batch reads both ids as one person from then on, and
recorded in the audit trail. Read-then-write, each step in one slot (so it runs on Redis
Cluster too) and idempotent: the same call again answers the same result and moves nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError

from api.problems import Invalid, Unavailable
from api.services.audit import record_audit
from api.services.hot import connection
from api.state import ServingState
from contracts.errors import Conflict
from recsys.business_rules import RuleBook, all_windows
from store import identity
from store.experiment_store import ExperimentKeys
from store.profile import read_context


class AlreadyMerged(Conflict):
    """The visitor id was merged into another customer before."""


async def merge(
    state: ServingState, book: RuleBook, *, anonymous_id: str, customer_id: str, who: str
) -> dict[str, Any]:
    """Merge `anonymous_id` into `customer_id` (see the module); the merge's result."""
    if anonymous_id == customer_id:
        raise Invalid("anonymous_id and customer_id are the same id", pointer="#/anonymous_id")
    client, conn = state.client, connection(state)
    if client is None or conn is None:
        raise Unavailable("Redis is not connected")
    target = customer_id  # the person (an erasure finds the entry); the visitor is in `detail`
    try:
        named = await identity.claim(client, state.keys, anonymous_id, customer_id)
        if named != customer_id:
            refused = {"anonymous_id": anonymous_id, "merged_into": named}
            await record_audit(state, who=who, action="identities.merge", target=target,
                               outcome="refused", detail=refused)  # fmt: skip
            raise AlreadyMerged(f"{anonymous_id} was merged into another customer before")
        done = await identity.applied(client, state.keys, anonymous_id, customer_id)
        if done is None:
            done = await _move(state, book, anonymous_id, customer_id)
            await record_audit(state, who=who, action="identities.merge", target=target,
                               outcome="ok", detail=done)  # fmt: skip
        await identity.announce(client, state.keys, done)  # again on a retry: kept once
    except (RedisError, OSError) as exc:
        raise Unavailable("the merge cannot be done right now; retry (it is safe)") from exc
    return done


async def _move(
    state: ServingState, book: RuleBook, anonymous_id: str, customer_id: str
) -> dict[str, Any]:
    assert state.client is not None
    conn = connection(state)
    assert conn is not None
    now = datetime.now(UTC)
    version = state.shared.version if state.shared is not None else "none"
    visitor = await read_context(conn, state.keys, version, anonymous_id,
                                 windows=all_windows(book), now=now.timestamp())  # fmt: skip
    exposed = bool(await state.client.exists(ExperimentKeys(state.keys).last(anonymous_id)))
    windows = list(visitor.windows.values())
    result = {
        "merge_id": identity.merge_id(anonymous_id, customer_id),
        "anonymous_id": anonymous_id,
        "customer_id": customer_id,
        "merged_at": now.isoformat(timespec="milliseconds"),
        "events_moved": len(visitor.recent),
        "impressions_moved": sum(sum(w.items.values()) for w in windows),
        "visitor_exposed": exposed,
    }
    return await identity.apply_merge(
        state.client, state.keys, anonymous_id=anonymous_id, customer_id=customer_id,
        result=result, events=visitor.recent, windows=windows, visitor_exposed=exposed,
        now=now.timestamp(),
    )  # fmt: skip


async def assignment_unit(state: ServingState, customer_id: str) -> str | None:
    """The visitor id the customer's A/B variants follow after a merge, if one does."""
    if state.client is None:
        raise Unavailable("Redis is not connected")
    try:
        unit = await state.client.get(state.keys.assignment_unit(customer_id))
    except (RedisError, OSError) as exc:
        raise Unavailable("the assignment cannot be read right now; retry shortly") from exc
    return unit.decode() if isinstance(unit, bytes) else unit
