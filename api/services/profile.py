"""One customer's profile: the batch's facts, the latest survey answers (per survey and per
touchpoint), open follow-up cases and recent activity.

The Redis read behind `GET /v1/customers/{customer_id}/profile` (one round trip on the hot
connection), shaped as the route answers it.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError

from api.problems import Unavailable
from api.services.hot import connection
from api.state import ServingState
from store.profile import read_context

RECENT_DAYS = 30
SHOWN = 5


async def read_profile(state: ServingState, customer_id: str) -> dict[str, Any]:
    """Tier, points, segments from the batch; latest NPS/CSAT/CES and recent activity live.
    An unknown customer gets an empty profile (`known: false`)."""
    shared = state.shared
    conn = connection(state)
    if shared is None or conn is None:
        raise Unavailable("no serving version has been published yet")
    try:
        ctx = await read_context(
            conn, state.keys, shared.version, customer_id,
            with_feedback=True, with_cases=True, with_touchpoints=True,
        )  # fmt: skip
    except (RedisError, OSError) as exc:
        state.mark_unavailable(exc)
        raise Unavailable("customer data is unavailable right now; retry shortly") from exc
    published = ctx.profile or {}
    # the batch's latest score per survey, overridden by answers posted since (live)
    feedback = {**(published.get("feedback") or {})}
    feedback.update({survey: answer.get("score") for survey, answer in ctx.feedback.items()})
    since = time.time() - RECENT_DAYS * 86400
    recent = [e for e in ctx.recent if e.timestamp >= since]
    titles = {}
    for event in recent[:SHOWN]:
        index = shared.index_of.get(event.item_id)
        titles[event.item_id] = shared.items[index].get("title") if index is not None else None
    body = {
        "customer_id": customer_id,
        "known": ctx.known,
        "model_version": shared.version,
        "loyalty_tier": published.get("loyalty_tier", "none"),
        "points_balance": published.get("points_balance", 0),
        "segments": {
            "rfm": published.get("rfm_segment"),
            "lifecycle": published.get("lifecycle_stage"),
            "nps_group": published.get("nps_group"),
            "rules": published.get("segments", []),
        },
        "latest_nps": feedback.get("nps"),
        "latest_feedback": feedback,
        "live_feedback": ctx.feedback,
        "consent": {**published.get("consent", {}), **ctx.consent},  # the live value wins
        "rfm": {k: published.get(k) for k in ("recency_days", "frequency", "monetary")},
        "recent_activity": {
            "days": RECENT_DAYS,
            "events": len(recent),
            "by_type": dict(Counter(e.type for e in recent)),
            "by_channel": dict(Counter(e.channel for e in recent)),
            "last_event_at": (
                datetime.fromtimestamp(recent[0].timestamp, UTC).isoformat() if recent else None
            ),
            "latest": [
                {
                    "item_id": e.item_id,
                    "title": titles.get(e.item_id),
                    "type": e.type,
                    "channel": e.channel,
                    "at": datetime.fromtimestamp(e.timestamp, UTC).isoformat(),
                }
                for e in recent[:SHOWN]
            ],
        },
        "history_items": len(ctx.history[0]),
        "open_cases": [
            {"touchpoint": touchpoint, "case_id": case_id}
            for touchpoint, case_id in sorted(ctx.open_cases.items())
        ],
        "feedback_by_touchpoint": ctx.touchpoint_feedback,
    }
    return body
