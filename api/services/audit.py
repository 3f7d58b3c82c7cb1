"""Recording to the audit trail from the API (`store.audit`), and reading it back.

`record_audit` is the one function every part of the API calls after a state-changing call
(experiments, rules reloads; case changes and dashboard actions from their own modules):

    await record_audit(state, who=actor(request), action="experiments.put",
                       target=key, outcome="ok", detail={"status": "running"})

It never raises for Redis trouble: the change it records has already happened (or failed on
its own), so a lost entry is logged as an error instead of turning a done change into a 5xx.
`schedule_audit` does the same from synchronous code running on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from redis.exceptions import RedisError

from api.state import ServingState
from store.audit import append_async, audit_entry, read_async

log = logging.getLogger("touchpoint.api")
_TASKS: set[asyncio.Task[Any]] = set()  # scheduled records, held until done


async def record_audit(
    state: ServingState, *, who: str, action: str, target: str, outcome: str,
    detail: Mapping[str, Any] | str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Append one entry (`store.audit.audit_entry`'s fields) and return it; a Redis failure
    is logged, not raised."""
    entry = audit_entry(who=who, action=action, target=target, outcome=outcome, detail=detail)
    try:
        if state.client is None:
            raise RedisError("not connected")
        await append_async(state.client, state.keys, entry)
    except (RedisError, OSError) as exc:
        log.error("audit entry not recorded (%s %s by %s): %s", action, target, who, exc)
    return entry


def schedule_audit(state: ServingState, **fields: Any) -> None:
    """`record_audit` from synchronous code on the event loop (no loop: logged only)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        log.info("audit (no event loop): %s", fields)
        return
    task = loop.create_task(record_audit(state, **fields))
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


async def entries(
    state: ServingState, *, since: datetime | None, after: str | None, limit: int
) -> list[dict[str, Any]]:
    """The trail from `since` (or after the entry id `after`), oldest first."""
    if state.client is None:
        raise RedisError("not connected")
    return await read_async(state.client, state.keys, since=since, after=after, limit=limit)
