"""Event and survey intake: the Redis work behind `POST /v1/events` and `POST /v1/feedback`.

Each record is appended once (idempotent by its id) to the stream `touchpoint ingest`
drains. For new events the customer's live recent history is updated (the next request
reflects it), conversions carrying a `recommendation_id` are attributed to what it served,
redemptions count against offer budgets, and A/B experiments count their conversions; for
new survey answers the newest per customer and survey is kept for the profile, and an
unhappy one (by its score, or its comment by the published sentiment model) opens (or
joins) a follow-up case (`api.services.cases`) in the same pipeline.
Two round trips each: the idempotent append (one script), then one pipeline for what was new.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from redis.exceptions import RedisError

from api.problems import Unavailable
from api.services.cases import append_planning_cases, queue_follow_up
from api.services.experiment_serving import record_conversions
from api.state import ServingState
from store import events as stream
from store.attribution import attribute
from store.counters import record_redemptions
from store.feedback import record_latest
from store.live_feedback import count_answer
from store.recent import RecentEvent, append_events


class IncomingEvent(Protocol):
    """One validated event (`api.routes.events.EventIn`)."""

    event_id: str
    customer_id: str
    item_id: str
    type: str
    channel: str
    timestamp: datetime
    value: float
    recommendation_id: str

    def fields(self) -> dict[str, Any]: ...


class IncomingAnswer(Protocol):
    """One validated survey response (`api.routes.feedback.FeedbackIn`)."""

    response_id: str

    def fields(self) -> dict[str, Any]: ...


async def record_events(state: ServingState, events: Sequence[IncomingEvent]) -> list[bool]:
    """Append, then update recent history and attribution for the new events; whether each
    event was new."""
    if state.client is None:
        raise Unavailable("Redis is not connected")
    records = [stream.Record(e.event_id, e.fields()) for e in events]
    try:
        fresh = await stream.append(state.client, state.keys, stream.EVENTS, records)
        by_customer: dict[str, list[RecentEvent]] = defaultdict(list)
        pipe = state.client.pipeline(transaction=False)
        for event, record, new in zip(events, records, fresh, strict=True):
            if not new:
                continue
            by_customer[event.customer_id].append(
                RecentEvent(
                    event.item_id, event.type, int(event.timestamp.timestamp()), event.channel
                )
            )
            attribute(pipe, record.fields, keys=state.keys, ttl=state.settings.attribution_seconds)
            if event.type == "redeem":  # offer budgets (new events only: retries never count)
                record_redemptions(pipe, state.keys, [event.item_id])
        for customer_id, recent in by_customer.items():
            append_events(pipe, state.keys, customer_id, recent)
        if by_customer:
            await pipe.execute()
    except (RedisError, OSError) as exc:
        state.mark_unavailable(exc)
        raise Unavailable("events could not be recorded; retry with the same event ids") from None
    # A/B experiments: new conversions count for the experiments that served them (never fails)
    await record_conversions(state, [e for e, new in zip(events, fresh, strict=True) if new])
    return fresh


async def record_feedback(state: ServingState, responses: Sequence[IncomingAnswer]) -> list[bool]:
    """Append, then keep the newest answer per customer and survey; whether each was new."""
    if state.client is None:
        raise Unavailable("Redis is not connected")
    records = [stream.Record(r.response_id, r.fields()) for r in responses]
    try:
        # follow-up cases: their customers' value is read beside the append, not after it
        fresh, planned = await append_planning_cases(
            state, stream.append(state.client, state.keys, stream.FEEDBACK, records),
            [r.fields for r in records],
        )  # fmt: skip
        if any(fresh):
            pipe = state.client.pipeline(transaction=False)
            for record, new in zip(records, fresh, strict=True):
                if new:
                    record_latest(pipe, state.keys, record.fields)
                    count_answer(pipe, state.keys, record.fields)  # the live journey view
            new_ids = {r.id for r, new in zip(records, fresh, strict=True) if new}
            queue_follow_up(pipe, state, [p for p in planned if p["response_id"] in new_ids])
            await pipe.execute()
    except (RedisError, OSError) as exc:
        state.mark_unavailable(exc)
        raise Unavailable("feedback could not be recorded; retry with the same ids") from None
    return fresh
